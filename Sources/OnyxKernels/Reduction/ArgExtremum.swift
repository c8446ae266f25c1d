import OnyxCore

/// Registers ArgMax and ArgMin. `select_last_index` (opset 12) defaults to the earlier behaviour, so one
/// registration serves every version.
func registerArgExtremumKernels(into registry: inout KernelRegistry) {
    registry.register("ArgMax", since: 1) { node in try ArgExtremumKernel(node, selectsMaximum: true) }
    registry.register("ArgMin", since: 1) { node in try ArgExtremumKernel(node, selectsMaximum: false) }
}

/// The int64 index of the largest (or smallest) element along one axis. NaN ranks above every number for
/// both, as numpy's argmax and argmin return the first NaN.
struct ArgExtremumKernel: Kernel {
    let selectsMaximum: Bool
    let axis: Int
    let keepDims: Bool
    /// Among equal extremes, the last index instead of the first.
    let selectLastIndex: Bool

    init(_ node: KernelNode, selectsMaximum: Bool) throws {
        self.selectsMaximum = selectsMaximum
        axis = try node.int("axis", default: 0)
        keepDims = try node.int("keepdims", default: 1) != 0
        selectLastIndex = try node.int("select_last_index", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let axis = try ReductionInputs.axis(self.axis, rank: data.rank)
        let split = AxisSplit(shape: data.shape, axis: axis)
        guard split.extent > 0 else {
            throw KernelError.invalidInput("cannot take the index of an extreme along axis \(axis), which is empty")
        }
        var shape = data.shape
        if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
        let indices = try data.dataType.visitReducible(ArgExtremumVisitor(kernel: self, data: data, split: split))
        return [.tensor(Tensor(shape: shape, elements: indices))]
    }

    /// True when `candidate`, met after `current`, replaces it.
    fileprivate func replaces<Wide: WideArithmetic>(_ candidate: Wide, _ current: Wide) -> Bool {
        // `x != x` is true only for NaN.
        let candidateIsNaN = candidate != candidate
        if current != current { return selectLastIndex && candidateIsNaN }
        if candidateIsNaN { return true }
        if candidate == current { return selectLastIndex }
        return selectsMaximum ? candidate > current : candidate < current
    }
}

/// Scans the axis row by row (each row contiguous), keeping the best value and index of every inner position.
private struct ArgExtremumVisitor: ReducibleVisitor {
    let kernel: ArgExtremumKernel
    let data: Tensor
    let split: AxisSplit

    func visit<T: ReducibleElement>(_ type: T.Type) -> [Int64] {
        let (outer, extent, inner) = (split.outer, split.extent, split.inner)
        var best = [T.Wide](repeating: .zero, count: inner)
        return data.elements(as: T.self).withUnsafeBufferPointer { values in
            best.withUnsafeMutableBufferPointer { best in
                [Int64](unsafeUninitializedCapacity: outer * inner) { indices, initializedCount in
                    indices.initialize(repeating: 0)
                    for block in 0..<outer {
                        let start = block * extent * inner
                        let blockIndices = UnsafeMutableBufferPointer(rebasing: indices[(block * inner)..<((block + 1) * inner)])
                        for position in 0..<inner { best[position] = values[start + position].wide }
                        for row in 1..<extent {
                            let rowStart = start + row * inner
                            let rowValues = UnsafeBufferPointer(rebasing: values[rowStart..<(rowStart + inner)])
                            for position in 0..<inner where kernel.replaces(rowValues[position].wide, best[position]) {
                                best[position] = rowValues[position].wide
                                blockIndices[position] = Int64(row)
                            }
                        }
                    }
                    initializedCount = outer * inner
                }
            }
        }
    }
}
