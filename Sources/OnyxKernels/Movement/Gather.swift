import OnyxCore

/// The ops that read elements at positions given by index data: Gather, GatherElements, GatherND, OneHot.
func registerGatherKernels(into registry: inout KernelRegistry) {
    registry.register("Gather", since: 1) { node in GatherKernel(axis: try node.int("axis", default: 0)) }
    registry.register("GatherElements", since: 11) { node in
        GatherElementsKernel(axis: try node.int("axis", default: 0))
    }
    registry.register("GatherND", since: 11) { node in
        GatherNDKernel(batchDims: try node.int("batch_dims", default: 0))
    }
    registry.register("OneHot", since: 9) { node in
        OneHotKernel(axis: try node.int("axis", default: -1), wrapsNegative: false)
    }
    registry.register("OneHot", since: 11) { node in
        OneHotKernel(axis: try node.int("axis", default: -1), wrapsNegative: true)
    }
}

/// Gather: the slices of the data along `axis` at each index.
struct GatherKernel: Kernel {
    let axis: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, indices) = (try inputs.tensor(0), try inputs.tensor(1))
        let axis = try MovementShape.axis(axis, rank: data.rank)
        let resolved = try MovementShape.indices(indices, extent: data.shape[axis])
        return [.tensor(try gatheredTensor(data, axis: axis, indices: resolved, indicesShape: indices.shape))]
    }
}

/// GatherElements: `output[i] = data[i with i[axis] replaced by indices[i]]`; the output has the indices' shape.
struct GatherElementsKernel: Kernel {
    let axis: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, indices) = (try inputs.tensor(0), try inputs.tensor(1))
        let axis = try MovementShape.axis(axis, rank: data.rank)
        let offsets = try elementOffsets(indices, into: data.shape, axis: axis)
        return [.tensor(try takeSlices(of: data, at: offsets, length: 1, shape: indices.shape))]
    }
}

/// GatherND: slices of the data addressed by index tuples along the last indices axis, after `batch_dims`
/// leading axes that data and indices share.
struct GatherNDKernel: Kernel {
    let batchDims: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, indices) = (try inputs.tensor(0), try inputs.tensor(1))
        let offsets = try tupleOffsets(indices, into: data.shape, batchDims: batchDims)
        let tupleLength = indices.shape.last ?? 0
        let sliceShape = Array(data.shape[(batchDims + tupleLength)...])
        let shape = Array(indices.shape.dropLast()) + sliceShape
        return [.tensor(try takeSlices(of: data, at: offsets, length: sliceShape.reduce(1, *), shape: shape))]
    }
}

/// OneHot: `values[1]` where an index hits, `values[0]` elsewhere, along a new axis of extent `depth`.
/// Indices outside the range (`-depth..<depth` from opset 11, `0..<depth` before) hit nothing.
struct OneHotKernel: Kernel {
    let axis: Int
    let wrapsNegative: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (indices, depthTensor, values) = (try inputs.tensor(0), try inputs.tensor(1), try inputs.tensor(2))
        guard depthTensor.count == 1, let depthValue = depthTensor.doubleValues()?.first, depthValue >= 1,
            depthValue <= Double(MovementShape.maxElementCount)
        else {
            throw KernelError.invalidInput("depth must be one positive number, got \(depthTensor)")
        }
        guard values.count == 2 else {
            throw KernelError.invalidInput("values must hold [off, on], got shape \(values.shape)")
        }
        guard let positions = indices.doubleValues() else {
            throw KernelError.invalidInput("indices must be numeric, got \(indices.dataType)")
        }
        let depth = Int(depthValue)
        let axis = try MovementShape.axis(axis, rank: indices.rank + 1)
        var shape = indices.shape
        shape.insert(depth, at: axis)
        _ = try MovementShape.elementCount(shape)
        let inner = indices.shape[axis...].reduce(1, *)
        var hot: [Int] = []
        for (position, value) in positions.enumerated() where value.isFinite && value.magnitude < Double(depth) {
            var index = Int(value)
            if index < 0 {
                guard wrapsNegative else { continue }
                index += depth
            }
            hot.append((position / inner * depth + index) * inner + position % inner)
        }
        return [.tensor(try values.dataType.visitMovable(OneHotWriter(values: values, shape: shape, hot: hot)))]
    }
}

private struct OneHotWriter: MovableVisitor {
    let values: Tensor
    let shape: [Int]
    let hot: [Int]

    func visit<E: MovableElement>(_: E.Type) -> Tensor {
        E.withElements(of: values) { values in
            E.makeTensor(self.values.dataType, shape: shape) { output in
                output.update(repeating: values[0])
                for position in hot { output[position] = values[1] }
            }
        }
    }
}

