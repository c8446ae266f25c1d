import OnyxCore

/// GridSample (opsets 16, 20, 22): samples X [N, C, d1…dr] at the normalised positions of grid [N, o1…or, r]
/// with nearest, (multi)linear or (multi)cubic interpolation and zeros, border or reflection padding.
/// Opset 16 names the modes bilinear/bicubic and takes 4-D inputs only. Follows onnx/reference/ops/op_grid_sample.py.
struct GridSampleKernel: Kernel {
    private enum Mode {
        case nearest, linear, cubic
    }

    private enum Padding: String {
        case zeros, border, reflection
    }

    private let mode: Mode
    private let padding: Padding
    private let alignCorners: Bool
    private let spatialOnly2D: Bool

    init(_ node: KernelNode) throws {
        spatialOnly2D = node.opsetVersion < 20
        let modeName = try node.string("mode", default: spatialOnly2D ? "bilinear" : "linear")
        switch (modeName, spatialOnly2D) {
        case ("nearest", _): mode = .nearest
        case ("bilinear", true), ("linear", false): mode = .linear
        case ("bicubic", true), ("cubic", false): mode = .cubic
        default: throw KernelError.invalidAttribute("mode", "unknown mode '\(modeName)' for opset \(node.opsetVersion)")
        }
        let paddingName = try node.string("padding_mode", default: "zeros")
        guard let padding = Padding(rawValue: paddingName) else {
            throw KernelError.invalidAttribute(
                "padding_mode", "expected zeros, border or reflection, got '\(paddingName)'")
        }
        self.padding = padding
        alignCorners = try node.int("align_corners", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let grid = try inputs.tensor(1)
        let spatialRank = input.rank - 2
        guard spatialRank >= 1, grid.rank == input.rank, grid.shape[0] == input.shape[0],
            grid.shape.last == spatialRank
        else {
            throw KernelError.invalidInput(
                "X [N, C, d1…dr] and grid [N, o1…or, r] do not match: X \(input.shape), grid \(grid.shape)")
        }
        if spatialOnly2D && spatialRank != 2 {
            throw KernelError.invalidInput("GridSample before opset 20 takes 4-D X, got \(input.shape)")
        }
        let pointCount = grid.shape[1..<(grid.rank - 1)].reduce(1, *)
        if input.shape[2...].contains(0) && pointCount > 0 && input.shape[0] * input.shape[1] > 0 {
            throw KernelError.invalidInput("cannot sample an empty image of shape \(input.shape)")
        }
        guard let values = input.doubleValues() else {
            throw KernelError.invalidInput("GridSample needs a numeric X, got \(input.dataType)")
        }
        // The reference denormalises grid positions in the grid's own precision (float32 unless double).
        let positions: [Double]
        if try computesInDouble(grid.dataType) {
            positions = try denormalised(grid, spatialShape: Array(input.shape[2...]), as: Double.self)
        } else {
            positions = try denormalised(grid, spatialShape: Array(input.shape[2...]), as: Float.self)
        }
        let (batch, channels) = (input.shape[0], input.shape[1])
        let spatialShape = Array(input.shape[2...])
        let imageSize = spatialShape.reduce(1, *)
        var output = [Double](repeating: 0, count: batch * channels * pointCount)
        var taps: [(offset: Int, weight: Double)] = []
        for n in 0..<batch {
            for point in 0..<pointCount {
                let base = (n * pointCount + point) * spatialRank
                taps = sampleTaps(Array(positions[base..<base + spatialRank]), spatialShape: spatialShape)
                for c in 0..<channels {
                    let image = (n * channels + c) * imageSize
                    var sum = 0.0
                    for tap in taps { sum += tap.weight * values[image + tap.offset] }
                    output[(n * channels + c) * pointCount + point] = sum
                }
            }
        }
        let outputShape = [batch, channels] + grid.shape[1..<(grid.rank - 1)]
        return [.tensor(try input.dataType.visitNumeric(SaturatingTensor(values: output, shape: outputShape)))]
    }

    /// Pixel coordinates of every grid position, ordered d1…dr (the grid lists them innermost first).
    private func denormalised<C: ComputeFloat>(_ grid: Tensor, spatialShape: [Int], as _: C.Type) throws -> [Double] {
        let normalised = try grid.computeValues(C.self)
        let rank = spatialShape.count
        var result = [Double](repeating: 0, count: normalised.count)
        for point in 0..<normalised.count / rank {
            for axis in 0..<rank {
                let value = normalised[point * rank + rank - 1 - axis]
                let length = C(spatialShape[axis])
                result[point * rank + axis] = Double(
                    alignCorners ? (value + 1) / 2 * (length - 1) : ((value + 1) * length - 1) / 2)
            }
        }
        return result
    }

    /// The (flat offset, weight) pairs whose weighted sum is the sample at `coordinates`.
    private func sampleTaps(_ coordinates: [Double], spatialShape: [Int]) -> [(offset: Int, weight: Double)] {
        var taps: [(offset: Int, weight: Double)] = [(0, 1)]
        var stride = spatialShape.reduce(1, *)
        for (axis, coordinate) in coordinates.enumerated() {
            let length = spatialShape[axis]
            stride /= length
            let axisTaps = self.axisTaps(coordinate, length: length)
            var combined: [(offset: Int, weight: Double)] = []
            combined.reserveCapacity(taps.count * axisTaps.count)
            for tap in taps {
                for axisTap in axisTaps {
                    combined.append((tap.offset + axisTap.index * stride, tap.weight * axisTap.weight))
                }
            }
            taps = combined
        }
        return taps
    }

    /// The source indices and weights along one axis; zeros padding drops taps outside the image.
    private func axisTaps(_ coordinate: Double, length: Int) -> [(index: Int, weight: Double)] {
        let (low, high) = alignCorners ? (0.0, Double(length - 1)) : (-0.5, Double(length) - 0.5)
        var x = mode == .nearest ? coordinate.rounded(.toNearestOrEven) : coordinate
        if x < low || x > high {
            switch padding {
            case .zeros: break
            case .border: x = Swift.min(Swift.max(x, 0), Double(length - 1))
            case .reflection: x = reflect(x, low: low, high: high)
            }
        }
        let candidates: [(index: Int, weight: Double)]
        switch mode {
        case .nearest:
            candidates = [(clampedIndex(x), 1)]
        case .linear:
            let start = x.rounded(.down)
            let fraction = x - start
            candidates = [(clampedIndex(start), 1 - fraction), (clampedIndex(start) + 1, fraction)]
        case .cubic:
            let start = x.rounded(.down)
            let weights = cubicConvolutionWeights(x - start, a: -0.75)
            candidates = (0..<4).map { (clampedIndex(start) - 1 + $0, weights[$0]) }
        }
        return candidates.compactMap { index, weight in
            if (0..<length).contains(index) { return (index, weight) }
            switch padding {
            case .zeros: return nil
            case .border: return (Swift.min(Swift.max(index, 0), length - 1), weight)
            case .reflection:
                return (
                    Swift.min(Swift.max(clampedIndex(reflect(Double(index), low: low, high: high)), 0), length - 1),
                    weight
                )
            }
        }
    }

    /// Reflects `x` off the borders until it lies within [low, high].
    private func reflect(_ x: Double, low: Double, high: Double) -> Double {
        let range = high - low
        guard range > 0 else { return low }
        if x < low {
            let distance = low - x
            let flips = (distance / range).rounded(.towardZero)
            let rest = distance - flips * range
            return flips.truncatingRemainder(dividingBy: 2) == 0 ? low + rest : high - rest
        }
        if x > high {
            let distance = x - high
            let flips = (distance / range).rounded(.towardZero)
            let rest = distance - flips * range
            return flips.truncatingRemainder(dividingBy: 2) == 0 ? high - rest : low + rest
        }
        return x
    }
}
