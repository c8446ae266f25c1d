import OnyxCore

/// Registers Sum, Mean, Max and Min over any number of broadcast tensors. Before opset 8 the inputs had to share
/// one shape; broadcasting them is a superset, so one registration serves every version.
func registerVariadicMathKernels(into registry: inout KernelRegistry) {
    registry.register("Sum", since: 1) { _ in VariadicMathKernel(name: "Sum", lanes: .add, averages: false) }
    registry.register("Mean", since: 1) { _ in VariadicMathKernel(name: "Mean", lanes: .add, averages: true) }
    registry.register("Max", since: 1) { _ in VariadicMathKernel(name: "Max", lanes: .maximum, averages: false) }
    registry.register("Min", since: 1) { _ in VariadicMathKernel(name: "Min", lanes: .minimum, averages: false) }
}

/// Folds a binary table entry over the inputs from left to right (rounding to the element type at each step, as
/// the reference does), optionally dividing by the input count at the end.
struct VariadicMathKernel: Kernel {
    let name: String
    let lanes: BinaryLanes
    let averages: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let operands = try inputs.tensors(from: 0)
        guard var result = operands.first else { throw KernelError.invalidInput("\(name) needs at least one input") }
        for operand in operands.dropFirst() {
            let plan = try BroadcastPlan([result.shape, operand.shape])
            result = try lanes.apply(result, operand, plan: plan, operator: name)
        }
        if averages && operands.count > 1 {
            let count = try castTensor(Tensor(scalar: Double(operands.count)), to: result.dataType)
            result = try BinaryLanes.divide.apply(result, count, plan: BroadcastPlan([result.shape, []]), operator: name)
        }
        return [.tensor(result)]
    }
}
