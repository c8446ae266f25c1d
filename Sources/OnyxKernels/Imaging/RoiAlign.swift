import OnyxCore

/// RoiAlign (opsets 10, 16, 22): pools each region of interest of X [N, C, H, W] into an
/// [output_height, output_width] grid by averaging (or taking the maximum of) bilinear samples.
/// Opset 10 has no coordinate_transformation_mode and behaves as "output_half_pixel".
/// Follows onnx/reference/ops/op_roi_align.py, including its max mode (the maximum of weighted corner values).
struct RoiAlignKernel: Kernel {
    fileprivate let usesMax: Bool
    fileprivate let outputHeight: Int
    fileprivate let outputWidth: Int
    fileprivate let samplingRatio: Int
    fileprivate let spatialScale: Double
    fileprivate let halfPixel: Bool

    init(_ node: KernelNode) throws {
        let mode = try node.string("mode", default: "avg")
        guard mode == "avg" || mode == "max" else {
            throw KernelError.invalidAttribute("mode", "expected avg or max, got '\(mode)'")
        }
        usesMax = mode == "max"
        outputHeight = try node.int("output_height", default: 1)
        outputWidth = try node.int("output_width", default: 1)
        samplingRatio = try node.int("sampling_ratio", default: 0)
        spatialScale = Double(try node.float("spatial_scale", default: 1))
        guard outputHeight > 0, outputWidth > 0, samplingRatio >= 0 else {
            throw KernelError.invalidAttribute(
                "output_height", "output sizes must be positive and sampling_ratio nonnegative")
        }
        let coordinates =
            node.opsetVersion < 16
            ? "output_half_pixel" : try node.string("coordinate_transformation_mode", default: "half_pixel")
        guard coordinates == "half_pixel" || coordinates == "output_half_pixel" else {
            throw KernelError.invalidAttribute(
                "coordinate_transformation_mode", "expected half_pixel or output_half_pixel, got '\(coordinates)'")
        }
        halfPixel = coordinates == "half_pixel"
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let roisTensor = try inputs.tensor(1)
        let indicesTensor = try inputs.tensor(2)
        try requireFloatTypes(input.dataType, roisTensor.dataType)
        guard input.rank == 4, roisTensor.rank == 2, roisTensor.shape[1] == 4,
            indicesTensor.shape == [roisTensor.shape[0]], let batchIndices = indicesTensor.intValues()
        else {
            throw KernelError.invalidInput(
                "expected X [N, C, H, W], rois [R, 4] and integer batch_indices [R], got \(input.shape), "
                    + "\(roisTensor.shape) and \(indicesTensor.dataType) \(indicesTensor.shape)")
        }
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        if let bad = batchIndices.first(where: { !(0..<batch).contains($0) }) {
            throw KernelError.invalidInput("batch index \(bad) is outside the batch of \(batch)")
        }
        let values = try input.computeValues(Double.self)
        let rois = try roisTensor.computeValues(Double.self)
        let binCount = outputHeight * outputWidth
        var output = [Double](repeating: 0, count: batchIndices.count * channels * binCount)
        for (roi, batchIndex) in batchIndices.enumerated() {
            let samples = try RoiSamples(
                roi: Array(rois[roi * 4..<roi * 4 + 4]), kernel: self, height: height, width: width)
            // Each bin averages (or maximises) its samples' four weighted corners.
            let cornersPerBin = 4 * samples.perBin
            for c in 0..<channels {
                let image = (batchIndex * channels + c) * height * width
                for bin in 0..<binCount {
                    var pooled = usesMax ? -Double.infinity : 0
                    for corner in bin * cornersPerBin..<(bin + 1) * cornersPerBin {
                        let weighted = samples.weights[corner] * values[image + samples.offsets[corner]]
                        pooled = usesMax ? Swift.max(pooled, weighted) : pooled + weighted
                    }
                    if !usesMax { pooled /= Double(samples.perBin) }
                    output[(roi * channels + c) * binCount + bin] = samples.perBin == 0 ? 0 : pooled
                }
            }
        }
        let shape = [batchIndices.count, channels, outputHeight, outputWidth]
        return [.tensor(Tensor.fromCompute(output, dataType: input.dataType, shape: shape))]
    }
}

