import OnyxCore
import OnyxFormat

/// A compiled operator: created once per node at plan time, then run any number of times.
///
/// Built-in and custom kernels implement this same protocol and register through ``KernelRegistry``.
public protocol Kernel: Sendable {
    /// Computes the node's outputs, one `Value` per declared output, in order.
    /// Throws ``KernelError`` for inputs the operator does not accept.
    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value]
}

/// Makes the kernel for one node. Parse and validate attributes here, once, not in `run`.
public typealias KernelFactory = @Sendable (KernelNode) throws -> any Kernel

/// A kernel given as a closure, for operators whose attributes need no parsing beyond the factory's.
public struct ClosureKernel: Kernel {
    private let body: @Sendable (KernelInputs, KernelContext) throws -> [Value]
    /// Wraps `body` as a kernel.
    public init(_ body: @escaping @Sendable (KernelInputs, KernelContext) throws -> [Value]) {
        self.body = body
    }
    public func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        try body(inputs, context)
    }
}

/// What a kernel factory knows about its node: op, opset, attributes, input/output arity and declared types.
public struct KernelNode: Sendable {
    public let name: String
    public let opType: String
    public let domain: String
    /// The version of `domain` the model imports (the kernel may behave per version).
    public let opsetVersion: Int
    public let attributes: [String: AttributeValue]
    /// Declared input types where the graph knows them; nil entries for unknown or omitted inputs.
    public let inputTypes: [ValueType?]
    /// True for each input position that the node actually supplies (omitted optional inputs are false).
    public let inputPresent: [Bool]
    public let outputCount: Int

    /// Creates the description of a node (the runtime does this; tests may too).
    public init(
        name: String = "", opType: String, domain: String = "", opsetVersion: Int,
        attributes: [String: AttributeValue] = [:], inputTypes: [ValueType?] = [], inputPresent: [Bool] = [],
        outputCount: Int = 1
    ) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.opsetVersion = opsetVersion
        self.attributes = attributes
        self.inputTypes = inputTypes
        self.inputPresent = inputPresent
        self.outputCount = outputCount
    }

    /// An int attribute, or `defaultValue` when the node does not set it.
    public func int(_ name: String, default defaultValue: Int) throws -> Int {
        try int(name) ?? defaultValue
    }

    /// An int attribute, nil when unset.
    public func int(_ name: String) throws -> Int? {
        switch attributes[name] {
        case nil: return nil
        case .int(let value): return value
        case let other?: throw KernelError.invalidAttribute(name, "expected an int, got \(other.kindName)")
        }
    }

    /// A float attribute, or `defaultValue` when unset. An int is accepted and converted.
    public func float(_ name: String, default defaultValue: Float) throws -> Float {
        switch attributes[name] {
        case nil: return defaultValue
        case .float(let value): return value
        case .int(let value): return Float(value)
        case let other?: throw KernelError.invalidAttribute(name, "expected a float, got \(other.kindName)")
        }
    }

    /// A float attribute, nil when unset.
    public func float(_ name: String) throws -> Float? {
        attributes[name] == nil ? nil : try float(name, default: 0)
    }

    /// A list-of-ints attribute, nil when unset.
    public func ints(_ name: String) throws -> [Int]? {
        switch attributes[name] {
        case nil: return nil
        case .ints(let values): return values
        case .int(let value): return [value]
        case let other?: throw KernelError.invalidAttribute(name, "expected ints, got \(other.kindName)")
        }
    }

    /// A list-of-floats attribute, nil when unset.
    public func floats(_ name: String) throws -> [Float]? {
        switch attributes[name] {
        case nil: return nil
        case .floats(let values): return values
        case .float(let value): return [value]
        case let other?: throw KernelError.invalidAttribute(name, "expected floats, got \(other.kindName)")
        }
    }

    /// A string attribute (decoded as UTF-8), or `defaultValue` when unset.
    public func string(_ name: String, default defaultValue: String) throws -> String {
        try string(name) ?? defaultValue
    }

    /// A string attribute, nil when unset.
    public func string(_ name: String) throws -> String? {
        switch attributes[name] {
        case nil: return nil
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case let other?: throw KernelError.invalidAttribute(name, "expected a string, got \(other.kindName)")
        }
    }

    /// A list-of-strings attribute, nil when unset.
    public func strings(_ name: String) throws -> [String]? {
        switch attributes[name] {
        case nil: return nil
        case .strings(let values): return values.map { String(decoding: $0, as: UTF8.self) }
        case let other?: throw KernelError.invalidAttribute(name, "expected strings, got \(other.kindName)")
        }
    }

    /// A tensor attribute, nil when unset.
    public func tensor(_ name: String) throws -> Tensor? {
        switch attributes[name] {
        case nil: return nil
        case .tensor(let value), .sparseTensor(let value): return value
        case let other?: throw KernelError.invalidAttribute(name, "expected a tensor, got \(other.kindName)")
        }
    }

    /// A graph attribute (a control-flow body), nil when unset.
    public func graph(_ name: String) throws -> GraphProto? {
        switch attributes[name] {
        case nil: return nil
        case .graph(let value): return value
        case let other?: throw KernelError.invalidAttribute(name, "expected a graph, got \(other.kindName)")
        }
    }
}

