import OnyxCore

// The Math kernels describe each operator once, as a table entry with one closure per *lane*: the working type an
// element type widens to. Every floating-point kind computes in `Double`, signed integers in `Int64`, unsigned
// integers in `UInt64`, and `Bool` in itself. Narrowing back rounds for floats and keeps the low bits for integers,
// so integer results wrap exactly as the narrow type's own `&+`, `&*`, `~`, `<<` would. The hot Float operations
// bypass this with dedicated loops (see FloatVectorMath and the `float` fields of the tables).

/// An elementwise function of one argument, given for each lane that accepts it (nil: the lane is refused).
struct UnaryLanes: Sendable {
    typealias Lane<L> = @Sendable (L) -> L
    var real: Lane<Double>? = nil
    var signed: Lane<Int64>? = nil
    var unsigned: Lane<UInt64>? = nil
    var logical: Lane<Bool>? = nil
    /// Integers without a lane of their own go through `real` and back, converting as Cast does.
    var integersThroughReal = false
    /// A vectorised Float implementation, used instead of `real` for `float` tensors.
    var float: FloatVectorFunction? = nil
}

/// An elementwise function of two arguments of one type, per lane; a lane may throw (integer division by zero).
struct BinaryLanes: Sendable {
    typealias Lane<L> = @Sendable (L, L) throws -> L
    var real: Lane<Double>? = nil
    var signed: Lane<Int64>? = nil
    var unsigned: Lane<UInt64>? = nil
    var logical: Lane<Bool>? = nil
    /// A tight Float/Double loop, used instead of `real` for `float` and `double` tensors.
    var floatingArithmetic: FloatingArithmetic? = nil
}

/// An elementwise predicate of two arguments of one type, per lane.
struct ComparisonLanes: Sendable {
    typealias Lane<L> = @Sendable (L, L) -> Bool
    var real: Lane<Double>? = nil
    var signed: Lane<Int64>? = nil
    var unsigned: Lane<UInt64>? = nil
    var logical: Lane<Bool>? = nil
}

/// An element type as the Math tables compute on it: widened to its lane, computed, narrowed back.
protocol MathLaneElement: NumericElement {
    associatedtype MathLane
    var mathLane: MathLane { get }
    init(mathLane: MathLane)
    static func lane(of table: UnaryLanes) -> UnaryLanes.Lane<MathLane>?
    static func lane(of table: BinaryLanes) -> BinaryLanes.Lane<MathLane>?
    static func lane(of table: ComparisonLanes) -> ComparisonLanes.Lane<MathLane>?
}

/// Floating-point kinds: compute in `Double`.
protocol RealLaneElement: MathLaneElement where MathLane == Double {}

extension RealLaneElement {
    static func lane(of table: UnaryLanes) -> UnaryLanes.Lane<Double>? { table.real }
    static func lane(of table: BinaryLanes) -> BinaryLanes.Lane<Double>? { table.real }
    static func lane(of table: ComparisonLanes) -> ComparisonLanes.Lane<Double>? { table.real }
    var mathLane: Double { doubleValue }
}

/// Signed integers: compute in `Int64`, keep the low bits.
protocol SignedLaneElement: MathLaneElement, FixedWidthInteger where MathLane == Int64 {}

extension SignedLaneElement {
    static func lane(of table: UnaryLanes) -> UnaryLanes.Lane<Int64>? { table.signed }
    static func lane(of table: BinaryLanes) -> BinaryLanes.Lane<Int64>? { table.signed }
    static func lane(of table: ComparisonLanes) -> ComparisonLanes.Lane<Int64>? { table.signed }
    var mathLane: Int64 { Int64(truncatingIfNeeded: self) }
    init(mathLane: Int64) { self.init(truncatingIfNeeded: mathLane) }
}

/// Unsigned integers: compute in `UInt64`, keep the low bits.
protocol UnsignedLaneElement: MathLaneElement, FixedWidthInteger where MathLane == UInt64 {}

