/// A Swift type that stores one element of an ONNX tensor.
///
/// Every `DataType` has exactly one conforming type (see `DataType.elementType`). Types that are plain bits
/// (everything but `String`) are copied bytewise by the data-movement kernels.
public protocol TensorElement: Sendable, Equatable {
    /// The ONNX data type this Swift type stores.
    static var dataType: DataType { get }
    /// The value a freshly allocated tensor holds (ONNX's zero for numbers, `false`, `""`).
    static var zero: Self { get }
}

extension TensorElement {
    /// Bytes one element occupies in memory.
    public static var storageSize: Int { MemoryLayout<Self>.stride }
}

/// Elements that convert losslessly enough to and from `Double` for generic arithmetic and comparison.
public protocol NumericElement: TensorElement {
    /// The value as a `Double` (exact for every type but 64-bit integers beyond 2^53).
    var doubleValue: Double { get }
    /// Converts from `Double` the way ONNX's Cast does for this type (rounding, wrapping or saturating).
    init(converting value: Double)
}

extension Float: NumericElement {
    public static var dataType: DataType { .float }
    public var doubleValue: Double { Double(self) }
    public init(converting value: Double) { self = Float(value) }
}

extension Double: NumericElement {
    public static var dataType: DataType { .double }
    public var doubleValue: Double { self }
    public init(converting value: Double) { self = value }
}

extension Float16: NumericElement {
    public static var dataType: DataType { .float16 }
    public var doubleValue: Double { Double(self) }
    public init(converting value: Double) { self = Float16(Float(value)) }
}

/// Fixed-width integers convert from floating point by truncation toward zero and wrap out-of-range values,
/// as a C cast on the usual hardware does (what ONNX Runtime and numpy produce).
extension NumericElement where Self: FixedWidthInteger {
    public var doubleValue: Double { Double(self) }
    public init(converting value: Double) {
        if value.isNaN {
            self = .zero
        } else if let exact = Self(exactly: value.rounded(.towardZero)) {
            self = exact
        } else if let wide = Int64(exactly: value.rounded(.towardZero)) {
            self = Self(truncatingIfNeeded: wide)
        } else if value > 0, let wide = UInt64(exactly: value.rounded(.towardZero)) {
            self = Self(truncatingIfNeeded: wide)
        } else {
            self = value > 0 ? Self.max : Self.min
        }
    }
}

extension Int8: NumericElement { public static var dataType: DataType { .int8 } }
extension Int16: NumericElement { public static var dataType: DataType { .int16 } }
extension Int32: NumericElement { public static var dataType: DataType { .int32 } }
extension Int64: NumericElement { public static var dataType: DataType { .int64 } }
extension UInt8: NumericElement { public static var dataType: DataType { .uint8 } }
extension UInt16: NumericElement { public static var dataType: DataType { .uint16 } }
extension UInt32: NumericElement { public static var dataType: DataType { .uint32 } }
extension UInt64: NumericElement { public static var dataType: DataType { .uint64 } }

extension Bool: NumericElement {
    public static var dataType: DataType { .bool }
    public static var zero: Bool { false }
    public var doubleValue: Double { self ? 1 : 0 }
    public init(converting value: Double) { self = value != 0 }
}

extension String: TensorElement {
    public static var dataType: DataType { .string }
    public static var zero: String { "" }
}

/// A complex number of two `Float`s (ONNX `complex64`).
public struct Complex64: TensorElement {
    public var real: Float
    public var imaginary: Float
    public init(real: Float, imaginary: Float) {
        self.real = real
        self.imaginary = imaginary
    }
    public static var dataType: DataType { .complex64 }
    public static var zero: Complex64 { Complex64(real: 0, imaginary: 0) }
}

/// A complex number of two `Double`s (ONNX `complex128`).
public struct Complex128: TensorElement {
    public var real: Double
    public var imaginary: Double
    public init(real: Double, imaginary: Double) {
        self.real = real
        self.imaginary = imaginary
    }
    public static var dataType: DataType { .complex128 }
    public static var zero: Complex128 { Complex128(real: 0, imaginary: 0) }
}