/// The slices of `data` along `axis` at `indices` (resolved, in range), shaped as the data's shape with the
/// axis replaced by `indicesShape`.
func gatheredTensor(_ data: Tensor, axis: Int, indices: [Int], indicesShape: [Int]) throws -> Tensor {
    let inner = data.shape[(axis + 1)...].reduce(1, *)
    let shape = Array(data.shape[..<axis]) + indicesShape + Array(data.shape[(axis + 1)...])
    return try takeSlices(
        of: data, at: indices.map { $0 * inner }, length: inner, shape: shape,
        repeats: data.shape[..<axis].reduce(1, *), repeatStride: data.shape[axis] * inner)
}

/// A tensor of `shape` made of the runs of `length` elements of `data` that start at each of `offsets`, all
/// `repeats` times, the `r`-th time shifted by `r · repeatStride`.
func takeSlices(
    of data: Tensor, at offsets: [Int], length: Int, shape: [Int], repeats: Int = 1, repeatStride: Int = 0
) throws -> Tensor {
    let reach = (repeats - 1) * repeatStride + length
    precondition(length == 0 || repeats == 0 || offsets.allSatisfy { $0 >= 0 && $0 + reach <= data.count })
    return try data.dataType.visitMovable(
        SliceTaker(
            data: data, offsets: offsets, length: length, shape: shape, repeats: repeats, repeatStride: repeatStride))
}

private struct SliceTaker: MovableVisitor {
    let data: Tensor
    let offsets: [Int]
    let length: Int
    let shape: [Int]
    let repeats: Int
    let repeatStride: Int

    func visit<E: MovableElement>(_: E.Type) -> Tensor {
        E.withElements(of: data) { source in
            E.makeTensor(data.dataType, shape: shape) { output in
                guard let source = source.baseAddress, var next = output.baseAddress, length > 0 else { return }
                for repetition in 0..<repeats {
                    let base = source + repetition * repeatStride
                    if length == 1 {
                        for offset in offsets {
                            next.pointee = base[offset]
                            next += 1
                        }
                    } else {
                        for offset in offsets {
                            next.update(from: base + offset, count: length)
                            next += length
                        }
                    }
                }
            }
        }
    }
}

/// The data offset of each element of a GatherElements/ScatterElements index tensor: its own position with
/// the `axis` coordinate replaced by its (resolved) value. The indices must have the data's rank and no
/// larger extent on any other axis.
func elementOffsets(_ indices: Tensor, into shape: [Int], axis: Int) throws -> [Int] {
    guard indices.rank == shape.count,
        shape.indices.allSatisfy({ $0 == axis || indices.shape[$0] <= shape[$0] })
    else {
        throw KernelError.invalidInput(
            "indices of shape \(indices.shape) do not fit data of shape \(shape) along axis \(axis)")
    }
    let resolved = try MovementShape.indices(indices, extent: shape[axis])
    var strides = RowMajor.strides(shape)
    let axisStride = strides[axis]
    strides[axis] = 0
    return zip(MovementShape.offsets(of: indices.shape, strides: strides), resolved).map { $0 + $1 * axisStride }
}

/// The data offset of each index tuple of a GatherND/ScatterND index tensor (tuples along its last axis,
/// after `batchDims` leading axes shared with the data).
func tupleOffsets(_ indices: Tensor, into shape: [Int], batchDims: Int) throws -> [Int] {
    guard let tupleLength = indices.shape.last, batchDims >= 0, batchDims < min(indices.rank, shape.count),
        tupleLength <= shape.count - batchDims, Array(indices.shape[..<batchDims]) == Array(shape[..<batchDims])
    else {
        throw KernelError.invalidInput(
            "indices of shape \(indices.shape) cannot address data of shape \(shape) with batch_dims \(batchDims)")
    }
    guard indices.dataType == .int64 || indices.dataType == .int32 else {
        throw KernelError.invalidInput("indices must be int32 or int64, got \(indices.dataType)")
    }
    let raw = try MovementShape.ints(indices, name: "indices")
    let strides = RowMajor.strides(shape)
    let batchStride = batchDims == 0 ? 0 : strides[batchDims - 1]
    let tuplesPerBatch = indices.shape[batchDims..<(indices.rank - 1)].reduce(1, *)
    return try (0..<indices.shape.dropLast().reduce(1, *)).map { tuple in
        var offset = tuple / tuplesPerBatch * batchStride
        for coordinate in 0..<tupleLength {
            let axis = batchDims + coordinate
            let index = raw[tuple * tupleLength + coordinate]
            offset += try MovementShape.index(index, extent: shape[axis], name: "indices") * strides[axis]
        }
        return offset
    }
}
