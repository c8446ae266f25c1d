/// One dimension of a declared shape.
public enum Dimension: Sendable, Hashable, CustomStringConvertible {
    /// A known extent.
    case value(Int)
    /// A named symbolic extent (`dim_param`), such as `batch`.
    case symbol(String)
    /// Nothing known.
    case unknown

    public var description: String {
        switch self {
        case .value(let extent): "\(extent)"
        case .symbol(let name): name
        case .unknown: "?"
        }
    }
}

/// The declared type of a graph value: what ONNX's `TypeProto` says.
public indirect enum ValueType: Sendable, Hashable, CustomStringConvertible {
    /// A tensor; `shape` is nil when the rank is unknown.
    case tensor(DataType, shape: [Dimension]?)
    /// A sparse tensor (decoded as a dense one).
    case sparseTensor(DataType, shape: [Dimension]?)
    /// A sequence of values of one type.
    case sequence(ValueType)
    /// A value of one type, or nothing.
    case optional(ValueType)
    /// A map from a key element type to values of one type.
    case map(DataType, ValueType)

    public var description: String {
        switch self {
        case .tensor(let type, let shape), .sparseTensor(let type, let shape):
            let dims = shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[?]"
            return "tensor(\(type)) \(dims)"
        case .sequence(let element): return "sequence(\(element))"
        case .optional(let element): return "optional(\(element))"
        case .map(let key, let value): return "map(\(key), \(value))"
        }
    }
}

/// A run-time value flowing along a graph edge: a tensor, a sequence of tensors, or an optional.
public indirect enum Value: Sendable, CustomStringConvertible {
    case tensor(Tensor)
    /// A sequence; `elementType` is kept so that an empty sequence still knows its type.
    case sequence([Value], elementType: ValueType?)
    /// An optional that may hold nothing; `type` is the contained type when known.
    case optional(Value?, type: ValueType?)

    /// The tensor, when this value is one.
    public var tensor: Tensor? {
        if case .tensor(let tensor) = self { return tensor }
        return nil
    }

    public var description: String {
        switch self {
        case .tensor(let tensor): return tensor.description
        case .sequence(let values, _): return "sequence of \(values.count): [" + values.map(\.description).joined(separator: "; ") + "]"
        case .optional(let value, _): return value.map { "optional(\($0))" } ?? "optional(none)"
        }
    }
}
