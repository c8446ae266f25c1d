import OnyxCore

// Plain Swift values for what an ONNX file holds. The C decoder (ProtoDecoding.swift) builds them and frees
// its own tree before returning; nothing here refers to C memory.

/// An operator set a model or function imports: ops of `domain` as of `version`.
public struct OpsetImport: Sendable, Hashable {
    /// "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    public var version: Int
    public init(domain: String, version: Int) {
        self.domain = domain
        self.version = version
    }
}

/// A whole `.onnx` file.
public struct ModelProto: Sendable {
    public var irVersion: Int
    public var opsetImports: [OpsetImport]
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int
    public var docString: String
    public var graph: GraphProto
    /// Model-local functions, which the graph layer inlines where nodes call them.
    public var functions: [FunctionProto]
    public var metadata: [String: String]
}

/// A named tensor: an initializer, a Constant's value, or a tensor read from a `.pb` file.
public struct NamedTensor: Sendable {
    public var name: String
    public var tensor: Tensor
    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

/// A graph: the model's main graph or a control-flow body.
public struct GraphProto: Sendable {
    public var name: String
    public var nodes: [NodeProto]
    /// Constant inputs; sparse initializers arrive here densified.
    public var initializers: [NamedTensor]
    public var inputs: [ValueInfo]
    public var outputs: [ValueInfo]
    public var valueInfo: [ValueInfo]
    public init(
        name: String, nodes: [NodeProto], initializers: [NamedTensor], inputs: [ValueInfo], outputs: [ValueInfo],
        valueInfo: [ValueInfo]
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
    }
}

/// A declared graph value: its name and (when the file says) its type.
public struct ValueInfo: Sendable {
    public var name: String
    public var type: ValueType?
    public init(name: String, type: ValueType?) {
        self.name = name
        self.type = type
    }
}

/// One operator application.
public struct NodeProto: Sendable {
    public var name: String
    public var opType: String
    /// "" for the default ONNX domain ("ai.onnx" is normalised to "").
    public var domain: String
    /// Input value names; "" marks an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]
    public init(
        name: String, opType: String, domain: String, inputs: [String], outputs: [String], attributes: [Attribute]
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The attribute called `name`, if the node sets it.
    public func attribute(_ name: String) -> AttributeValue? {
        attributes.first { $0.name == name }?.value
    }
}

/// A named attribute of a node (or a default of a function's attribute).
public struct Attribute: Sendable {
    public var name: String
    public var value: AttributeValue
    /// Inside a function body: the caller's attribute this one takes its value from.
    public var referencedAttribute: String?
    public init(name: String, value: AttributeValue, referencedAttribute: String? = nil) {
        self.name = name
        self.value = value
        self.referencedAttribute = referencedAttribute
    }
}

/// The value of an attribute, one case per ONNX `AttributeType`.
public indirect enum AttributeValue: Sendable {
    case float(Float)
    case int(Int)
    /// Strings are bytes in ONNX; `stringValue` decodes them as UTF-8.
    case string([UInt8])
    case tensor(Tensor)
    case graph(GraphProto)
    case sparseTensor(Tensor)
    case type(ValueType)
    case floats([Float])
    case ints([Int])
    case strings([[UInt8]])
    case tensors([Tensor])
    case graphs([GraphProto])
    case sparseTensors([Tensor])
    case types([ValueType])
    /// A reference to a calling function's attribute that the caller did not set.
    case undefined

    /// The attribute kind's ONNX name, for error messages.
    public var kindName: String {
        switch self {
        case .float: "float"
        case .int: "int"
        case .string: "string"
        case .tensor: "tensor"
        case .graph: "graph"
        case .sparseTensor: "sparse_tensor"
        case .type: "type_proto"
        case .floats: "floats"
        case .ints: "ints"
        case .strings: "strings"
        case .tensors: "tensors"
        case .graphs: "graphs"
        case .sparseTensors: "sparse_tensors"
        case .types: "type_protos"
        case .undefined: "undefined"
        }
    }

    /// A string attribute decoded as UTF-8.
    public var stringValue: String? {
        if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}

/// A model-local function: a named subgraph that nodes of its domain call like an operator.
public struct FunctionProto: Sendable {
    public var name: String
    public var domain: String
    public var overload: String
    public var inputs: [String]
    public var outputs: [String]
    /// Attributes the caller may set, with the defaults the function declares (`.undefined` when none).
    public var attributes: [Attribute]
    public var nodes: [NodeProto]
    public var opsetImports: [OpsetImport]
}
