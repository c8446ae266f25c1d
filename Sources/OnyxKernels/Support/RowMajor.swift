import OnyxCore

/// Index arithmetic of row-major (C-order) layouts, the layout of every `Tensor`.
enum RowMajor {
    /// The strides, in elements, of a tensor of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        return strides
    }

    /// The multi-index of the element at flat position `index` in a tensor of `shape`.
    static func coordinates(of index: Int, in shape: [Int]) -> [Int] {
        var remainder = index
        var coordinates = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            coordinates[axis] = remainder % shape[axis]
            remainder /= shape[axis]
        }
        return coordinates
    }
}
