import OnyxCore

/// The ops that keep some elements and drop or zero the rest: NonZero, Compress, Unique, Trilu.
func registerSelectionKernels(into registry: inout KernelRegistry) {
    registry.register("NonZero", since: 9) { inputs, _ in
        let data = try inputs.tensor(0)
        let flags = try nonZeroFlags(data)
        let strides = RowMajor.strides(data.shape)
        let positions = flags.indices.filter { flags[$0] }
        // Row `axis` holds each hit's coordinate along that axis.
        let coordinates = data.shape.indices.flatMap { axis in
            positions.map { Int64($0 / strides[axis] % data.shape[axis]) }
        }
        return [.tensor(Tensor(shape: [data.rank, positions.count], elements: coordinates))]
    }
    registry.register("Compress", since: 9) { node in CompressKernel(axis: try node.int("axis")) }
    registry.register("Unique", since: 11) { node in
        UniqueKernel(
            axis: try node.int("axis"), sorted: try node.int("sorted", default: 1) != 0, outputCount: node.outputCount)
    }
    registry.register("Trilu", since: 14) { node in TriluKernel(upper: try node.int("upper", default: 1) != 0) }
}

/// Compress: the slices along `axis` (of the flattened input when unset) where the bool condition is true.
struct CompressKernel: Kernel {
    let axis: Int?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (data, condition) = (try inputs.tensor(0), try inputs.tensor(1))
        guard condition.dataType == .bool, condition.rank == 1 else {
            throw KernelError.invalidInput(
                "condition must be a 1-D bool tensor, got \(condition.dataType) \(condition.shape)")
        }
        let source = axis == nil ? data.reshaped([data.count]) : data
        let axis = try MovementShape.axis(axis ?? 0, rank: source.rank)
        let flags = condition.elements(as: Bool.self)
        let selected = flags.indices.filter { flags[$0] }
        if let beyond = selected.last, beyond >= source.shape[axis] {
            throw KernelError.invalidInput("condition selects index \(beyond) of an axis of size \(source.shape[axis])")
        }
        return [.tensor(try gatheredTensor(source, axis: axis, indices: selected, indicesShape: [selected.count]))]
    }
}

/// Unique: the distinct elements (or slices along `axis`), sorted or in first-occurrence order, with the
/// optional first-occurrence indices, inverse indices and counts (all int64).
struct UniqueKernel: Kernel {
    let axis: Int?
    let sorted: Bool
    let outputCount: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let data = axis == nil ? input.reshaped([input.count]) : input
        let axis = try MovementShape.axis(axis ?? 0, rank: data.rank)
        // With the axis first, slice i is one contiguous run of keys.
        var permutation = Array(data.shape.indices)
        permutation.insert(permutation.remove(at: axis), at: 0)
        let groups = try UniqueGroups(try transposedTensor(data, permutation: permutation), sorted: sorted)
        let first = groups.first
        let unique = try gatheredTensor(data, axis: axis, indices: first, indicesShape: [first.count])
        let indexTensors = [groups.first, groups.inverse, groups.counts].map {
            Value.tensor(Tensor(shape: [$0.count], elements: $0.map { Int64($0) }))
        }
        return Array(([.tensor(unique)] + indexTensors).prefix(max(outputCount, 1)))
    }
}

/// Trilu: the lower (`upper` = 0) or upper triangle of each innermost matrix, from diagonal `k` (input 1,
/// default 0), zeros elsewhere.
struct TriluKernel: Kernel {
    let upper: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard data.rank >= 2 else {
            throw KernelError.invalidInput("Trilu expects rank ≥ 2, got shape \(data.shape)")
        }
        guard data.count > 0 else { return [.tensor(data)] }
        let (rows, columns) = (data.shape[data.rank - 2], data.shape[data.rank - 1])
        let batch = data.count / (rows * columns)
        let diagonal = try inputs.optionalTensor(1).map { try MovementShape.scalarInt($0, name: "k") } ?? 0
        // Clamping first keeps `row + k` from overflowing for absurd k.
        let k = min(max(diagonal, -rows), columns)
        let copies: [RegionCopy] = (0..<rows).compactMap { row in
            let (from, to) = upper ? (max(0, row + k), columns) : (0, min(columns, row + k + 1))
            guard from < to else { return nil }
            let region = StridedRegion(
                extents: [batch, to - from], sourceStrides: [rows * columns, 1], sourceOffset: row * columns + from,
                destinationStrides: [rows * columns, 1], destinationOffset: row * columns + from)
            return RegionCopy(source: .input(0), region: region)
        }
        let output = try assembleTensor(
            data.dataType, shape: data.shape, background: .zero, sources: [data], copies: copies)
        return [.tensor(output)]
    }
}

