import OnyxCore

/// If: runs `then_branch` or `else_branch` (neither takes inputs) by a single boolean, and returns its outputs.
struct IfKernel: Kernel {
    private let outputCount: Int

    init(_ node: KernelNode) throws {
        for name in ["then_branch", "else_branch"] {
            guard let branch = try node.graph(name) else {
                throw KernelError.invalidAttribute(name, "the attribute is required")
            }
            guard branch.outputs.count == node.outputCount else {
                throw KernelError.invalidAttribute(
                    name, "has \(branch.outputs.count) outputs, the node \(node.outputCount)")
            }
        }
        outputCount = node.outputCount
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let branch = try conditionValue(inputs.value(0), name: "cond") ? "then_branch" : "else_branch"
        let outputs = try context.runSubgraph(branch, inputs: [])
        guard outputs.count == outputCount else {
            throw KernelError.invalidInput("\(branch) returned \(outputs.count) values, expected \(outputCount)")
        }
        return outputs
    }
}
