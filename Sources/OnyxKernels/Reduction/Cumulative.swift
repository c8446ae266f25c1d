import OnyxCore

/// Registers CumSum (opset 11; 14 only adds types) and CumProd (opset 26).
func registerCumulativeKernels(into registry: inout KernelRegistry) {
    registry.register("CumSum", since: 11) { node in try CumulativeKernel(node, multiplies: false) }
    registry.register("CumProd", since: 26) { node in try CumulativeKernel(node, multiplies: true) }
}

/// Running sums or products along the axis given as input 1.
struct CumulativeKernel: Kernel {
    let multiplies: Bool
    /// Each output leaves out its own element (the first is the identity).
    let exclusive: Bool
    /// Accumulates from the end of the axis towards its start.
    let reverse: Bool

    init(_ node: KernelNode, multiplies: Bool) throws {
        self.multiplies = multiplies
        exclusive = try node.int("exclusive", default: 0) != 0
        reverse = try node.int("reverse", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard data.dataType != .bool else { throw KernelError.invalidInput("x must be numeric, got bool") }
        let axis = try ReductionInputs.axis(ReductionInputs.integer(inputs.tensor(1), name: "axis"), rank: data.rank)
        let split = AxisSplit(shape: data.shape, axis: axis)
        return [.tensor(try data.dataType.visitReducible(CumulativeVisitor(kernel: self, data: data, split: split)))]
    }
}

/// Walks the axis one contiguous row at a time, carrying a running value for every inner position.
private struct CumulativeVisitor: ReducibleVisitor {
    let kernel: CumulativeKernel
    let data: Tensor
    let split: AxisSplit

    func visit<T: ReducibleElement>(_ type: T.Type) -> Tensor {
        let (outer, extent, inner) = (split.outer, split.extent, split.inner)
        let identity: T.Wide = kernel.multiplies ? .one : .zero
        var running = [T.Wide](repeating: identity, count: inner)
        let output = data.elements(as: T.self).withUnsafeBufferPointer { values in
            running.withUnsafeMutableBufferPointer { running in
                [T](unsafeUninitializedCapacity: values.count) { result, initializedCount in
                    for block in 0..<outer {
                        running.update(repeating: identity)
                        for step in 0..<extent {
                            let row = kernel.reverse ? extent - 1 - step : step
                            let rowStart = (block * extent + row) * inner
                            let rowValues = UnsafeBufferPointer(rebasing: values[rowStart..<(rowStart + inner)])
                            let rowResults = UnsafeMutableBufferPointer(rebasing: result[rowStart..<(rowStart + inner)])
                            for position in 0..<inner {
                                let before = running[position]
                                let value = rowValues[position].wide
                                running[position] = kernel.multiplies ? before.times(value) : before.plus(value)
                                rowResults.initializeElement(
                                    at: position, to: T(wide: kernel.exclusive ? before : running[position]))
                            }
                        }
                    }
                    initializedCount = values.count
                }
            }
        }
        return Tensor(shape: data.shape, elements: output)
    }
}
