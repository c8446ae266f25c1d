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

    public var description: String {
        switch self {
        case .undefinedValue(let node, let value): "node '\(node)' reads '\(value)', which nothing defines"
        case .duplicateDefinition(let value, let producers):
            "value '\(value)' is defined more than once (by \(producers.joined(separator: ", ")))"
        case .cycle(let nodes): "the graph has a cycle through nodes \(nodes.joined(separator: " → "))"
        case .undefinedOutput(let name): "graph output '\(name)' is never produced"
        case .missingOpsetImport(let node, let domain): "node '\(node)' uses domain '\(domain)', which the model does not import"
        case .recursiveFunction(let name): "model-local function '\(name)' calls itself"
        }
    }
}
