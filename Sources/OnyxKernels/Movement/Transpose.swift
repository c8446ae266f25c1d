import OnyxCore

/// Transpose and the ops that are a transposition of a reshaped view: DepthToSpace, SpaceToDepth.
func registerTransposeKernels(into registry: inout KernelRegistry) {
    registry.register("Transpose", since: 1) { node in TransposeKernel(permutation: try node.ints("perm")) }
    registry.register("DepthToSpace", since: 1) { node in try BlockRearrangeKernel(node, direction: .depthToSpace) }
    registry.register("SpaceToDepth", since: 1) { node in try BlockRearrangeKernel(node, direction: .spaceToDepth) }
}

/// Transpose: output axis `i` is input axis `perm[i]` (reversed axes when `perm` is unset).
struct TransposeKernel: Kernel {
    let permutation: [Int]?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let permutation = permutation ?? Array(data.shape.indices.reversed())
        guard permutation.sorted() == Array(data.shape.indices) else {
            throw KernelError.invalidInput(
                "perm \(permutation) is not a permutation of the axes of shape \(data.shape)")
        }
        return [.tensor(try transposedTensor(data, permutation: permutation))]
    }
}

/// DepthToSpace and SpaceToDepth (NCHW): a 6-D view of the input transposed, in DCR or CRD block order.
struct BlockRearrangeKernel: Kernel {
    enum Direction {
        case depthToSpace
        case spaceToDepth
    }
    let direction: Direction
    let blockSize: Int
    /// True for CRD order (column, row, depth), false for DCR (depth, column, row).
    let columnRowDepth: Bool

    init(_ node: KernelNode, direction: Direction) throws {
        guard let blockSize = try node.int("blocksize"), blockSize > 0 else {
            throw KernelError.invalidAttribute("blocksize", "required, and positive")
        }
        let mode = try node.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else {
            throw KernelError.invalidAttribute("mode", "expected DCR or CRD, got \(mode)")
        }
        self.direction = direction
        self.blockSize = blockSize
        self.columnRowDepth = mode == "CRD"
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard data.rank == 4 else {
            throw KernelError.invalidInput("expected a 4-D NCHW input, got shape \(data.shape)")
        }
        let (batch, channels, height, width) = (data.shape[0], data.shape[1], data.shape[2], data.shape[3])
        let block = blockSize
        let (area, overflow) = block.multipliedReportingOverflow(by: block)
        guard !overflow, area <= MovementShape.maxElementCount else {
            throw KernelError.invalidInput("blocksize \(block) is too large")
        }
        let view: [Int]
        let permutation: [Int]
        let shape: [Int]
        switch direction {
        case .depthToSpace:
            guard channels % area == 0 else {
                throw KernelError.invalidInput("channels \(channels) are not a multiple of blocksize² \(area)")
            }
            let depth = channels / area
            if columnRowDepth {
                (view, permutation) = ([batch, depth, block, block, height, width], [0, 1, 4, 2, 5, 3])
            } else {
                (view, permutation) = ([batch, block, block, depth, height, width], [0, 3, 4, 1, 5, 2])
            }
            shape = [batch, depth, height * block, width * block]
        case .spaceToDepth:
            let (depth, overflow) = channels.multipliedReportingOverflow(by: area)
            guard height % block == 0, width % block == 0, !overflow else {
                throw KernelError.invalidInput(
                    "height \(height) and width \(width) must be multiples of blocksize \(block)")
            }
            view = [batch, channels, height / block, block, width / block, block]
            permutation = columnRowDepth ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
            shape = [batch, depth, height / block, width / block]
        }
        return [.tensor(try transposedTensor(data.reshaped(view), permutation: permutation).reshaped(shape))]
    }
}

/// `tensor` with its axes reordered: output axis `i` is axis `permutation[i]` (a valid permutation).
func transposedTensor(_ tensor: Tensor, permutation: [Int]) throws -> Tensor {
    if permutation == Array(tensor.shape.indices) { return tensor }
    let copy = RegionCopy(source: .input(0), region: StridedRegion(transposing: tensor.shape, permutation: permutation))
    return try assembleTensor(
        tensor.dataType, shape: permutation.map { tensor.shape[$0] }, sources: [tensor], copies: [copy])
}
