// Element types narrower than Swift's own: bfloat16, the float8/float4 kinds, and 2- and 4-bit integers.
// Each stores its bit pattern; arithmetic converts through Float. Sub-byte types take one byte each in a
// Tensor and are packed two (or four) to a byte only in TensorProto raw data.

/// Google brain float: the upper 16 bits of an IEEE float32.
public struct BFloat16: NumericElement {
    public var bits: UInt16
    public init(bits: UInt16) { self.bits = bits }
    public static var dataType: DataType { .bfloat16 }
    public static var zero: BFloat16 { BFloat16(bits: 0) }
    public var floatValue: Float { Float(bitPattern: UInt32(bits) << 16) }
    public var doubleValue: Double { Double(floatValue) }
    public init(converting value: Double) { self.init(Float(value)) }
    /// Rounds to nearest, ties to even; NaN stays a (quiet) NaN.
    public init(_ value: Float) {
        if value.isNaN {
            bits = 0x7FC0
            return
        }
        let raw = value.bitPattern
        let rounding = UInt32(0x7FFF) + ((raw >> 16) & 1)
        bits = UInt16(truncatingIfNeeded: (raw &+ rounding) >> 16)
    }
}

/// How a small float format spells NaN and infinity (ONNX's float8 kinds differ exactly here).
enum SpecialValues: Sendable {
    /// IEEE-like: all-ones exponent is infinity (mantissa 0) or NaN.
    case ieee
    /// "fn": no infinity; only the all-ones pattern (per sign) is NaN.
    case finiteAllOnesNaN
    /// "fnuz": no infinity, no negative zero; the negative-zero pattern is the only NaN.
    case finiteNegativeZeroNaN
    /// No NaN and no infinity (float4e2m1).
    case none
    /// Unsigned exponent-only format: all-ones is NaN (float8e8m0).
    case exponentOnly
}

/// A sign/exponent/mantissa layout of at most 8 bits, with decoding and round-to-nearest-even encoding.
struct SmallFloatFormat: Sendable {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int
    let specials: SpecialValues
    /// Every non-negative finite code's value, indexed by code (sign bit clear); NaN codes hold NaN.
    let values: [Float]
    /// Non-negative finite codes sorted by value, for nearest-value search.
    let finiteCodes: [UInt8]

    init(exponentBits: Int, mantissaBits: Int, bias: Int, specials: SpecialValues) {
        self.exponentBits = exponentBits
        self.mantissaBits = mantissaBits
        self.bias = bias
        self.specials = specials
        let magnitudeCodes = 1 << (exponentBits + mantissaBits)
        var values = [Float]()
        for code in 0..<magnitudeCodes {
            values.append(Self.decodeMagnitude(
                code, exponentBits: exponentBits, mantissaBits: mantissaBits, bias: bias, specials: specials))
        }
        self.values = values
        finiteCodes = (0..<magnitudeCodes).filter { values[$0].isFinite }.map { UInt8($0) }
            .sorted { values[Int($0)] < values[Int($1)] }
    }

    private static func decodeMagnitude(
        _ code: Int, exponentBits: Int, mantissaBits: Int, bias: Int, specials: SpecialValues
    ) -> Float {
        let exponentMask = (1 << exponentBits) - 1
        let exponent = (code >> mantissaBits) & exponentMask
        let mantissa = code & ((1 << mantissaBits) - 1)
        switch specials {
        case .ieee where exponent == exponentMask:
            return mantissa == 0 ? .infinity : .nan
        case .finiteAllOnesNaN where exponent == exponentMask && mantissa == (1 << mantissaBits) - 1:
            return .nan
        case .exponentOnly where exponent == exponentMask:
            return .nan
        default:
            break
        }
        if exponent == 0 && specials != .exponentOnly {
            return Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        }
        let significand = 1 + Float(mantissa) / Float(1 << mantissaBits)
        return Float(sign: .plus, exponent: exponent - bias, significand: significand)
    }

    private var signBit: Int { specials == .exponentOnly ? 0 : 1 << (exponentBits + mantissaBits) }

    func decode(_ bits: UInt8) -> Float {
        let code = Int(bits)
        if specials == .finiteNegativeZeroNaN && code == signBit { return .nan }
        if specials == .exponentOnly { return values[code] }
        let magnitude = values[code & (signBit - 1)]
        return code & signBit != 0 ? -magnitude : magnitude
    }

    /// The code a NaN of the given sign encodes to, as ml_dtypes (the ONNX reference) produces it: the sign is
    /// kept where the format has signed NaNs, and float4e2m1, which has none, gives a zero of the opposite sign.
    private func nanCode(negative: Bool) -> UInt8 {
        let sign = negative ? UInt8(truncatingIfNeeded: signBit) : 0
        switch specials {
        case .ieee: return UInt8(truncatingIfNeeded: (signBit - 1) & ~((1 << (mantissaBits - 1)) - 1)) | sign
        case .finiteAllOnesNaN: return UInt8(truncatingIfNeeded: signBit - 1) | sign
        case .exponentOnly: return 0xFF
        case .finiteNegativeZeroNaN: return UInt8(signBit)
        case .none: return negative ? 0 : UInt8(signBit)
        }
    }