/// The inputs of one kernel invocation. Omitted optional inputs (and positions past the end) read as nil.
public struct KernelInputs: Sendable {
    private let values: [Value?]

    /// Wraps the values in node input order.
    public init(_ values: [Value?]) {
        self.values = values
    }

    /// Number of input positions the node lists (omitted ones included).
    public var count: Int { values.count }

    /// The value at `index`, nil when omitted.
    public func value(_ index: Int) -> Value? {
        index < values.count ? values[index] : nil
    }

    /// The required tensor input at `index`.
    public func tensor(_ index: Int) throws -> Tensor {
        guard let value = value(index) else { throw KernelError.missingInput(index) }
        guard let tensor = value.tensor else {
            throw KernelError.invalidInput("input \(index) must be a tensor, got \(value)")
        }
        return tensor
    }

    /// The optional tensor input at `index`: nil when omitted, or when it is an empty optional.
    public func optionalTensor(_ index: Int) throws -> Tensor? {
        switch value(index) {
        case nil, .optional(nil, _): return nil
        case .optional(let inner?, _):
            guard let tensor = inner.tensor else { throw KernelError.invalidInput("input \(index) must be a tensor") }
            return tensor
        case .tensor(let tensor): return tensor
        case .sequence: throw KernelError.invalidInput("input \(index) must be a tensor, got a sequence")
        }
    }

    /// Every present input tensor from `index` on (for variadic operators such as Concat or Sum).
    public func tensors(from index: Int) throws -> [Tensor] {
        try (index..<count).map { try tensor($0) }
    }
}

/// Run-time services a kernel may use: the thread budget, and the runtime's executor for subgraphs.
public struct KernelContext: Sendable {
    /// How many threads the kernel may use (≥ 1).
    public let threads: Int
    private let subgraphRunner: @Sendable (String, [Value]) throws -> [Value]

    /// Creates a context; `subgraphRunner` runs the node's graph attribute with the given name on the given
    /// inputs, seeing the enclosing graph's values.
    public init(
        threads: Int = 1,
        subgraphRunner: @escaping @Sendable (String, [Value]) throws -> [Value] = { name, _ in
            throw KernelError.unsupported("no subgraph runner for attribute '\(name)'")
        }
    ) {
        self.threads = max(1, threads)
        self.subgraphRunner = subgraphRunner
    }

    /// Runs the node's graph attribute `attribute` (e.g. `then_branch`, `body`) on `inputs`.
    public func runSubgraph(_ attribute: String, inputs: [Value]) throws -> [Value] {
        try subgraphRunner(attribute, inputs)
    }
}

/// Why a kernel refused its node or its inputs. The runtime adds the node name, op and domain.
public enum KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required input is absent.
    case missingInput(Int)
    /// An input's value, shape or type is not acceptable.
    case invalidInput(String)
    /// An attribute is missing, of the wrong kind or out of range.
    case invalidAttribute(String, String)
    /// The input is valid ONNX but this kernel does not implement the case.
    case unsupported(String)

    public var description: String {
        switch self {
        case .missingInput(let index): "required input \(index) is missing"
        case .invalidInput(let reason): reason
        case .invalidAttribute(let name, let reason): "attribute '\(name)': \(reason)"
        case .unsupported(let reason): "not supported: \(reason)"
        }
    }
}
