import OnyxCore

/// An element as the data-movement kernels see it: a fixed-size word that stands in for every plain type of
/// that byte size, or `String`. A kernel written once over `MovableElement` moves tensors of any type without
/// looking inside their elements.
protocol MovableElement {
    /// The all-zero element: ONNX's zero for every plain type (`0`, `0.0`, `false`), `""` for strings.
    static var zero: Self { get }

    /// Calls `body` with the elements of `tensor`, whose type must be stored as `Self`.
    static func withElements<R>(of tensor: Tensor, _ body: (UnsafeBufferPointer<Self>) throws -> R) rethrows -> R

    /// A tensor of `dataType` and `shape` whose elements `body` writes. `body` must write every element: plain
    /// words start uninitialised (assigning to them is initialising them), strings start as `""`.
    static func makeTensor(
        _ dataType: DataType, shape: [Int], _ body: (UnsafeMutableBufferPointer<Self>) throws -> Void
    ) rethrows -> Tensor
}

/// A computation over the element storage of a tensor type, as data-movement kernels see it.
protocol MovableVisitor {
    associatedtype Output
    func visit<E: MovableElement>(_ type: E.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with the storage word of this type's byte size (1, 2, 4, 8 or 16), or `String`.
    func visitMovable<V: MovableVisitor>(_ visitor: V) throws -> V.Output {
        if self == .string { return try visitor.visit(String.self) }
        switch storageSize {
        case 1: return try visitor.visit(UInt8.self)
        case 2: return try visitor.visit(UInt16.self)
        case 4: return try visitor.visit(UInt32.self)
        case 8: return try visitor.visit(UInt64.self)
        case 16: return try visitor.visit(Word128.self)
        default: preconditionFailure("no storage word of \(storageSize) bytes for \(self)")
        }
    }
}

/// A plain word whose bytes are an element's bytes. Tensor storage is a whole Swift array, whose elements
/// start on a 16-byte boundary, so viewing it as words of up to 8-byte alignment is always aligned.
protocol StorageWord: MovableElement, BitwiseCopyable {}

extension StorageWord {
    static func withElements<R>(of tensor: Tensor, _ body: (UnsafeBufferPointer<Self>) throws -> R) rethrows -> R {
        try tensor.withUnsafeRawBytes { bytes in try bytes.withMemoryRebound(to: Self.self) { try body($0) } }
    }

    static func makeTensor(
        _ dataType: DataType, shape: [Int], _ body: (UnsafeMutableBufferPointer<Self>) throws -> Void
    ) rethrows -> Tensor {
        try Tensor.uninitialized(dataType, shape: shape) { bytes in
            try bytes.withMemoryRebound(to: Self.self) { try body($0) }
        }
    }
}

extension UInt8: StorageWord {}
extension UInt16: StorageWord {}
extension UInt32: StorageWord {}
extension UInt64: StorageWord {}

/// The 16-byte storage word (complex128).
struct Word128: StorageWord {
    var low: UInt64
    var high: UInt64
    static var zero: Word128 { Word128(low: 0, high: 0) }
}

extension String: MovableElement {
    static func withElements<R>(of tensor: Tensor, _ body: (UnsafeBufferPointer<String>) throws -> R) rethrows -> R {
        try tensor.elements(as: String.self).withUnsafeBufferPointer { try body($0) }
    }

    static func makeTensor(
        _ dataType: DataType, shape: [Int], _ body: (UnsafeMutableBufferPointer<String>) throws -> Void
    ) rethrows -> Tensor {
        var elements = [String](repeating: "", count: shape.reduce(1, *))
        try elements.withUnsafeMutableBufferPointer { try body($0) }
        return Tensor(shape: shape, elements: elements)
    }
}