/// Whether each element is non-zero (non-empty for strings).
private func nonZeroFlags(_ tensor: Tensor) throws -> [Bool] {
    struct Flags: NumericVisitor {
        let tensor: Tensor
        func visit<T: NumericElement>(_: T.Type) -> [Bool] { tensor.elements(as: T.self).map { $0.doubleValue != 0 } }
    }
    switch tensor.dataType {
    case .string: return tensor.elements(as: String.self).map { !$0.isEmpty }
    case .complex64: return tensor.elements(as: Complex64.self).map { $0.real != 0 || $0.imaginary != 0 }
    case .complex128: return tensor.elements(as: Complex128.self).map { $0.real != 0 || $0.imaginary != 0 }
    default: return try tensor.dataType.visitNumeric(Flags(tensor: tensor))
    }
}

/// The distinct slices of a tensor along its first axis: for each distinct slice (sorted, or in order of
/// first occurrence) where it first occurs and how often; for each slice which distinct slice it is.
private struct UniqueGroups {
    var first: [Int] = []
    var counts: [Int] = []
    var inverse: [Int]

    init(_ slices: Tensor, sorted: Bool) throws {
        let count = slices.shape.first ?? 1
        switch slices.dataType {
        case .string: self.init(keys: slices.elements(as: String.self), count: count, sorted: sorted)
        case .int64: self.init(keys: slices.elements(as: Int64.self), count: count, sorted: sorted)
        case .uint64: self.init(keys: slices.elements(as: UInt64.self), count: count, sorted: sorted)
        case .complex64:
            let keys = slices.elements(as: Complex64.self).flatMap {
                [OrderedDouble(Double($0.real)), OrderedDouble(Double($0.imaginary))]
            }
            self.init(keys: keys, count: count, sorted: sorted)
        case .complex128:
            let keys = slices.elements(as: Complex128.self).flatMap {
                [OrderedDouble($0.real), OrderedDouble($0.imaginary)]
            }
            self.init(keys: keys, count: count, sorted: sorted)
        default:
            // Every other type converts to Double exactly.
            guard let values = slices.doubleValues() else {
                throw KernelError.invalidInput("Unique does not take \(slices.dataType)")
            }
            self.init(keys: values.map(OrderedDouble.init), count: count, sorted: sorted)
        }
    }

    private init<Key: Comparable>(keys: [Key], count: Int, sorted: Bool) {
        let width = count == 0 ? 0 : keys.count / count
        func slice(_ index: Int) -> ArraySlice<Key> { keys[(index * width)..<((index + 1) * width)] }
        // Sort slice numbers by content, ties by position, so each run of equal slices starts at its first one.
        let order = (0..<count).sorted { left, right in
            let (a, b) = (slice(left), slice(right))
            return a == b ? left < right : a.lexicographicallyPrecedes(b)
        }
        var group = [Int](repeating: 0, count: count)
        for (rank, index) in order.enumerated() {
            if rank == 0 || slice(order[rank - 1]) != slice(index) {
                first.append(index)
                counts.append(0)
            }
            group[index] = first.count - 1
            counts[first.count - 1] += 1
        }
        inverse = group
        if !sorted {
            let byOccurrence = first.indices.sorted { first[$0] < first[$1] }
            var renumbered = [Int](repeating: 0, count: first.count)
            for (position, old) in byOccurrence.enumerated() { renumbered[old] = position }
            first = byOccurrence.map { first[$0] }
            counts = byOccurrence.map { counts[$0] }
            inverse = group.map { renumbered[$0] }
        }
    }
}

/// A Double ordered as numpy sorts: NaN after every number and equal to every NaN.
private struct OrderedDouble: Comparable {
    let value: Double
    init(_ value: Double) { self.value = value }

    static func < (lhs: OrderedDouble, rhs: OrderedDouble) -> Bool {
        lhs.value < rhs.value || (!lhs.value.isNaN && rhs.value.isNaN)
    }

    static func == (lhs: OrderedDouble, rhs: OrderedDouble) -> Bool {
        lhs.value == rhs.value || (lhs.value.isNaN && rhs.value.isNaN)
    }
}