/// The bilinear samples of every bin of one region: `perBin` consecutive samples per bin, each stored as its four
/// corners (flat offset into the image plane, weight). Samples beyond the border have zero weights.
private struct RoiSamples {
    private(set) var offsets: [Int] = []
    private(set) var weights: [Double] = []
    let perBin: Int

    init(roi: [Double], kernel: RoiAlignKernel, height: Int, width: Int) throws {
        let shift = kernel.halfPixel ? 0.5 : 0
        let (startW, startH) = (roi[0] * kernel.spatialScale - shift, roi[1] * kernel.spatialScale - shift)
        var roiWidth = roi[2] * kernel.spatialScale - shift - startW
        var roiHeight = roi[3] * kernel.spatialScale - shift - startH
        guard roiWidth.isFinite, roiHeight.isFinite, startW.isFinite, startH.isFinite else {
            throw KernelError.invalidInput("region of interest \(roi) is not finite")
        }
        if !kernel.halfPixel {
            roiWidth = Swift.max(roiWidth, 1)
            roiHeight = Swift.max(roiHeight, 1)
        }
        let (outputHeight, outputWidth) = (kernel.outputHeight, kernel.outputWidth)
        let (binHeight, binWidth) = (roiHeight / Double(outputHeight), roiWidth / Double(outputWidth))
        let gridHeight = kernel.samplingRatio > 0 ? kernel.samplingRatio : clampedIndex(binHeight.rounded(.up))
        let gridWidth = kernel.samplingRatio > 0 ? kernel.samplingRatio : clampedIndex(binWidth.rounded(.up))
        guard let perBin = checkedElementCount([gridHeight, gridWidth]), perBin <= 1 << 20 else {
            throw KernelError.invalidInput("region of interest \(roi) needs too many samples per bin")
        }
        self.perBin = perBin
        offsets.reserveCapacity(4 * outputHeight * outputWidth * perBin)
        weights.reserveCapacity(4 * outputHeight * outputWidth * perBin)
        for ph in 0..<outputHeight {
            for pw in 0..<outputWidth {
                for iy in 0..<gridHeight {
                    let y = startH + Double(ph) * binHeight + (Double(iy) + 0.5) * binHeight / Double(gridHeight)
                    for ix in 0..<gridWidth {
                        let x = startW + Double(pw) * binWidth + (Double(ix) + 0.5) * binWidth / Double(gridWidth)
                        appendCorners(y: y, x: x, height: height, width: width)
                    }
                }
            }
        }
    }

    /// Appends the four bilinear corners of (y, x), clamped to the image.
    private mutating func appendCorners(y: Double, x: Double, height: Int, width: Int) {
        guard height > 0, width > 0, y >= -1, y <= Double(height), x >= -1, x <= Double(width) else {
            offsets += [0, 0, 0, 0]
            weights += [0, 0, 0, 0]
            return
        }
        var (y, x) = (Swift.max(y, 0), Swift.max(x, 0))
        var (yLow, xLow) = (Int(y), Int(x))
        let yHigh: Int
        let xHigh: Int
        if yLow >= height - 1 {
            (yLow, yHigh, y) = (height - 1, height - 1, Double(height - 1))
        } else {
            yHigh = yLow + 1
        }
        if xLow >= width - 1 {
            (xLow, xHigh, x) = (width - 1, width - 1, Double(width - 1))
        } else {
            xHigh = xLow + 1
        }
        let (ly, lx) = (y - Double(yLow), x - Double(xLow))
        offsets += [yLow * width + xLow, yLow * width + xHigh, yHigh * width + xLow, yHigh * width + xHigh]
        weights += [(1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx]
    }
}
