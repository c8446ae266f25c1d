import OnyxCore

/// The ops that write updates into a copy of the data at positions given by index data: ScatterElements
/// (and its deprecated alias Scatter), ScatterND and TensorScatter.
func registerScatterKernels(into registry: inout KernelRegistry) {
    registry.register("Scatter", since: 9) { node in
        ScatterElementsKernel(axis: try node.int("axis", default: 0), reduction: .none)
    }
    registry.register("ScatterElements", since: 11) { node in
        ScatterElementsKernel(axis: try node.int("axis", default: 0), reduction: try ScatterReduction(node))
    }
    registry.register("ScatterND", since: 11) { node in ScatterNDKernel(reduction: try ScatterReduction(node)) }
    registry.register("TensorScatter", since: 24) { node in
        let mode = try node.string("mode", default: "linear")
        guard mode == "linear" || mode == "circular" else {
            throw KernelError.invalidAttribute("mode", "expected linear or circular, got \(mode)")
        }
        return TensorScatterKernel(axis: try node.int("axis", default: -2), circular: mode == "circular")
    }
}

/// How an update combines with the element it lands on (`none`: it replaces it).
enum ScatterReduction: String {
    case none, add, mul, max, min

    /// The node's `reduction` attribute.
    init(_ node: KernelNode) throws {
        let name = try node.string("reduction", default: "none")
        guard let reduction = ScatterReduction(rawValue: name) else {
            throw KernelError.invalidAttribute("reduction", "expected none, add, mul, max or min, got \(name)")
        }
        self = reduction
    }
}

/// ScatterElements: `output[i with i[axis] replaced by indices[i]] = updates[i]`, combined per `reduction`.
struct ScatterElementsKernel: Kernel {
    let axis: Int
    let reduction: ScatterReduction

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, indices, updates) = (try inputs.tensor(0), try inputs.tensor(1), try inputs.tensor(2))
        guard updates.shape == indices.shape else {
            throw KernelError.invalidInput(
                "updates of shape \(updates.shape) do not match indices of shape \(indices.shape)")
        }
        let axis = try MovementShape.axis(axis, rank: data.rank)
        let offsets = try elementOffsets(indices, into: data.shape, axis: axis)
        return [.tensor(try scatteredTensor(data, updates: updates, at: offsets, length: 1, reduction: reduction))]
    }
}

/// ScatterND: the slice of the data addressed by each index tuple replaced by (or combined with) an update slice.
struct ScatterNDKernel: Kernel {
    let reduction: ScatterReduction

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, indices, updates) = (try inputs.tensor(0), try inputs.tensor(1), try inputs.tensor(2))
        let offsets = try tupleOffsets(indices, into: data.shape, batchDims: 0)
        let sliceShape = Array(data.shape[(indices.shape.last ?? 0)...])
        guard updates.shape == Array(indices.shape.dropLast()) + sliceShape else {
            throw KernelError.invalidInput(
                "updates of shape \(updates.shape) do not match indices \(indices.shape) into data \(data.shape)")
        }
        let length = sliceShape.reduce(1, *)
        return [.tensor(try scatteredTensor(data, updates: updates, at: offsets, length: length, reduction: reduction))]
    }
}

/// TensorScatter (a KV-cache update): the update written into a copy of the cache along `axis`, each batch
/// entry from its `write_indices` position (0 by default), wrapping around in circular mode.
struct TensorScatterKernel: Kernel {
    let axis: Int
    let circular: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (cache, update) = (try inputs.tensor(0), try inputs.tensor(1))
        let axis = try MovementShape.axis(axis, rank: cache.rank)
        let fits =
            update.rank == cache.rank
            && cache.shape.indices.allSatisfy { i in
                i == axis ? update.shape[i] <= cache.shape[i] : update.shape[i] == cache.shape[i]
            }
        guard axis > 0, fits else {
            throw KernelError.invalidInput(
                "update of shape \(update.shape) does not fit cache \(cache.shape) along axis \(axis)")
        }
        let batch = cache.shape[0]
        let given = try inputs.optionalTensor(2).map { try MovementShape.ints($0, name: "write_indices") }
        let writes = given ?? Array(repeating: 0, count: batch)
        guard writes.count == batch else {
            throw KernelError.invalidInput("write_indices has \(writes.count) entries for a batch of \(batch)")
        }
        let (capacity, length) = (cache.shape[axis], update.shape[axis])
        let origin = [Int](repeating: 0, count: cache.rank)
        var copies = [RegionCopy(source: .input(0), region: StridedRegion(whole: cache.shape))]
        for (entry, write) in writes.enumerated() where length > 0 {
            let start = circular ? (write % capacity + capacity) % capacity : write
            guard circular || (0...(capacity - length)).contains(write) else {
                throw KernelError.invalidInput(
                    "write index \(write) leaves no room for \(length) steps in a cache of \(capacity)")
            }
            // In circular mode the part past the end wraps to the start.
            let head = min(length, capacity - start)
            for (from, to, count) in [(0, start, head), (head, 0, length - head)] where count > 0 {
                var extents = update.shape
                (extents[0], extents[axis]) = (1, count)
                var source = origin
                (source[0], source[axis]) = (entry, from)
                var destination = origin
                (destination[0], destination[axis]) = (entry, to)
                let region = StridedRegion(
                    box: extents, from: update.shape, start: source, to: cache.shape, start: destination)
                copies.append(RegionCopy(source: .input(1), region: region))
            }
        }
        let output = try assembleTensor(cache.dataType, shape: cache.shape, sources: [cache, update], copies: copies)
        return [.tensor(output)]
    }
}

