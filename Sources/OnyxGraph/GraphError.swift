/// Why a graph is not a valid, runnable ONNX graph.
public enum GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A node reads a value that no input, initializer or earlier node defines.
    case undefinedValue(node: String, value: String)
    /// Two producers (nodes or graph inputs) define the same value.
    case duplicateDefinition(value: String, producers: [String])
    /// The nodes listed depend on each other in a cycle.
    case cycle(nodes: [String])
    /// A graph output is never produced.
    case undefinedOutput(String)
    /// A node uses a domain the model does not import.
    case missingOpsetImport(node: String, domain: String)
    /// Model-local functions call each other without end.
    case recursiveFunction(String)
    /// A lowering was asked for an op type no lowering pass handles.
    case noLowering(op: String, available: [String])
    /// A node of an op type being lowered cannot be rewritten into primitives.
    case cannotLower(node: String, reason: String)

    public var description: String {
        switch self {
        case .undefinedValue(let node, let value): "node '\(node)' reads '\(value)', which nothing defines"
        case .duplicateDefinition(let value, let producers):
            "value '\(value)' is defined more than once (by \(producers.joined(separator: ", ")))"
        case .cycle(let nodes): "the graph has a cycle through nodes \(nodes.joined(separator: " → "))"
        case .undefinedOutput(let name): "graph output '\(name)' is never produced"
        case .missingOpsetImport(let node, let domain): "node '\(node)' uses domain '\(domain)', which the model does not import"
        case .recursiveFunction(let name): "model-local function '\(name)' calls itself"
        case .noLowering(let op, let available):
            "no lowering for '\(op)'; ops that can be lowered: \(available.joined(separator: ", "))"
        case .cannotLower(let node, let reason): "cannot lower node '\(node)': \(reason)"
        }
    }
}
