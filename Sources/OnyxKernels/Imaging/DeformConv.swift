import OnyxCore

/// DeformConv (opsets 19, 22), 2-D: a grouped convolution whose kernel taps sample X bilinearly at positions
/// moved by `offset` [N, offset_group·kH·kW·2, oH, oW] and weighted by the optional `mask`
/// [N, offset_group·kH·kW, oH, oW]; taps outside the image read zero.
struct DeformConvKernel: Kernel {
    private let strides: [Int]
    private let dilations: [Int]
    private let pads: [Int]
    private let group: Int
    private let offsetGroup: Int
    private let kernelShape: [Int]?

    init(_ node: KernelNode) throws {
        strides = try node.ints("strides") ?? [1, 1]
        dilations = try node.ints("dilations") ?? [1, 1]
        pads = try node.ints("pads") ?? [0, 0, 0, 0]
        group = try node.int("group", default: 1)
        offsetGroup = try node.int("offset_group", default: 1)
        kernelShape = try node.ints("kernel_shape")
        guard strides.count == 2, dilations.count == 2, pads.count == 4, strides.allSatisfy({ $0 > 0 }),
            dilations.allSatisfy({ $0 > 0 }), group > 0, offsetGroup > 0
        else {
            throw KernelError.invalidAttribute(
                "strides",
                "only 2-D DeformConv is supported: strides, dilations (2 positive), pads (4), positive groups")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let weight = try inputs.tensor(1)
        let offsetTensor = try inputs.tensor(2)
        let biasTensor = try inputs.optionalTensor(3)
        let maskTensor = try inputs.optionalTensor(4)
        try requireFloatTypes(input.dataType)
        guard input.rank == 4, weight.rank == 4 else {
            throw KernelError.unsupported("DeformConv is implemented for 2-D images only, got X \(input.shape)")
        }
        let (batch, inChannels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
        if let kernelShape, kernelShape != [kernelHeight, kernelWidth] {
            throw KernelError.invalidAttribute("kernel_shape", "is \(kernelShape) but W has \(weight.shape)")
        }
        guard inChannels == weight.shape[1] * group, outChannels % group == 0, inChannels % offsetGroup == 0 else {
            throw KernelError.invalidInput(
                "channels do not fit the groups: X \(input.shape), W \(weight.shape), group \(group), offset_group \(offsetGroup)"
            )
        }
        let heightSpan = height + pads[0] + pads[2] - ((kernelHeight - 1) * dilations[0] + 1)
        let widthSpan = width + pads[1] + pads[3] - ((kernelWidth - 1) * dilations[1] + 1)
        guard heightSpan >= 0, widthSpan >= 0 else {
            throw KernelError.invalidInput(
                "the dilated kernel \(weight.shape) does not fit the padded image \(input.shape)")
        }
        let (outHeight, outWidth) = (heightSpan / strides[0] + 1, widthSpan / strides[1] + 1)
        let taps = kernelHeight * kernelWidth
        guard offsetTensor.shape == [batch, offsetGroup * taps * 2, outHeight, outWidth] else {
            throw KernelError.invalidInput(
                "offset must have shape \([batch, offsetGroup * taps * 2, outHeight, outWidth]), got \(offsetTensor.shape)"
            )
        }
        if let maskTensor, maskTensor.shape != [batch, offsetGroup * taps, outHeight, outWidth] {
            throw KernelError.invalidInput(
                "mask must have shape \([batch, offsetGroup * taps, outHeight, outWidth]), got \(maskTensor.shape)")
        }
        if let biasTensor, biasTensor.shape != [outChannels] {
            throw KernelError.invalidInput("B must have shape [\(outChannels)], got \(biasTensor.shape)")
        }
        let x = try input.computeValues(Double.self)
        let w = try weight.computeValues(Double.self)
        let offsets = try offsetTensor.computeValues(Double.self)
        let mask = try maskTensor?.computeValues(Double.self)
        let bias = try biasTensor?.computeValues(Double.self)

        let (inPerGroup, outPerGroup) = (inChannels / group, outChannels / group)
        let inPerOffsetGroup = inChannels / offsetGroup
        let outPoints = outHeight * outWidth
        var output = [Double](repeating: 0, count: batch * outChannels * outPoints)
        for n in 0..<batch {
            for oc in 0..<outChannels {
                for point in 0..<outPoints { output[(n * outChannels + oc) * outPoints + point] = bias?[oc] ?? 0 }
            }
            for og in 0..<offsetGroup {
                for tap in 0..<taps {
                    let (kh, kw) = (tap / kernelWidth, tap % kernelWidth)
                    for point in 0..<outPoints {
                        let (i, j) = (point / outWidth, point % outWidth)
                        let offsetBase = ((n * offsetGroup + og) * taps + tap) * 2
                        let y =
                            Double(i * strides[0] - pads[0] + kh * dilations[0])
                            + offsets[offsetBase * outPoints + point]
                        let xPosition =
                            Double(j * strides[1] - pads[1] + kw * dilations[1])
                            + offsets[(offsetBase + 1) * outPoints + point]
                        let scale = mask?[((n * offsetGroup + og) * taps + tap) * outPoints + point] ?? 1
                        let corners = bilinearCorners(y: y, x: xPosition, height: height, width: width)
                        for ic in og * inPerOffsetGroup..<(og + 1) * inPerOffsetGroup {
                            let plane = (n * inChannels + ic) * height * width
                            var sample = 0.0
                            for (offset, weight) in corners { sample += weight * x[plane + offset] }
                            sample *= scale
                            let g = ic / inPerGroup
                            for oc in g * outPerGroup..<(g + 1) * outPerGroup {
                                let kernel =
                                    ((oc * inPerGroup + ic % inPerGroup) * kernelHeight + kh) * kernelWidth + kw
                                output[(n * outChannels + oc) * outPoints + point] += w[kernel] * sample
                            }
                        }
                    }
                }
            }
        }
        let shape = [batch, outChannels, outHeight, outWidth]
        return [.tensor(Tensor.fromCompute(output, dataType: input.dataType, shape: shape))]
    }

    /// The in-image corners of bilinear sampling at (y, x) as (flat offset, weight); outside corners are dropped.
    private func bilinearCorners(y: Double, x: Double, height: Int, width: Int) -> [(Int, Double)] {
        let (top, left) = (y.rounded(.down), x.rounded(.down))
        let (dy, dx) = (y - top, x - left)
        let (row, column) = (clampedIndex(top), clampedIndex(left))
        var corners: [(Int, Double)] = []
        for (r, wy) in [(row, 1 - dy), (row + 1, dy)] where (0..<height).contains(r) {
            for (c, wx) in [(column, 1 - dx), (column + 1, dx)] where (0..<width).contains(c) {
                corners.append((r * width + c, wy * wx))
            }
        }
        return corners
    }
}
