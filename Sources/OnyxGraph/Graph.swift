import OnyxCore
import OnyxFormat

/// One operator application in the IR.
public struct Node: Sendable {
    public var name: String
    public var opType: String
    /// "" for the default ONNX domain.
    public var domain: String
    /// Input value names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: AttributeValue]

    public init(
        name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
        attributes: [String: AttributeValue] = [:]
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The node's name, or a stand-in built from its op and first output when the file left it empty.
    public var displayName: String {
        name.isEmpty ? "\(opType)(→\(outputs.first ?? "?"))" : name
    }

    /// Subgraph attributes (control-flow bodies), by attribute name.
    public var subgraphs: [(attribute: String, graph: GraphProto)] {
        attributes.sorted { $0.key < $1.key }.flatMap { name, value -> [(String, GraphProto)] in
            switch value {
            case .graph(let graph): [(name, graph)]
            case .graphs(let graphs): graphs.map { (name, $0) }
            default: []
            }
        }
    }
}

/// A graph ready for passes and scheduling: nodes, its boundary, constants and what is known of value types.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node]
    /// Inputs the caller must (or, for initializers also listed as inputs, may) supply.
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    /// Constant values by name.
    public var initializers: [String: Tensor]
    /// Declared types of values (inputs, outputs, value_info), by name.
    public var valueTypes: [String: ValueType]
    /// Imported opset version per domain ("" is ONNX).
    public var opsets: [String: Int]

    public init(
        name: String, nodes: [Node], inputs: [ValueInfo], outputs: [ValueInfo], initializers: [String: Tensor],
        valueTypes: [String: ValueType], opsets: [String: Int]
    ) {
        self.name = name
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.valueTypes = valueTypes
        self.opsets = opsets
    }

    /// Inputs that have no initializer, i.e. the ones a caller must supply.
    public var requiredInputs: [ValueInfo] {
        inputs.filter { initializers[$0.name] == nil }
    }

    /// Builds the IR of a model's main graph, inlining model-local functions.
    public init(model: ModelProto) throws {
        var opsets: [String: Int] = [:]
        for opset in model.opsetImports { opsets[opset.domain] = opset.version }
        self.init(graph: model.graph, opsets: opsets)
        nodes = try FunctionInliner(functions: model.functions, opsets: opsets).inline(nodes)
    }

    /// Builds the IR of one graph (a main graph or a subgraph) under the given opset imports.
    public init(graph: GraphProto, opsets: [String: Int]) {
        var initializers: [String: Tensor] = [:]
        for initializer in graph.initializers { initializers[initializer.name] = initializer.tensor }
        var types: [String: ValueType] = [:]
        for info in graph.inputs + graph.valueInfo + graph.outputs {
            if let type = info.type { types[info.name] = type }
        }
        self.init(
            name: graph.name,
            nodes: graph.nodes.map {
                var attributes: [String: AttributeValue] = [:]
                for attribute in $0.attributes { attributes[attribute.name] = attribute.value }
                return Node(
                    name: $0.name, opType: $0.opType, domain: $0.domain, inputs: $0.inputs, outputs: $0.outputs,
                    attributes: attributes)
            },
            inputs: graph.inputs, outputs: graph.outputs, initializers: initializers, valueTypes: types, opsets: opsets)
    }

    /// The opset version the graph imports for `domain` (nil when it imports none).
    public func opsetVersion(for domain: String) -> Int? {
        opsets[domain == "ai.onnx" ? "" : domain]
    }
}
