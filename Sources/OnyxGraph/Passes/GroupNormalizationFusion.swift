import OnyxCore
import OnyxFormat

/// Replaces the ways graphs spell GroupNormalization with ``FusedGroupNormalization`` nodes, for any group count:
///
/// - ONNX's op: opset 21 as it is; opsets 18–20 when the per-group scale and bias are constants and the channel
///   count is known (they are expanded to one value per channel);
/// - its decompositions (see `GroupNormalizationPattern`): PyTorch's Reshape → InstanceNormalization → Reshape →
///   Mul → Add, ONNX's function body of the op, and the moments form of hand-written and TensorFlow graphs.
///
/// Then, on the fused nodes: a Transpose to channels-first before and one back after become `channels_last` = 1
/// on the untransposed tensor, and a trailing SiLU (`y · Sigmoid(y)`, or `Swish` with α = 1) becomes
/// `activation` = "silu" — each only where the values in between have no other reader. A graph that gains a fused
/// node imports the `ai.onyx` domain.
public enum GroupNormalizationFusion {
    public static func apply(to graph: Graph) -> Graph {
        var rewriter = GraphRewriter(graph)
        rewriter.rewriteAll(fuseOperator)
        rewriter.rewriteAll(fuseDecomposition)
        rewriter.rewriteAll(foldChannelsLast)
        rewriter.rewriteAll(foldSiLU)
        var fused = rewriter.graph
        if fused.opsets[FusedGroupNormalization.domain] == nil && fused.nodes.contains(where: FusedGroupNormalization.matches) {
            fused.opsets[FusedGroupNormalization.domain] = FusedGroupNormalization.version
        }
        return fused
    }

    private static func fuseOperator(_ graph: GraphRewriter, at index: Int) -> Rewrite? {
        let node = graph.nodes[index]
        guard node.opType == "GroupNormalization", node.domain.isEmpty,
            let groupNormalization = try? GroupNormalizationNode(node, onnxOpset: graph.graph.opsetVersion(for: ""))
        else { return nil }
        // The fused op computes statistics in float; a node asking for another stash_type keeps the ONNX kernel.
        if case .int(let stashType)? = node.attributes["stash_type"], stashType != 1 { return nil }
        var inputs = node.inputs
        var constants: [String: Tensor] = [:]
        if groupNormalization.perGroupAffine {
            let groups = groupNormalization.attributes.groups
            guard let channels = graph.extent(of: inputs[0], axis: 1), channels % groups == 0 else { return nil }
            for (position, name) in [(1, "scale"), (2, "bias")] {
                guard let perGroup = graph.constant(inputs[position]), perGroup.count == groups,
                    let perChannel = Tensors.repeating(perGroup, each: channels / groups)
                else { return nil }
                inputs[position] = graph.freshName(node.outputs[0] + "/" + name)
                constants[inputs[position]] = perChannel
            }
        }
        let fused = groupNormalization.attributes.node(name: node.name, inputs: inputs, output: node.outputs[0])
        return Rewrite(removed: [index], inserted: [fused], constants: constants)
    }

    private static func fuseDecomposition(_ graph: GraphRewriter, at index: Int) -> Rewrite? {
        guard let pattern = GroupNormalizationPattern(normalizingAt: index, in: graph) else { return nil }
        var constants: [String: Tensor] = [:]
        func input(_ operand: GroupNormalizationPattern.Operand, _ name: String) -> String {
            switch operand {
            case .value(let value):
                return value
            case .constant(let tensor):
                let value = graph.freshName(pattern.output + "/" + name)
                constants[value] = tensor
                return value
            }
        }
        let inputs = [pattern.input, input(pattern.scale, "scale"), input(pattern.bias, "bias")]
        let attributes = FusedGroupNormalization(groups: pattern.groups, epsilon: pattern.epsilon)
        let name = graph.nodes[graph.producer(of: pattern.output) ?? index].displayName
        return Rewrite(
            removed: pattern.nodes, inserted: [attributes.node(name: name, inputs: inputs, output: pattern.output)],
            constants: constants)
    }

    /// Transpose(x, to channels-first) → fused → Transpose(back) becomes the fused node on x, channels-last.
    private static func foldChannelsLast(_ graph: GraphRewriter, at index: Int) -> Rewrite? {
        let node = graph.nodes[index]
        guard var attributes = FusedGroupNormalization(node), !attributes.channelsLast,
            let before = graph.producer(of: node.inputs[0], "Transpose"), let after = graph.soleReader(of: node.outputs[0]),
            graph.nodes[after].opType == "Transpose", graph.nodes[after].domain.isEmpty,
            case .ints(let inward)? = graph.nodes[before].attributes["perm"],
            case .ints(let outward)? = graph.nodes[after].attributes["perm"], inward.count >= 3,
            inward == [0, inward.count - 1] + Array(1..<inward.count - 1),
            outward == [0] + Array(2..<inward.count) + [1]
        else { return nil }
        attributes.channelsLast = true
        let inputs = [graph.nodes[before].inputs[0], node.inputs[1], node.inputs[2]]
        return Rewrite(
            removed: [index, after],
            inserted: [attributes.node(name: node.name, inputs: inputs, output: graph.nodes[after].outputs[0])])
    }

    /// fused → y · Sigmoid(y) (either order), or Swish(y) with α = 1, becomes the fused node with the silu activation.
    private static func foldSiLU(_ graph: GraphRewriter, at index: Int) -> Rewrite? {
        let node = graph.nodes[index]
        guard var attributes = FusedGroupNormalization(node), !attributes.silu, let y = node.outputs.first,
            !graph.isGraphOutput(y)
        else { return nil }
        let readers = graph.readers(of: y)
        let last: Int
        var removed: Set<Int> = [index]
        if readers.count == 1, graph.nodes[readers[0]].opType == "Swish", graph.nodes[readers[0]].domain.isEmpty {
            switch graph.nodes[readers[0]].attributes["alpha"] {
            case nil, .float(1)?: last = readers[0]
            default: return nil
            }
        } else {
            guard readers.count == 2, readers[0] != readers[1],
                let sigmoid = readers.first(where: { isNode(graph.nodes[$0], "Sigmoid", inputs: [y]) }),
                let gate = graph.nodes[sigmoid].outputs.first, graph.soleReader(of: gate) != nil,
                let multiply = readers.first(where: { $0 != sigmoid }),
                isNode(graph.nodes[multiply], "Mul", inputs: [y, gate]) || isNode(graph.nodes[multiply], "Mul", inputs: [gate, y])
            else { return nil }
            removed.insert(sigmoid)
            last = multiply
        }
        removed.insert(last)
        attributes.silu = true
        let output = graph.nodes[last].outputs[0]
        return Rewrite(removed: removed, inserted: [attributes.node(name: node.name, inputs: node.inputs, output: output)])
    }

    private static func isNode(_ node: Node, _ opType: String, inputs: [String]) -> Bool {
        node.opType == opType && node.domain.isEmpty && node.inputs == inputs && node.outputs.count == 1
    }
}
