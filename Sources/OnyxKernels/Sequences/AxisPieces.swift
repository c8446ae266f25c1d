import OnyxCore

/// Cutting tensors of any element type into consecutive pieces along one axis, and joining pieces back.
///
/// The sequence kernels (SplitToSequence, ConcatFromSequence) and the control-flow kernels (Scan's per-iteration
/// slices, Loop's and Scan's stacked outputs) all move data this way. Elements are copied bytewise in runs, so
/// every type but `string` takes one path; strings are copied as Swift values.
enum AxisPieces {
    /// `axis` counted from the front: negative values count from the back. Throws unless it lies in
    /// `-rank..<rank` (`name` says which attribute, for the message).
    static func normalized(_ axis: Int, rank: Int, name: String = "axis") throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw KernelError.invalidAttribute(name, "\(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Splits `tensor` along `axis` into consecutive pieces of the given `lengths`, which must sum to the axis
    /// extent. Each piece keeps the axis (with its own length).
    static func split(_ tensor: Tensor, axis: Int, lengths: [Int]) throws -> [Tensor] {
        guard axis >= 0, axis < tensor.rank else {
            throw KernelError.invalidInput("axis \(axis) is out of range for rank \(tensor.rank)")
        }
        let extent = tensor.shape[axis]
        guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == extent else {
            throw KernelError.invalidInput("split lengths \(lengths) must be non-negative and sum to \(extent)")
        }
        let outer = tensor.shape[..<axis].reduce(1, *)
        let inner = tensor.shape[(axis + 1)...].reduce(1, *)
        var start = 0
        return lengths.map { length in
            var shape = tensor.shape
            shape[axis] = length
            let runs = (0..<outer).map { index in
                Run(
                    source: 0, sourceOffset: (index * extent + start) * inner,
                    destinationOffset: index * length * inner, count: length * inner)
            }
            start += length
            return gather(from: [tensor], dataType: tensor.dataType, shape: shape, runs: runs)
        }
    }

    /// Joins `tensors` along the existing `axis`. All must have the same element type and rank, and the same
    /// extent on every other axis.
    static func concatenate(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        guard let first = tensors.first else {
            throw KernelError.invalidInput("cannot concatenate an empty list of tensors")
        }
        guard axis >= 0, axis < first.rank else {
            throw KernelError.invalidInput("axis \(axis) is out of range for rank \(first.rank)")
        }
        var total = 0
        for tensor in tensors {
            guard tensor.dataType == first.dataType else {
                throw KernelError.invalidInput("cannot join \(tensor.dataType) with \(first.dataType) tensors")
            }
            guard tensor.rank == first.rank,
                tensor.shape.indices.allSatisfy({ $0 == axis || tensor.shape[$0] == first.shape[$0] })
            else {
                throw KernelError.invalidInput(
                    "cannot join shape \(tensor.shape) with \(first.shape) along axis \(axis)")
            }
            total += tensor.shape[axis]
        }
        var shape = first.shape
        shape[axis] = total
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        var runs: [Run] = []
        runs.reserveCapacity(outer * tensors.count)
        var destination = 0
        for index in 0..<outer {
            for (source, tensor) in tensors.enumerated() {
                let count = tensor.shape[axis] * inner
                runs.append(
                    Run(source: source, sourceOffset: index * count, destinationOffset: destination, count: count))
                destination += count
            }
        }
        return gather(from: tensors, dataType: first.dataType, shape: shape, runs: runs)
    }

    /// Stacks tensors of one shape along a new axis inserted at `axis` (in `0...rank`).
    static func stack(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        guard let first = tensors.first else {
            throw KernelError.invalidInput("cannot stack an empty list of tensors")
        }
        guard axis >= 0, axis <= first.rank else {
            throw KernelError.invalidInput("stack axis \(axis) is out of range for rank \(first.rank)")
        }
        var expanded = [Tensor]()
        expanded.reserveCapacity(tensors.count)
        for tensor in tensors {
            guard tensor.shape == first.shape else {
                throw KernelError.invalidInput("cannot stack shape \(tensor.shape) with \(first.shape)")
            }
            var shape = tensor.shape
            shape.insert(1, at: axis)
            expanded.append(tensor.reshaped(shape))
        }
        return try concatenate(expanded, axis: axis)
    }

    /// The slices of `tensor` at each index along `axis`, with that axis removed.
    static func slices(of tensor: Tensor, axis: Int) throws -> [Tensor] {
        guard axis >= 0, axis < tensor.rank else {
            throw KernelError.invalidInput("axis \(axis) is out of range for rank \(tensor.rank)")
        }
        var sliceShape = tensor.shape
        sliceShape.remove(at: axis)
        return try split(tensor, axis: axis, lengths: Array(repeating: 1, count: tensor.shape[axis]))
            .map { $0.reshaped(sliceShape) }
    }

    /// One copy of `count` consecutive elements from source tensor `source` into the output.
    private struct Run {
        let source: Int
        let sourceOffset: Int
        let destinationOffset: Int
        let count: Int
    }

    /// Builds a tensor of `shape` from `runs`, which must cover every output element exactly once.
    private static func gather(from sources: [Tensor], dataType: DataType, shape: [Int], runs: [Run]) -> Tensor {
        if dataType == .string {
            let arrays = sources.map { $0.elements(as: String.self) }
            var output = [String](repeating: "", count: shape.reduce(1, *))
            for run in runs where run.count > 0 {
                output[run.destinationOffset..<run.destinationOffset + run.count] =
                    arrays[run.source][run.sourceOffset..<run.sourceOffset + run.count]
            }
            return Tensor(shape: shape, elements: output)
        }
        let size = dataType.storageSize
        return Tensor.uninitialized(dataType, shape: shape) { destination in
            for run in runs where run.count > 0 {
                let bytes = run.count * size
                sources[run.source].withUnsafeRawBytes { source in
                    let from = UnsafeRawBufferPointer(rebasing: source[(run.sourceOffset * size)...].prefix(bytes))
                    UnsafeMutableRawBufferPointer(
                        rebasing: destination[(run.destinationOffset * size)...].prefix(bytes)
                    )
                    .copyMemory(from: from)
                }
            }
        }
    }
}