/// A copy of `data` with the run of `length` update elements `n` written at `offsets[n]` (in order, so
/// later duplicates win), or combined with what is there per `reduction`.
func scatteredTensor(
    _ data: Tensor, updates: Tensor, at offsets: [Int], length: Int, reduction: ScatterReduction
) throws -> Tensor {
    guard updates.dataType == data.dataType else {
        throw KernelError.invalidInput("updates must be \(data.dataType), got \(updates.dataType)")
    }
    precondition(updates.count == offsets.count * length && offsets.allSatisfy { $0 >= 0 && $0 + length <= data.count })
    switch (reduction, data.dataType) {
    case (.none, _):
        return try data.dataType.visitMovable(
            ScatterWriter(data: data, updates: updates, offsets: offsets, length: length))
    // 64-bit integers combine exactly; every other numeric type converts through Double without loss.
    case (_, .int64): return combined(data, updates, offsets, length, reduction.combining(Int64.self))
    case (_, .uint64): return combined(data, updates, offsets, length, reduction.combining(UInt64.self))
    default:
        return try data.dataType.visitNumeric(
            ScatterCombiner(data: data, updates: updates, offsets: offsets, length: length, reduction: reduction))
    }
}

private struct ScatterWriter: MovableVisitor {
    let data: Tensor
    let updates: Tensor
    let offsets: [Int]
    let length: Int

    func visit<E: MovableElement>(_: E.Type) -> Tensor {
        E.withElements(of: data) { data in
            E.withElements(of: updates) { updates in
                E.makeTensor(self.data.dataType, shape: self.data.shape) { output in
                    guard let target = output.baseAddress, let source = data.baseAddress else { return }
                    target.update(from: source, count: data.count)
                    guard let update = updates.baseAddress else { return }
                    for (entry, offset) in offsets.enumerated() {
                        (target + offset).update(from: update + entry * length, count: length)
                    }
                }
            }
        }
    }
}

private struct ScatterCombiner: NumericVisitor {
    let data: Tensor
    let updates: Tensor
    let offsets: [Int]
    let length: Int
    let reduction: ScatterReduction

    func visit<T: NumericElement>(_: T.Type) -> Tensor {
        combined(data, updates, offsets, length, reduction.combining(T.self))
    }
}

private func combined<T: NumericElement>(
    _ data: Tensor, _ updates: Tensor, _ offsets: [Int], _ length: Int, _ combine: (T, T) -> T
) -> Tensor {
    var output = data.elements(as: T.self)
    let values = updates.elements(as: T.self)
    output.withUnsafeMutableBufferPointer { output in
        for (entry, offset) in offsets.enumerated() {
            for index in 0..<length {
                output[offset + index] = combine(output[offset + index], values[entry * length + index])
            }
        }
    }
    return Tensor(shape: data.shape, elements: output)
}

extension ScatterReduction {
    /// The combining function computed in Double and converted back (bool: add is or, mul is and). Max and
    /// min propagate NaN, as numpy's maximum and minimum do.
    fileprivate func combining<T: NumericElement>(_: T.Type) -> (T, T) -> T {
        switch self {
        case .none: return { $1 }
        case .add: return { T(converting: $0.doubleValue + $1.doubleValue) }
        case .mul: return { T(converting: $0.doubleValue * $1.doubleValue) }
        case .max: return { $0.doubleValue > $1.doubleValue || $0.doubleValue.isNaN ? $0 : $1 }
        case .min: return { $0.doubleValue < $1.doubleValue || $0.doubleValue.isNaN ? $0 : $1 }
        }
    }

    /// The combining function in exact integer arithmetic, wrapping on overflow.
    fileprivate func combining<T: NumericElement & FixedWidthInteger>(_: T.Type) -> (T, T) -> T {
        switch self {
        case .none: return { $1 }
        case .add: return { $0 &+ $1 }
        case .mul: return { $0 &* $1 }
        case .max: return { Swift.max($0, $1) }
        case .min: return { Swift.min($0, $1) }
        }
    }
}