    /// Encodes with round-to-nearest-even. `saturate` clamps out-of-range values (infinities included) to the
    /// largest finite value, as ONNX Cast's default does; otherwise they become infinity or NaN as the format allows.
    func encode(_ value: Float, saturate: Bool) -> UInt8 {
        if specials == .exponentOnly { return encodePowerOfTwo(value, saturate: saturate, rounding: .up) }
        if value.isNaN { return nanCode(negative: value.sign == .minus) }
        let negative = value.sign == .minus && specials != .exponentOnly
        let magnitude = abs(value)
        let largest = finiteCodes.last!
        var code: UInt8
        if magnitude > values[Int(largest)] {
            let overflowed: Bool
            if magnitude.isInfinite {
                overflowed = true
            } else {
                let step = values[Int(largest)] - values[Int(finiteCodes[finiteCodes.count - 2])]
                overflowed = magnitude >= values[Int(largest)] + step / 2 && !(magnitude == values[Int(largest)] + step / 2 && largest & 1 == 0)
            }
            if !overflowed || saturate || specials == .none {
                code = largest
            } else if specials == .ieee {
                code = UInt8(truncatingIfNeeded: (signBit - 1) & ~((1 << mantissaBits) - 1))
            } else {
                return nanCode(negative: negative)
            }
        } else {
            code = nearestCode(magnitude)
        }
        if negative {
            if specials == .finiteNegativeZeroNaN && code == 0 { return 0 }
            code |= UInt8(signBit)
        }
        return code
    }

    /// Encodes for the exponent-only format (float8e8m0) from float32's exponent bits, exactly as ONNX's reference
    /// `to_float8e8m0` does: the sign is ignored, NaN and infinity give NaN, and `saturate` only stops rounding
    /// past the largest exponent.
    func encodePowerOfTwo(_ value: Float, saturate: Bool, rounding: PowerOfTwoRounding) -> UInt8 {
        let bits = value.bitPattern
        let exponent = (bits >> 23) & 0xFF
        if exponent == 0xFF { return 0xFF }
        let roundsUp: Bool
        switch rounding {
        case .up:
            roundsUp = bits & 0x7F_FFFF != 0
        case .down:
            roundsUp = false
        case .nearest:
            let guardBit = bits & 0x40_0000 != 0
            let roundBit = bits & 0x20_0000 != 0
            let sticky = bits & 0x1F_FFFF != 0
            roundsUp = guardBit && (roundBit || sticky || exponent > 0)
        }
        let increment: UInt32 = roundsUp && !(saturate && exponent == 0xFE) ? 1 : 0
        return UInt8(truncatingIfNeeded: exponent + increment)
    }

    private func nearestCode(_ magnitude: Float) -> UInt8 {
        var low = 0
        var high = finiteCodes.count - 1
        while high - low > 1 {
            let middle = (low + high) / 2
            if values[Int(finiteCodes[middle])] <= magnitude { low = middle } else { high = middle }
        }
        let below = finiteCodes[low]
        let above = finiteCodes[high]
        if magnitude <= values[Int(below)] { return below }
        let distanceBelow = magnitude - values[Int(below)]
        let distanceAbove = values[Int(above)] - magnitude
        if distanceBelow < distanceAbove { return below }
        if distanceAbove < distanceBelow { return above }
        return below & 1 == 0 ? below : above
    }
}

/// The shared shape of the float8 and float4 element types: bits plus a format that decodes and encodes them.
public protocol SmallFloatElement: NumericElement {
    var bits: UInt8 { get }
    init(bits: UInt8)
    /// The value, exactly.
    var floatValue: Float { get }
    /// Encodes with round-to-nearest-even; see ONNX Cast's `saturate` attribute.
    init(_ value: Float, saturate: Bool)
}

protocol SmallFloatLayout: SmallFloatElement {
    static var format: SmallFloatFormat { get }
}

extension SmallFloatLayout {
    public static var zero: Self { Self(bits: 0) }
    public var floatValue: Float { Self.format.decode(bits) }
    public var doubleValue: Double { Double(floatValue) }
    public init(converting value: Double) { self.init(Float(value), saturate: true) }
    /// Encodes with round-to-nearest-even; see ONNX Cast's `saturate` attribute.
    public init(_ value: Float, saturate: Bool) { self.init(bits: Self.format.encode(value, saturate: saturate)) }
}

/// float8 with 4 exponent bits and 3 mantissa bits, no infinity (ONNX FLOAT8E4M3FN).
public struct Float8E4M3FN: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float8e4m3fn }
    static let format = SmallFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 7, specials: .finiteAllOnesNaN)
}

/// float8 E4M3 with no infinity and no negative zero (ONNX FLOAT8E4M3FNUZ).
public struct Float8E4M3FNUZ: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float8e4m3fnuz }
    static let format = SmallFloatFormat(exponentBits: 4, mantissaBits: 3, bias: 8, specials: .finiteNegativeZeroNaN)
}