extension UnsignedLaneElement {
    static func lane(of table: UnaryLanes) -> UnaryLanes.Lane<UInt64>? { table.unsigned }
    static func lane(of table: BinaryLanes) -> BinaryLanes.Lane<UInt64>? { table.unsigned }
    static func lane(of table: ComparisonLanes) -> ComparisonLanes.Lane<UInt64>? { table.unsigned }
    var mathLane: UInt64 { UInt64(truncatingIfNeeded: self) }
    init(mathLane: UInt64) { self.init(truncatingIfNeeded: mathLane) }
}

extension Float: RealLaneElement {
    init(mathLane: Double) { self.init(mathLane) }
}
extension Double: RealLaneElement {
    init(mathLane: Double) { self = mathLane }
}
extension Float16: RealLaneElement {
    // Directly from Double: going through Float would round twice.
    init(mathLane: Double) { self.init(mathLane) }
}
extension BFloat16: RealLaneElement {
    init(mathLane: Double) { self.init(converting: mathLane) }
}
extension Float8E4M3FN: RealLaneElement {
    init(mathLane: Double) { self.init(converting: mathLane) }
}
extension Float8E4M3FNUZ: RealLaneElement {
    init(mathLane: Double) { self.init(converting: mathLane) }
}
extension Float8E5M2: RealLaneElement {
    init(mathLane: Double) { self.init(converting: mathLane) }
}
extension Float8E5M2FNUZ: RealLaneElement {
    init(mathLane: Double) { self.init(converting: mathLane) }
}

extension Int8: SignedLaneElement {}
extension Int16: SignedLaneElement {}
extension Int32: SignedLaneElement {}
extension Int64: SignedLaneElement {}
extension UInt8: UnsignedLaneElement {}
extension UInt16: UnsignedLaneElement {}
extension UInt32: UnsignedLaneElement {}
extension UInt64: UnsignedLaneElement {}

extension Bool: MathLaneElement {
    static func lane(of table: UnaryLanes) -> UnaryLanes.Lane<Bool>? { table.logical }
    static func lane(of table: BinaryLanes) -> BinaryLanes.Lane<Bool>? { table.logical }
    static func lane(of table: ComparisonLanes) -> ComparisonLanes.Lane<Bool>? { table.logical }
    var mathLane: Bool { self }
    init(mathLane: Bool) { self = mathLane }
}

/// A computation generic over the element types the Math tables handle.
protocol MathLaneVisitor {
    associatedtype Output
    func visit<T: MathLaneElement>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type. Throws, naming operator `name`, for the types no Math
    /// table computes on: strings, complex numbers, 2- and 4-bit integers, float4e2m1 and float8e8m0.
    func visitMathLane<V: MathLaneVisitor>(_ visitor: V, operator name: String) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .float16: try visitor.visit(Float16.self)
        case .bfloat16: try visitor.visit(BFloat16.self)
        case .float8e4m3fn: try visitor.visit(Float8E4M3FN.self)
        case .float8e4m3fnuz: try visitor.visit(Float8E4M3FNUZ.self)
        case .float8e5m2: try visitor.visit(Float8E5M2.self)
        case .float8e5m2fnuz: try visitor.visit(Float8E5M2FNUZ.self)
        case .int8: try visitor.visit(Int8.self)
        case .int16: try visitor.visit(Int16.self)
        case .int32: try visitor.visit(Int32.self)
        case .int64: try visitor.visit(Int64.self)
        case .uint8: try visitor.visit(UInt8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .uint64: try visitor.visit(UInt64.self)
        case .bool: try visitor.visit(Bool.self)
        case .string, .complex64, .complex128, .int4, .uint4, .int2, .uint2, .float4e2m1, .float8e8m0:
            throw refusedType(self, by: name)
        }
    }
}

/// The error for an element type that operator `name` does not accept.
func refusedType(_ type: DataType, by name: String) -> KernelError {
    .invalidInput("\(name) does not accept \(type) tensors")
}
