/// Contiguous storage of one element type. `Array` of any `TensorElement` is one, so tensors move in and out of
/// Swift arrays without copying.
package protocol ElementStorage: Sendable {
    var count: Int { get }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ElementStorage where Element: TensorElement {}

/// An n-dimensional array of one ONNX element type, in row-major (C) order.
///
/// A `Tensor` is a value: copies share storage until one is changed. Read elements with ``elements(as:)``
/// (no copy) and build one from a Swift array with ``init(shape:elements:)`` (no copy either).
public struct Tensor: Sendable, CustomStringConvertible {
    /// The ONNX element type.
    public let dataType: DataType
    /// Extent of each dimension; `[]` for a scalar.
    public let shape: [Int]
    package let storage: any ElementStorage

    /// Number of elements (the product of `shape`; 1 for a scalar).
    public var count: Int { storage.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A tensor holding `elements` in row-major order. `elements.count` must equal the product of `shape`.
    public init<T: TensorElement>(shape: [Int], elements: [T]) {
        precondition(
            elements.count == shape.reduce(1, *),
            "\(elements.count) elements do not fill shape \(shape)")
        self.dataType = T.dataType
        self.shape = shape
        self.storage = elements
    }

    /// A rank-0 tensor holding one value.
    public init<T: TensorElement>(scalar: T) {
        self.init(shape: [], elements: [scalar])
    }

    /// A tensor of `shape` with every element the type's zero (`0`, `false`, `""`).
    public init(zeros dataType: DataType, shape: [Int]) {
        func make<T: TensorElement>(_: T.Type) -> any ElementStorage {
            [T](repeating: T.zero, count: shape.reduce(1, *))
        }
        self.dataType = dataType
        self.shape = shape
        self.storage = make(dataType.elementType)
    }

    /// A tensor whose elements are given as their little-endian bytes (every type but `string`).
    /// Returns nil when the byte count does not match the shape.
    public init?(dataType: DataType, shape: [Int], littleEndianBytes bytes: [UInt8]) {
        guard dataType != .string else { return nil }
        let count = shape.reduce(1, *)
        guard bytes.count == count * dataType.storageSize else { return nil }
        self = Tensor.uninitialized(dataType, shape: shape) { destination in
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
    }

    package init(dataType: DataType, shape: [Int], storage: any ElementStorage) {
        self.dataType = dataType
        self.shape = shape
        self.storage = storage
    }

    /// The elements as a Swift array, without copying. `T` must be `dataType.elementType`.
    public func elements<T: TensorElement>(as type: T.Type = T.self) -> [T] {
        guard let typed = storage as? [T] else {
            preconditionFailure("tensor of \(dataType) read as \(T.self)")
        }
        return typed
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(dataType: dataType, shape: newShape, storage: storage)
    }

    /// Every element converted to `Double` (nil for strings and complex numbers).
    public func doubleValues() -> [Double]? {
        func convert<T: TensorElement>(_: T.Type) -> [Double]? {
            guard let numeric = storage as? [T], T.self is any NumericElement.Type else { return nil }
            return numeric.map { ($0 as! any NumericElement).doubleValue }
        }
        switch dataType {
        case .float: return elements(as: Float.self).map(Double.init)
        case .double: return elements(as: Double.self)
        case .int64: return elements(as: Int64.self).map(Double.init)
        case .int32: return elements(as: Int32.self).map(Double.init)
        default: return convert(dataType.elementType)
        }
    }

    /// Every element as `Int` (for shape-like inputs such as Reshape's shape or Slice's starts);
    /// nil unless the type is an integer type.
    public func intValues() -> [Int]? {
        switch dataType {
        case .int64: return elements(as: Int64.self).map { Int($0) }
        case .int32: return elements(as: Int32.self).map { Int($0) }
        default:
            guard dataType.isInteger, let doubles = doubleValues() else { return nil }
            return doubles.map { Int($0) }
        }
    }

    /// The little-endian bytes of every element (every type but `string`).
    public func littleEndianBytes() -> [UInt8]? {
        guard dataType != .string else { return nil }
        return storage.withUnsafeBytes { Array($0) }
    }

    /// A short human description: type, shape and the first few values.
    public var description: String {
        let shown = 8
        let values: [String]
        switch dataType {
        case .string: values = elements(as: String.self).prefix(shown).map { "\"\($0)\"" }
        case .bool: values = elements(as: Bool.self).prefix(shown).map { "\($0)" }
        case .complex64: values = elements(as: Complex64.self).prefix(shown).map { "\($0.real)+\($0.imaginary)i" }
        case .complex128: values = elements(as: Complex128.self).prefix(shown).map { "\($0.real)+\($0.imaginary)i" }
        default: values = (doubleValues() ?? []).prefix(shown).map { Self.format($0, isInteger: dataType.isInteger) }
        }
        let more = count > shown ? ", …" : ""
        return "\(dataType) \(shape): [\(values.joined(separator: ", "))\(more)]"
    }

    private static func format(_ value: Double, isInteger: Bool) -> String {
        if isInteger, value.magnitude < 1e15 { return String(Int64(value)) }
        return "\(Float(value))"
    }
}

extension Tensor {
    /// A tensor whose bytes `initialize` writes in full. For kernels that fill outputs bytewise; strings are
    /// not plain bytes and are refused.
    package static func uninitialized(
        _ dataType: DataType, shape: [Int], initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows -> Tensor {
        precondition(dataType != .string, "string tensors are not plain bytes")
        func make<T: TensorElement>(_: T.Type) throws -> any ElementStorage {
            try [T](unsafeUninitializedCapacity: shape.reduce(1, *)) { buffer, initializedCount in
                try initialize(UnsafeMutableRawBufferPointer(buffer))
                initializedCount = buffer.count
            }
        }
        return Tensor(dataType: dataType, shape: shape, storage: try make(dataType.elementType))
    }

    /// Read access to the raw element bytes, for data-movement kernels that are indifferent to the type.
    package func withUnsafeRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }
}

extension Tensor: Equatable {
    /// Equal when type, shape and every element are equal (NaN is unequal to itself, as in IEEE).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.dataType == rhs.dataType, lhs.shape == rhs.shape else { return false }
        func equal<T: TensorElement>(_: T.Type) -> Bool { lhs.elements(as: T.self) == rhs.elements(as: T.self) }
        return equal(lhs.dataType.elementType)
    }
}