/// float8 with 5 exponent bits and 2 mantissa bits, IEEE-style infinities (ONNX FLOAT8E5M2).
public struct Float8E5M2: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float8e5m2 }
    static let format = SmallFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 15, specials: .ieee)
}

/// float8 E5M2 with no infinity and no negative zero (ONNX FLOAT8E5M2FNUZ).
public struct Float8E5M2FNUZ: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float8e5m2fnuz }
    static let format = SmallFloatFormat(exponentBits: 5, mantissaBits: 2, bias: 16, specials: .finiteNegativeZeroNaN)
}

/// float8 that is an unsigned power of two, 2^(bits − 127) (ONNX FLOAT8E8M0, used for MX scales).
/// Encoding rounds up, Cast's default `round_mode`; ``init(_:saturate:rounding:)`` chooses another.
public struct Float8E8M0: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float8e8m0 }
    static let format = SmallFloatFormat(exponentBits: 8, mantissaBits: 0, bias: 127, specials: .exponentOnly)

    /// Encodes `value`'s magnitude with the given rounding, as ONNX Cast does with `round_mode` and `saturate`.
    public init(_ value: Float, saturate: Bool, rounding: PowerOfTwoRounding) {
        self.init(bits: Self.format.encodePowerOfTwo(value, saturate: saturate, rounding: rounding))
    }
}

/// How a value that is not a power of two rounds to float8e8m0 (ONNX Cast's `round_mode`).
public enum PowerOfTwoRounding: String, Sendable {
    case up, down, nearest
}

/// float4 with 2 exponent bits and 1 mantissa bit, no NaN or infinity (ONNX FLOAT4E2M1).
public struct Float4E2M1: SmallFloatLayout {
    public var bits: UInt8
    public init(bits: UInt8) { self.bits = bits }
    public static var dataType: DataType { .float4e2m1 }
    static let format = SmallFloatFormat(exponentBits: 2, mantissaBits: 1, bias: 1, specials: .none)
}

/// The shared shape of the 2- and 4-bit integer element types.
public protocol SmallIntegerElement: NumericElement {
    /// Bits per element in packed TensorProto data (2 or 4).
    static var bitWidth: Int { get }
    static var isSigned: Bool { get }
    /// The value, in the range the width allows.
    var value: Int8 { get }
    init(value: Int8)
}

extension SmallIntegerElement {
    public static var zero: Self { Self(value: 0) }
    public var doubleValue: Double { Double(value) }
    static var range: ClosedRange<Int> {
        isSigned ? -(1 << (bitWidth - 1))...((1 << (bitWidth - 1)) - 1) : 0...((1 << bitWidth) - 1)
    }
    /// Rounds half to even and saturates to the type's range, as QuantizeLinear does. (Cast instead truncates
    /// toward zero and wraps, like the wider integers: use ``init(packedBits:)`` on the truncated value.)
    public init(converting value: Double) {
        guard !value.isNaN else {
            self.init(value: 0)
            return
        }
        let clamped = min(max(value.rounded(.toNearestOrEven), Double(Self.range.lowerBound)), Double(Self.range.upperBound))
        self.init(value: Int8(clamped))
    }
    /// The value read from the low `bitWidth` bits of a packed byte, sign-extended where signed.
    public init(packedBits: UInt8) {
        let mask = UInt8((1 << Self.bitWidth) - 1)
        let raw = Int(packedBits & mask)
        let signBit = 1 << (Self.bitWidth - 1)
        self.init(value: Int8(Self.isSigned && raw & signBit != 0 ? raw - (1 << Self.bitWidth) : raw))
    }
    /// The low `bitWidth` bits of this value, for packing.
    public var packedBits: UInt8 { UInt8(bitPattern: value) & UInt8((1 << Self.bitWidth) - 1) }
}

/// Signed 4-bit integer, −8…7 (ONNX INT4).
public struct Int4: SmallIntegerElement {
    public var value: Int8
    public init(value: Int8) { self.value = value }
    public static var dataType: DataType { .int4 }
    public static var bitWidth: Int { 4 }
    public static var isSigned: Bool { true }
}

/// Unsigned 4-bit integer, 0…15 (ONNX UINT4).
public struct UInt4: SmallIntegerElement {
    public var value: Int8
    public init(value: Int8) { self.value = value }
    public static var dataType: DataType { .uint4 }
    public static var bitWidth: Int { 4 }
    public static var isSigned: Bool { false }
}

/// Signed 2-bit integer, −2…1 (ONNX INT2).
public struct Int2: SmallIntegerElement {
    public var value: Int8
    public init(value: Int8) { self.value = value }
    public static var dataType: DataType { .int2 }
    public static var bitWidth: Int { 2 }
    public static var isSigned: Bool { true }
}

/// Unsigned 2-bit integer, 0…3 (ONNX UINT2).
public struct UInt2: SmallIntegerElement {
    public var value: Int8
    public init(value: Int8) { self.value = value }
    public static var dataType: DataType { .uint2 }
    public static var bitWidth: Int { 2 }
    public static var isSigned: Bool { false }
}
