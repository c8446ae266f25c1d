import OnyxCore

// Between one tensor and a sequence of its pieces: SplitToSequence and ConcatFromSequence.

/// SplitToSequence: cuts the input along `axis` into pieces of the lengths `split` gives (a scalar: equal
/// chunks with a shorter last one; a 1-D tensor: each length), or into single slices when `split` is absent,
/// dropping the axis unless `keepdims`.
struct SplitToSequenceKernel: Kernel {
    private let axis: Int
    private let keepDimensions: Bool

    init(_ node: KernelNode) throws {
        axis = try node.int("axis", default: 0)
        keepDimensions = try node.int("keepdims", default: 1) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let axis = try AxisPieces.normalized(self.axis, rank: input.rank)
        let extent = input.shape[axis]
        let pieces: [Tensor]
        if let split = try inputs.optionalTensor(1) {
            pieces = try AxisPieces.split(input, axis: axis, lengths: try lengths(split, extent: extent))
        } else if keepDimensions {
            pieces = try AxisPieces.split(input, axis: axis, lengths: Array(repeating: 1, count: extent))
        } else {
            pieces = try AxisPieces.slices(of: input, axis: axis)
        }
        return [.sequence(pieces.map(Value.tensor), elementType: .tensor(input.dataType, shape: nil))]
    }

    private func lengths(_ split: Tensor, extent: Int) throws -> [Int] {
        guard split.dataType == .int64 || split.dataType == .int32, split.rank <= 1, let values = split.intValues()
        else {
            throw KernelError.invalidInput("split must be an int32 or int64 scalar or 1-D tensor, got \(split)")
        }
        guard split.rank == 0 else { return values }
        let chunk = values[0]
        guard chunk > 0 else { throw KernelError.invalidInput("split must be positive, got \(chunk)") }
        let remainder = extent % chunk
        return Array(repeating: chunk, count: extent / chunk) + (remainder > 0 ? [remainder] : [])
    }
}

/// ConcatFromSequence: joins the sequence's tensors along `axis`, or stacks them along a new axis there when
/// `new_axis` is 1.
struct ConcatFromSequenceKernel: Kernel {
    private let axis: Int
    private let newAxis: Bool

    init(_ node: KernelNode) throws {
        guard let axis = try node.int("axis") else {
            throw KernelError.invalidAttribute("axis", "the attribute is required")
        }
        self.axis = axis
        newAxis = try node.int("new_axis", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let tensors = try inputs.sequenceInput(0).elements.enumerated().map { index, value in
            guard let tensor = value.tensor else {
                throw KernelError.invalidInput("sequence element \(index) is not a tensor")
            }
            return tensor
        }
        guard let first = tensors.first else {
            throw KernelError.invalidInput("cannot concatenate an empty sequence")
        }
        if newAxis {
            let axis = try AxisPieces.normalized(self.axis, rank: first.rank + 1)
            return [.tensor(try AxisPieces.stack(tensors, axis: axis))]
        }
        let axis = try AxisPieces.normalized(self.axis, rank: first.rank)
        return [.tensor(try AxisPieces.concatenate(tensors, axis: axis))]
    }
}
