import OnyxCore

/// Shape, axis and index arithmetic shared by the data-movement kernels, with the checks that keep bad
/// input data from turning into crashes or huge allocations.
enum MovementShape {
    /// The most elements an output may have when its shape comes from input data (2^31): a bogus shape must
    /// fail with an error, not allocate gigabytes.
    static let maxElementCount = 1 << 31

    /// The offset `Σ index·strides` of every multi-index of `shape`, in row-major order.
    static func offsets(of shape: [Int], strides: [Int]) -> [Int] {
        let count = shape.reduce(1, *)
        var offsets: [Int] = []
        offsets.reserveCapacity(count)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = 0
        for _ in 0..<count {
            offsets.append(offset)
            for axis in shape.indices.reversed() {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
            }
        }
        return offsets
    }

    /// `axis` made non-negative; it must lie in `-rank..<rank`.
    static func axis(_ axis: Int, rank: Int, name: String = "axis") throws -> Int {
        guard (-rank..<rank).contains(axis) else {
            throw KernelError.invalidInput(
                "\(name) \(axis) is out of range for rank \(rank) (expected \(-rank)...\(rank - 1))")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Every axis of `axes` made non-negative; each must lie in `-rank..<rank` and appear once.
    static func axes(_ axes: [Int], rank: Int, name: String = "axes") throws -> [Int] {
        let normalized = try axes.map { try axis($0, rank: rank, name: name) }
        guard Set(normalized).count == normalized.count else {
            throw KernelError.invalidInput("\(name) \(axes) repeat an axis")
        }
        return normalized
    }

    /// The element count of an output `shape` computed from input data: every extent must be non-negative and
    /// the count at most ``maxElementCount``. The non-zero extents are held to the same bound even when
    /// another extent is zero, so that no later product of extents can overflow.
    static func elementCount(_ shape: [Int], of what: String = "output") throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw KernelError.invalidInput("\(what) shape \(shape) has a negative extent")
        }
        guard let nonZeroCount = checkedElementCount(shape.filter { $0 != 0 }, limit: maxElementCount) else {
            throw KernelError.invalidInput("\(what) shape \(shape) exceeds \(maxElementCount) elements")
        }
        return shape.contains(0) ? 0 : nonZeroCount
    }

    /// The elements of an integer tensor (a shape, starts, axes, ...). uint64 is refused: its values need not
    /// fit in `Int`.
    static func ints(_ tensor: Tensor, name: String) throws -> [Int] {
        guard tensor.dataType != .uint64, let values = tensor.intValues() else {
            throw KernelError.invalidInput("\(name) must be an integer tensor, got \(tensor.dataType)")
        }
        return values
    }

    /// The single element of an integer tensor of one element.
    static func scalarInt(_ tensor: Tensor, name: String) throws -> Int {
        guard tensor.count == 1 else {
            throw KernelError.invalidInput("\(name) must hold one value, got shape \(tensor.shape)")
        }
        return try ints(tensor, name: name)[0]
    }

    /// Index tensor `tensor` resolved against an axis of `extent`: int32 or int64 values in `-extent..<extent`,
    /// negative ones counted once from the end.
    static func indices(_ tensor: Tensor, extent: Int, name: String = "indices") throws -> [Int] {
        guard tensor.dataType == .int64 || tensor.dataType == .int32 else {
            throw KernelError.invalidInput("\(name) must be int32 or int64, got \(tensor.dataType)")
        }
        return try ints(tensor, name: name).map { try index($0, extent: extent, name: name) }
    }

    /// One index resolved against an axis of `extent` (see ``indices(_:extent:name:)``).
    static func index(_ index: Int, extent: Int, name: String = "index") throws -> Int {
        guard (-extent..<extent).contains(index) else {
            throw KernelError.invalidInput("\(name) value \(index) is out of range for an axis of size \(extent)")
        }
        return index < 0 ? index + extent : index
    }
}
