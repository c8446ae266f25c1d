import OnyxCore
import OnyxFormat

/// Removes pairs of Transposes that undo each other, such as the NHWC → NCHW → NHWC round trips that
/// channels-last code leaves around every block: the readers of the second Transpose read the first one's input
/// instead, and the first Transpose goes too when nothing else reads it.
public enum TransposeCancellation {
    public static func apply(to graph: Graph) -> Graph {
        var rewriter = GraphRewriter(graph)
        rewriter.rewriteAll(cancel)
        return rewriter.graph
    }

    private static func cancel(_ rewriter: GraphRewriter, at index: Int) -> Rewrite? {
        let second = rewriter.nodes[index]
        guard second.opType == "Transpose", second.domain.isEmpty, second.inputs.count == 1, let output = second.outputs.first,
            let firstIndex = rewriter.producer(of: second.inputs[0], "Transpose"),
            let source = rewriter.nodes[firstIndex].inputs.first,
            composesToIdentity(rewriter.nodes[firstIndex].attributes["perm"], second.attributes["perm"]),
            // Redirecting reads is only possible where they are plain inputs: not a graph output, not read by a subgraph.
            !rewriter.isGraphOutput(output),
            rewriter.readers(of: output).allSatisfy({ rewriter.nodes[$0].subgraphs.isEmpty })
        else { return nil }
        return Rewrite(removed: [index], inserted: [], redirected: [output: source])
    }

    /// True when transposing by `first`, then by `second`, gives back the original layout. A missing `perm`
    /// reverses the axes.
    private static func composesToIdentity(_ first: AttributeValue?, _ second: AttributeValue?) -> Bool {
        func permutation(_ attribute: AttributeValue?) -> [Int]?? {
            switch attribute {
            case nil: return .some(nil)
            case .ints(let perm)?: return perm
            default: return nil
            }
        }
        guard let first = permutation(first), let second = permutation(second) else { return false }
        guard let rank = first?.count ?? second?.count else { return true }
        let reversed = Array((0..<rank).reversed())
        let (outer, inner) = (first ?? reversed, second ?? reversed)
        guard outer.count == rank, inner.count == rank, Set(outer) == Set(0..<rank), Set(inner) == Set(0..<rank) else {
            return false
        }
        // Output axis i of the pair is input axis outer[inner[i]].
        return (0..<rank).allSatisfy { outer[inner[$0]] == $0 }
    }
}
