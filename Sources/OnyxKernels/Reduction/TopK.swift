import OnyxCore

/// Registers TopK: `k` is an attribute in opset 1 and input 1 from opset 10; `largest` and `sorted` (opset 11)
/// default to the earlier behaviour.
func registerTopKKernels(into registry: inout KernelRegistry) {
    registry.register("TopK", since: 1) { node in
        guard let k = try node.int("k") else { throw KernelError.invalidAttribute("k", "required in opset 1") }
        return try TopKKernel(node, kAttribute: k)
    }
    registry.register("TopK", since: 10) { node in try TopKKernel(node, kAttribute: nil) }
}

/// The k largest (or smallest) elements along an axis and their int64 indices, best first; equal values keep
/// index order. `sorted = 0` leaves the order unspecified, so sorted order serves it too. NaN ranks above
/// every number, as in numpy's sort.
struct TopKKernel: Kernel {
    /// `k` of opset 1; nil when it comes from input 1.
    let kAttribute: Int?
    let axis: Int
    let largest: Bool

    init(_ node: KernelNode, kAttribute: Int?) throws {
        self.kAttribute = kAttribute
        axis = try node.int("axis", default: -1)
        largest = try node.int("largest", default: 1) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard data.dataType != .bool else { throw KernelError.invalidInput("X must be numeric, got bool") }
        let axis = try ReductionInputs.axis(self.axis, rank: data.rank)
        let k = try kAttribute ?? ReductionInputs.integer(inputs.tensor(1), name: "K")
        guard k >= 0, k <= data.shape[axis] else {
            throw KernelError.invalidInput("K = \(k) must lie in [0, \(data.shape[axis])], the extent of axis \(axis)")
        }
        var shape = data.shape
        shape[axis] = k
        let (values, indices) = try data.dataType.visitReducible(
            TopKVisitor(kernel: self, data: data, split: AxisSplit(shape: data.shape, axis: axis), k: k, shape: shape))
        return [.tensor(values), .tensor(Tensor(shape: shape, elements: indices))]
    }

    /// True when element `first` (value `x`) comes before element `second` (value `y`) in the output.
    fileprivate func precedes<Wide: WideArithmetic>(_ first: Int, _ x: Wide, _ second: Int, _ y: Wide) -> Bool {
        // `v != v` is true only for NaN.
        let xIsNaN = x != x
        let yIsNaN = y != y
        if xIsNaN || yIsNaN {
            if xIsNaN && yIsNaN { return first < second }
            return largest ? xIsNaN : yIsNaN
        }
        if x == y { return first < second }
        return largest ? x > y : x < y
    }
}

/// Selects each line's best k with a heap (O(n log k)), then sorts those k. The line's values are copied out
/// once so that comparisons read contiguous wide values.
private struct TopKVisitor: ReducibleVisitor {
    let kernel: TopKKernel
    let data: Tensor
    let split: AxisSplit
    let k: Int
    let shape: [Int]

    func visit<T: ReducibleElement>(_ type: T.Type) -> (Tensor, [Int64]) {
        let (outer, extent, inner) = (split.outer, split.extent, split.inner)
        let count = outer * k * inner
        var line = [T.Wide](repeating: .zero, count: extent)
        var best: [Int] = []
        best.reserveCapacity(k)
        var indices = [Int64](repeating: 0, count: count)
        let values = data.elements(as: T.self).withUnsafeBufferPointer { input in
            [T](unsafeUninitializedCapacity: count) { output, initializedCount in
                for block in 0..<outer where k > 0 {
                    for position in 0..<inner {
                        for index in 0..<extent { line[index] = input[(block * extent + index) * inner + position].wide }
                        selectBest(&best, line: line)
                        for (rank, index) in best.enumerated() {
                            let target = (block * k + rank) * inner + position
                            output.initializeElement(at: target, to: input[(block * extent + index) * inner + position])
                            indices[target] = Int64(index)
                        }
                    }
                }
                initializedCount = count
            }
        }
        return (Tensor(shape: shape, elements: values), indices)
    }

    /// Fills `best` with the indices of the line's first k elements in output order. While scanning, `best` is
    /// a binary heap whose root is the element that would come last, the one a better newcomer replaces.
    private func selectBest<Wide: WideArithmetic>(_ best: inout [Int], line: [Wide]) {
        func precedes(_ first: Int, _ second: Int) -> Bool { kernel.precedes(first, line[first], second, line[second]) }
        // Heap order: a parent never precedes its children.
        func siftDown(from start: Int) {
            var parent = start
            while true {
                var latest = parent
                for child in (2 * parent + 1)...(2 * parent + 2) where child < best.count && precedes(best[latest], best[child]) {
                    latest = child
                }
                if latest == parent { return }
                best.swapAt(parent, latest)
                parent = latest
            }
        }
        best.removeAll(keepingCapacity: true)
        for index in line.indices {
            if best.count < k {
                best.append(index)
                var child = best.count - 1
                while child > 0, precedes(best[(child - 1) / 2], best[child]) {
                    best.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
            } else if precedes(index, best[0]) {
                best[0] = index
                siftDown(from: 0)
            }
        }
        best.sort(by: precedes)
    }
}
