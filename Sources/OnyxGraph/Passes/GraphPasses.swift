import OnyxCore
import OnyxFormat

/// The optional rewrites a session applies: lowerings (asked for by op type) and fusions (on by default).
public enum GraphPasses {
    private static let lowerings: [String: @Sendable (Graph) throws(GraphError) -> Graph] = [
        "GroupNormalization": GroupNormalizationLowering.apply
    ]

    /// Op types a lowering can rewrite into primitive ONNX ops.
    public static let lowerableOperators = lowerings.keys.sorted()

    /// `graph` with every node of the `operators` types rewritten into primitive ops. Throws
    /// ``GraphError/noLowering(op:available:)`` for a type no lowering handles.
    public static func lower(_ operators: Set<String>, in graph: Graph) throws(GraphError) -> Graph {
        var lowered = graph
        for op in operators.sorted() {
            guard let lowering = lowerings[op] else { throw .noLowering(op: op, available: lowerableOperators) }
            lowered = try lowering(lowered)
        }
        return lowered
    }

    /// `graph` with Transpose round trips removed and, when `fusingGroupNormalization`, its GroupNormalization
    /// spellings fused.
    public static func fuse(_ graph: Graph, fusingGroupNormalization: Bool) -> Graph {
        let cancelled = TransposeCancellation.apply(to: graph)
        return fusingGroupNormalization ? GroupNormalizationFusion.apply(to: cancelled) : cancelled
    }
}
