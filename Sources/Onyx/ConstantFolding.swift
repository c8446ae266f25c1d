import OnyxCore
import OnyxGraph
import OnyxKernels

/// Evaluates, once at load time, every node whose inputs are all constants, turning its outputs into
/// initializers, so shape arithmetic and weight preprocessing cost nothing per run.
enum ConstantFolding {
    /// Ops whose result must differ between runs.
    private static let nondeterministic: Set<String> = [
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli", "Multinomial",
    ]
    /// Outputs above this many elements stay computed per run rather than held in memory for good.
    private static let maximumFoldedElements = 1 << 24

    static func fold(_ graph: Graph, registry: KernelRegistry) throws -> Graph {
        let schedule = try Schedule(graph: graph)
        // Initializers that are also graph inputs may be overridden by the caller, so they are not constant.
        let overridable = Set(graph.inputs.map(\.name))
        var constants = graph.initializers.filter { !overridable.contains($0.key) }
        var remaining: [Node] = []
        for node in schedule.nodes {
            if let outputs = evaluate(node, constants: constants, graph: graph, registry: registry) {
                for (name, tensor) in zip(node.outputs, outputs) where !name.isEmpty { constants[name] = tensor }
            } else {
                remaining.append(node)
            }
        }
        // Keep only constants something still reads: weights consumed by folded nodes alone are dropped.
        var read = Set(graph.outputs.map(\.name)).union(overridable)
        for node in remaining { read.formUnion(Schedule.reads(of: node)) }
        var folded = graph
        folded.nodes = remaining
        folded.initializers = graph.initializers.merging(constants) { original, _ in original }.filter { read.contains($0.key) }
        return folded
    }

    /// The node's outputs when it can be evaluated now, nil when it must run per call.
    private static func evaluate(_ node: Node, constants: [String: Tensor], graph: Graph, registry: KernelRegistry) -> [Tensor]? {
        guard !nondeterministic.contains(node.opType), node.subgraphs.isEmpty,
            node.inputs.allSatisfy({ $0.isEmpty || constants[$0] != nil }),
            let opset = graph.opsetVersion(for: node.domain),
            let factory = registry.factory(for: node.opType, domain: node.domain, opsetVersion: opset)
        else { return nil }
        let description = KernelNode(
            name: node.name, opType: node.opType, domain: node.domain, opsetVersion: opset, attributes: node.attributes,
            inputTypes: node.inputs.map { graph.valueTypes[$0] }, inputPresent: node.inputs.map { !$0.isEmpty },
            outputCount: node.outputs.count)
        let inputs = node.inputs.map { $0.isEmpty ? nil : constants[$0].map(Value.tensor) }
        // A kernel that refuses its constant inputs is left in place, so the error surfaces with its context at run time.
        guard let outputs = try? factory(description).run(KernelInputs(inputs), context: KernelContext()),
            outputs.count == node.outputs.count
        else { return nil }
        let tensors = outputs.compactMap(\.tensor)
        guard tensors.count == outputs.count, tensors.allSatisfy({ $0.count <= maximumFoldedElements }) else { return nil }
        return tensors
    }
}
