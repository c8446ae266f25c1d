import OnyxCore
import OnyxFormat

/// Rewrites every GroupNormalization — ONNX's (opset 18: scale and bias per group; 21: per channel) and
/// Onyx's fused one — into primitive ONNX ops of the graph's opset, so it runs without a GroupNormalization
/// kernel and the fused kernel can be compared against its decomposition on the same model:
///
///     x = Cast(X, float)                               when X is narrower than float (or of unknown type)
///     flat = Reshape(x, [0, 0, −1])                    [N, C, S]; channels-last: Transpose(Reshape(x, [0, −1, C]))
///     grouped = Reshape(flat, [0, G, −1])              [N, G, C/G·S]
///     deviation = grouped − ReduceMean(grouped, axis 2)
///     normalized = deviation / Sqrt(ReduceMean(deviation · deviation, axis 2) + ε)
///     y = Reshape(normalized, Shape(flat)) · Reshape(scale, [−1, 1]) + Reshape(bias, [−1, 1])
///         (per group: the same on `normalized`, before reshaping back; channels-last: Transpose back)
///     Y = Reshape(y, Shape(x)), cast back, then y · Sigmoid(y) for the silu activation
///
/// Only shapes known at run time are used, so the rank of X need not be known.
public enum GroupNormalizationLowering {
    /// The oldest ONNX opset that has every op the lowering emits (Reshape with a shape input, Cast's `to`).
    static let minimumOpset = 6

    /// `graph` with every GroupNormalization node lowered. Throws ``GraphError/cannotLower(node:reason:)`` for a
    /// node it cannot rewrite.
    public static func apply(to graph: Graph) throws(GraphError) -> Graph {
        var rewriter = GraphRewriter(graph)
        try rewriter.rewriteAll(lower)
        return rewriter.graph
    }

    private static func lower(_ rewriter: GraphRewriter, at index: Int) throws(GraphError) -> Rewrite? {
        let node = rewriter.nodes[index]
        let groupNormalization: GroupNormalizationNode
        do throws(GroupNormalizationNodeError) {
            guard let read = try GroupNormalizationNode(node, onnxOpset: rewriter.graph.opsetVersion(for: "")) else { return nil }
            groupNormalization = read
        } catch {
            throw .cannotLower(node: node.displayName, reason: error.reason)
        }
        guard let opset = rewriter.graph.opsetVersion(for: ""), opset >= minimumOpset else {
            throw .cannotLower(node: node.displayName, reason: "the model must import ONNX opset \(minimumOpset) or later")
        }
        let attributes = groupNormalization.attributes
        let (input, scale, bias) = (node.inputs[0], node.inputs[1], node.inputs[2])
        // Scale has X's element type, and is often a constant whose type is known where X's is not.
        let inputType = rewriter.dataType(of: input) ?? rewriter.dataType(of: scale)
        let working: DataType = inputType == .double ? .double : .float
        let cast = inputType != working
        if cast && inputType == nil && opset < 15 {
            throw .cannotLower(node: node.displayName, reason: "the type of X is unknown and CastLike needs ONNX opset 15")
        }

        var emit = Emitter(rewriter: rewriter, prefix: node.outputs[0] + "/", opset: opset)
        let castTo: [String: AttributeValue] = ["to": .int(Int(working.rawValue))]
        let x = cast ? emit("Cast", [input], castTo, "input") : input
        let scaleValue = cast ? emit("Cast", [scale], castTo, "scale") : scale
        let biasValue = cast ? emit("Cast", [bias], castTo, "bias") : bias
        let swapLastTwo: [String: AttributeValue] = ["perm": .ints([0, 2, 1])]
        let flat: String
        if attributes.channelsLast {
            let channelsLastShape = emit(
                "Concat", [emit.constant([0, -1], "rows_shape"), emit("Shape", [scale], [:], "channels")], ["axis": .int(0)],
                "channels_last_shape")
            flat = emit("Transpose", [emit("Reshape", [x, channelsLastShape], [:], "channels_last")], swapLastTwo, "flat")
        } else {
            flat = emit("Reshape", [x, emit.constant([0, 0, -1], "flat_shape")], [:], "flat")
        }
        let grouped = emit("Reshape", [flat, emit.constant([0, attributes.groups, -1], "grouped_shape")], [:], "grouped")
        let deviation = emit("Sub", [grouped, emit.mean(of: grouped, "mean")], [:], "deviation")
        let variance = emit.mean(of: emit("Mul", [deviation, deviation], [:], "square"), "variance")
        let epsilon = emit.constant(
            working == .double ? Tensor(scalar: Double(attributes.epsilon)) : Tensor(scalar: attributes.epsilon), "epsilon")
        let deviationScale = emit("Sqrt", [emit("Add", [variance, epsilon], [:], "variance_epsilon")], [:], "standard_deviation")
        let normalized = emit("Div", [deviation, deviationScale], [:], "normalized")

        let column = emit.constant([-1, 1], "column_shape")
        func affine(_ value: String) -> String {
            let scaled = emit("Mul", [value, emit("Reshape", [scaleValue, column], [:], "scale_column")], [:], "scaled")
            return emit("Add", [scaled, emit("Reshape", [biasValue, column], [:], "bias_column")], [:], "shifted")
        }
        var y: String
        if groupNormalization.perGroupAffine {
            y = affine(normalized)
        } else {
            y = affine(emit("Reshape", [normalized, emit("Shape", [flat], [:], "flat_extents")], [:], "normalized_flat"))
            if attributes.channelsLast { y = emit("Transpose", [y], swapLastTwo, "channels_last_result") }
        }
        y = emit("Reshape", [y, emit("Shape", [x], [:], "extents")], [:], "result")
        if cast {
            y = inputType.map { emit("Cast", [y], ["to": .int(Int($0.rawValue))], "cast_back") }
                ?? emit("CastLike", [y, input], [:], "cast_back")
        }
        if attributes.silu { y = emit("Mul", [y, emit("Sigmoid", [y], [:], "sigmoid")], [:], "silu") }
        emit.nodes[emit.nodes.count - 1].outputs = node.outputs
        return Rewrite(removed: [index], inserted: emit.nodes, constants: emit.constants)
    }
}

/// Collects the nodes and constants of one lowered node, naming each value after the node's output.
private struct Emitter {
    let rewriter: GraphRewriter
    let prefix: String
    let opset: Int
    var nodes: [Node] = []
    var constants: [String: Tensor] = [:]

    /// Appends a default-domain node and returns its output.
    mutating func callAsFunction(_ opType: String, _ inputs: [String], _ attributes: [String: AttributeValue], _ name: String)
        -> String
    {
        let output = rewriter.freshName(prefix + name)
        nodes.append(Node(name: output, opType: opType, inputs: inputs, outputs: [output], attributes: attributes))
        return output
    }

    mutating func constant(_ tensor: Tensor, _ name: String) -> String {
        let output = rewriter.freshName(prefix + name)
        constants[output] = tensor
        return output
    }

    mutating func constant(_ values: [Int], _ name: String) -> String {
        constant(Tensor(shape: [values.count], elements: values.map { Int64($0) }), name)
    }

    /// ReduceMean over axis 2 keeping it: axes are an input from opset 18 on, an attribute before.
    mutating func mean(of value: String, _ name: String) -> String {
        if opset >= 18 { return self("ReduceMean", [value, constant([2], name + "_axes")], [:], name) }
        return self("ReduceMean", [value], ["axes": .ints([2])], name)
    }
}
