import OnyxCore

// The element types quantized operators produce and read, and the conversions between them and Double that all
// quantization kernels share.

/// An element type a quantizing operator can produce (QuantizeLinear's `y`, QLinearMatMul's and QLinearConv's
/// outputs): 8- and 16-bit integers, 2- and 4-bit integers, and the float8/float4 kinds.
protocol QuantizedElement: NumericElement {
    /// `scaled + zeroPoint` converted the way QuantizeLinear specifies for this type: integers round half to even
    /// and saturate to their range; small floats round to nearest even, and clamp to the largest finite value
    /// when `saturate` is set (otherwise overflow becomes infinity or NaN as the format allows).
    static func quantize(_ scaled: Double, zeroPoint: Self, saturate: Bool) -> Self
}

extension QuantizedElement where Self: FixedWidthInteger {
    static func quantize(_ scaled: Double, zeroPoint: Self, saturate: Bool) -> Self {
        let value = scaled.rounded(.toNearestOrEven) + Double(zeroPoint)
        guard !value.isNaN else { return zeroPoint }
        return Self(Swift.min(Swift.max(value, Double(Self.min)), Double(Self.max)))
    }
}

extension QuantizedElement where Self: SmallIntegerElement {
    static func quantize(_ scaled: Double, zeroPoint: Self, saturate: Bool) -> Self {
        // init(converting:) rounds half to even and saturates to the type's range.
        Self(converting: scaled.rounded(.toNearestOrEven) + zeroPoint.doubleValue)
    }
}

/// The float8 kinds. Their public encoder always saturates, so the non-saturating overflow (to infinity where
/// the format has one, else NaN) is decided here from the format's largest finite value, with the encoder's
/// round-to-nearest-even rule.
protocol QuantizedFloat8: QuantizedElement, SmallFloatElement {}

extension QuantizedFloat8 {
    static func quantize(_ scaled: Double, zeroPoint: Self, saturate: Bool) -> Self {
        let value = Double(Float(scaled + zeroPoint.doubleValue))
        let nearest = Self(converting: value)
        guard !saturate, !value.isNaN else { return nearest }
        let largest = Self(converting: .infinity)
        let step = largest.doubleValue - Self(bits: largest.bits - 1).doubleValue
        let limit = largest.doubleValue + step / 2
        // Past half a step above the largest value rounding overflows; exactly there, ties go to the even code.
        guard abs(value) > limit || (abs(value) == limit && largest.bits & 1 == 1) else { return nearest }
        let infinity = Self(bits: largest.bits + 1)
        if infinity.doubleValue.isInfinite { return Self(bits: infinity.bits | (value < 0 ? 0x80 : 0)) }
        return Self(converting: value < 0 ? -Double.nan : .nan)
    }
}

/// float4e2m1 has neither infinity nor NaN: out-of-range values always clamp, whatever `saturate` says.
extension Float4E2M1: QuantizedElement {
    static func quantize(_ scaled: Double, zeroPoint: Self, saturate: Bool) -> Self {
        Self(converting: scaled + zeroPoint.doubleValue)
    }
}

extension UInt8: QuantizedElement {}
extension Int8: QuantizedElement {}
extension UInt16: QuantizedElement {}
extension Int16: QuantizedElement {}
extension UInt4: QuantizedElement {}
extension Int4: QuantizedElement {}
extension UInt2: QuantizedElement {}
extension Int2: QuantizedElement {}
extension Float8E4M3FN: QuantizedFloat8 {}
extension Float8E4M3FNUZ: QuantizedFloat8 {}
extension Float8E5M2: QuantizedFloat8 {}
extension Float8E5M2FNUZ: QuantizedFloat8 {}

/// A computation over any ``QuantizedElement`` type.
protocol QuantizedVisitor {
    associatedtype Output
    func visit<Q: QuantizedElement>(_ type: Q.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type; throws unless it is a quantized type.
    func visitQuantized<V: QuantizedVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .uint8: try visitor.visit(UInt8.self)
        case .int8: try visitor.visit(Int8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .int16: try visitor.visit(Int16.self)
        case .uint4: try visitor.visit(UInt4.self)
        case .int4: try visitor.visit(Int4.self)
        case .uint2: try visitor.visit(UInt2.self)
        case .int2: try visitor.visit(Int2.self)
        case .float8e4m3fn: try visitor.visit(Float8E4M3FN.self)
        case .float8e4m3fnuz: try visitor.visit(Float8E4M3FNUZ.self)
        case .float8e5m2: try visitor.visit(Float8E5M2.self)
        case .float8e5m2fnuz: try visitor.visit(Float8E5M2FNUZ.self)
        case .float4e2m1: try visitor.visit(Float4E2M1.self)
        default: throw KernelError.invalidInput("\(self) is not a quantized element type")
        }
    }
}

/// Quantizes already-scaled values around one zero point (zero when absent), saturating: the output step of
/// QLinearMatMul and QLinearConv, for whichever type the zero point has.
struct Requantizer: QuantizedVisitor {
    let scaled: [Double]
    let zeroPoint: Tensor?
    let shape: [Int]

    func visit<Q: QuantizedElement>(_: Q.Type) throws -> Tensor {
        let zero = zeroPoint?.elements(as: Q.self).first ?? Q.zero
        return Tensor(shape: shape, elements: scaled.map { Q.quantize($0, zeroPoint: zero, saturate: true) })
    }
}

/// Conversions between tensors and `Double` values shared by the quantization kernels.
enum QuantizationValues {
    /// Every element of a numeric tensor as a `Double` (exact for every type these kernels read).
    static func doubles(_ tensor: Tensor) throws -> [Double] {
        try tensor.dataType.visitNumeric(DoubleReader(tensor: tensor))
    }

    /// `value` rounded to the nearest value of the floating-point type `precision` (float, float16 or bfloat16;
    /// any other type leaves it in double precision).
    static func rounded(_ value: Double, to precision: DataType) -> Double {
        switch precision {
        case .float: Double(Float(value))
        case .float16: Double(Float16(Float(value)))
        case .bfloat16: BFloat16(Float(value)).doubleValue
        default: value
        }
    }

    /// A float, float16 or bfloat16 tensor holding `values`, each rounded to nearest.
    static func floatingTensor(_ values: [Double], as dataType: DataType, shape: [Int]) throws -> Tensor {
        switch dataType {
        case .float: Tensor(shape: shape, elements: values.map { Float($0) })
        case .float16: Tensor(shape: shape, elements: values.map { Float16(Float($0)) })
        case .bfloat16: Tensor(shape: shape, elements: values.map { BFloat16(Float($0)) })
        default: throw KernelError.invalidInput("output type must be float, float16 or bfloat16, got \(dataType)")
        }
    }

    private struct DoubleReader: NumericVisitor {
        let tensor: Tensor
        func visit<T: NumericElement>(_ type: T.Type) throws -> [Double] {
            tensor.elements(as: T.self).map(\.doubleValue)
        }
    }
}
