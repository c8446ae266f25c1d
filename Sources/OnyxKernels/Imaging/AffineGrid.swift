import OnyxCore

/// AffineGrid (opset 20): the sampling grid [N, H, W, 2] (or [N, D, H, W, 3]) that theta [N, 2, 3]
/// (or [N, 3, 4]) makes of the normalised base grid of an image of `size` [N, C, H, W] (or [N, C, D, H, W]).
struct AffineGridKernel: Kernel {
    private let alignCorners: Bool

    init(_ node: KernelNode) throws {
        alignCorners = try node.int("align_corners", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let thetaTensor = try inputs.tensor(0)
        let sizeTensor = try inputs.tensor(1)
        try requireFloatTypes(thetaTensor.dataType)
        guard let size = sizeTensor.intValues(), size.count == 4 || size.count == 5 else {
            throw KernelError.invalidInput(
                "size must hold 4 or 5 integers, got \(sizeTensor.dataType) \(sizeTensor.shape)")
        }
        let spatial = Array(size[2...])
        let rank = spatial.count
        guard thetaTensor.shape == [size[0], rank, rank + 1] else {
            throw KernelError.invalidInput(
                "theta must have shape \([size[0], rank, rank + 1]), got \(thetaTensor.shape)")
        }
        guard checkedElementCount([size[0], rank] + spatial) != nil else {
            throw KernelError.invalidInput("size \(size) is negative or too large")
        }
        let theta = try thetaTensor.computeValues(Double.self)
        // Base coordinates along each axis, ordered x (innermost axis) first.
        let axes = spatial.reversed().map { length in (0..<length).map { baseCoordinate($0, length: length) } }
        let points = spatial.reduce(1, *)
        var grid = [Double](repeating: 0, count: size[0] * points * rank)
        var homogeneous = [Double](repeating: 1, count: rank + 1)
        for n in 0..<size[0] {
            for point in 0..<points {
                var rest = point
                for axis in 0..<rank {
                    let length = spatial[rank - 1 - axis]
                    homogeneous[axis] = axes[axis][rest % length]
                    rest /= length
                }
                for row in 0..<rank {
                    var sum = 0.0
                    for column in 0...rank {
                        sum += theta[(n * rank + row) * (rank + 1) + column] * homogeneous[column]
                    }
                    grid[(n * points + point) * rank + row] = sum
                }
            }
        }
        let shape = [size[0]] + spatial + [rank]
        return [.tensor(Tensor.fromCompute(grid, dataType: thetaTensor.dataType, shape: shape))]
    }

    /// The normalised coordinate of pixel `index`: pixel centres (or, with align_corners, edges) span [-1, 1].
    private func baseCoordinate(_ index: Int, length: Int) -> Double {
        if alignCorners {
            return length == 1 ? -1 : -1 + Double(index) * 2 / Double(length - 1)
        }
        let step = 2 / Double(length)
        return -1 + step / 2 + Double(index) * step
    }
}
