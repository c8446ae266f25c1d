import OnyxCore

// Generic kernels compute on a numeric element through its *lane*: the wide type that holds it exactly. Every
// floating-point kind widens to `Double`, signed integers (2 to 64 bits) to `Int64`, unsigned ones to `UInt64`,
// and `Bool` stays itself. Narrowing back rounds floats and keeps the low bits of integers, so integer results wrap
// exactly as the narrow type's own `&+`, `&*`, `~`, `<<` would. Converting from any lane follows ONNX Cast.

/// The attributes that shape a conversion, besides the target type (Cast's `saturate` and `round_mode`).
struct CastOptions: Sendable {
    /// Out-of-range values become the largest finite value (float8 targets; float8e8m0 when rounding up).
    var saturate = true
    /// How values round to float8e8m0.
    var rounding = PowerOfTwoRounding.up

    /// The defaults: saturate, round up.
    init() {}
}

/// A numeric element type with its lane, converted to from every lane as ONNX Cast converts (numpy's astype in
/// the reference): floats to integers truncate toward zero and wrap, integers to integers keep the low bits,
/// anything to bool is "nonzero", float8 targets round to nearest even and honour `saturate`.
protocol LaneElement: NumericElement {
    /// `Double`, `Int64`, `UInt64` or `Bool`.
    associatedtype Lane: Sendable
    /// The value in its lane, exactly.
    var lane: Lane { get }
    /// A lane value narrowed back, as Cast converts it with the default options.
    init(lane: Lane)
    init(castingReal value: Double, options: CastOptions)
    init(castingSigned value: Int64, options: CastOptions)
    init(castingUnsigned value: UInt64, options: CastOptions)
}

extension LaneElement {
    /// 0 or 1.
    init(castingLogical value: Bool, options: CastOptions) {
        self.init(castingSigned: value ? 1 : 0, options: options)
    }
}

extension LaneElement where Lane == Double {
    var lane: Double { doubleValue }
    init(lane: Double) { self.init(castingReal: lane, options: CastOptions()) }
}

extension LaneElement where Lane == Int64 {
    init(lane: Int64) { self.init(castingSigned: lane, options: CastOptions()) }
}

extension LaneElement where Lane == UInt64 {
    init(lane: UInt64) { self.init(castingUnsigned: lane, options: CastOptions()) }
}

/// Standard integers: wrap (keep the low bits) from integers, truncate toward zero from floats.
extension LaneElement where Self: FixedWidthInteger {
    init(castingReal value: Double, options: CastOptions) { self.init(converting: value) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(truncatingIfNeeded: value) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(truncatingIfNeeded: value) }
}

extension LaneElement where Self: FixedWidthInteger, Lane == Int64 {
    var lane: Int64 { Int64(truncatingIfNeeded: self) }
}

extension LaneElement where Self: FixedWidthInteger, Lane == UInt64 {
    var lane: UInt64 { UInt64(truncatingIfNeeded: self) }
}

extension Int8: LaneElement { typealias Lane = Int64 }
extension Int16: LaneElement { typealias Lane = Int64 }
extension Int32: LaneElement { typealias Lane = Int64 }
extension Int64: LaneElement { typealias Lane = Int64 }
extension UInt8: LaneElement { typealias Lane = UInt64 }
extension UInt16: LaneElement { typealias Lane = UInt64 }
extension UInt32: LaneElement { typealias Lane = UInt64 }
extension UInt64: LaneElement { typealias Lane = UInt64 }

/// Native floats: each conversion rounds once, directly from the source value (Float16 from Double too: going
/// through Float would round twice).
extension LaneElement where Self: BinaryFloatingPoint {
    init(castingReal value: Double, options: CastOptions) { self.init(value) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(value) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(value) }
}

extension Float: LaneElement { typealias Lane = Double }
extension Double: LaneElement { typealias Lane = Double }
extension Float16: LaneElement { typealias Lane = Double }

/// Narrow floats: converted through Float, where their encoders start.
protocol NarrowFloatLaneElement: LaneElement where Lane == Double {
    init(castingFloat value: Float, options: CastOptions)
}

extension NarrowFloatLaneElement {
    init(castingReal value: Double, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
}

extension BFloat16: NarrowFloatLaneElement {
    init(castingFloat value: Float, options: CastOptions) { self.init(value) }
}

/// The float8 kinds honour `saturate`; float4e2m1, which has neither NaN nor infinity, always saturates.
extension NarrowFloatLaneElement where Self: SmallFloatElement {
    init(castingFloat value: Float, options: CastOptions) { self.init(value, saturate: options.saturate) }
}

extension Float8E4M3FN: NarrowFloatLaneElement {}
extension Float8E4M3FNUZ: NarrowFloatLaneElement {}
extension Float8E5M2: NarrowFloatLaneElement {}
extension Float8E5M2FNUZ: NarrowFloatLaneElement {}
extension Float4E2M1: NarrowFloatLaneElement {}

extension Float8E8M0: NarrowFloatLaneElement {
    init(castingFloat value: Float, options: CastOptions) {
        self.init(value, saturate: options.saturate, rounding: options.rounding)
    }
}

/// 2- and 4-bit integers wrap like the wider ones (ml_dtypes' astype, which the reference uses).
extension LaneElement where Self: SmallIntegerElement {
    init(castingReal value: Double, options: CastOptions) {
        // NaN, infinities and magnitudes past Int64 give 0, as ml_dtypes does.
        self.init(castingSigned: Int64(exactly: value.rounded(.towardZero)) ?? 0, options: options)
    }
    init(castingSigned value: Int64, options: CastOptions) { self.init(packedBits: UInt8(truncatingIfNeeded: value)) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(packedBits: UInt8(truncatingIfNeeded: value)) }
}

extension LaneElement where Self: SmallIntegerElement, Lane == Int64 {
    var lane: Int64 { Int64(value) }
}

extension LaneElement where Self: SmallIntegerElement, Lane == UInt64 {
    var lane: UInt64 { UInt64(value) }
}

extension Int4: LaneElement { typealias Lane = Int64 }
extension UInt4: LaneElement { typealias Lane = UInt64 }
extension Int2: LaneElement { typealias Lane = Int64 }
extension UInt2: LaneElement { typealias Lane = UInt64 }

extension Bool: LaneElement {
    var lane: Bool { self }
    init(lane: Bool) { self = lane }
    init(castingReal value: Double, options: CastOptions) { self = value != 0 }
    init(castingSigned value: Int64, options: CastOptions) { self = value != 0 }
    init(castingUnsigned value: UInt64, options: CastOptions) { self = value != 0 }
}
