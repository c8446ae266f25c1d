import OnyxCore

// The Math kernels describe each operator once, as a table entry with one closure per lane (see
// Support/ElementLanes.swift): an element is widened to its lane, computed on, and narrowed back. The hot Float
// operations bypass this with dedicated loops (see FloatVectorMath and the `float` fields of the tables).

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

/// A lane type (`Double`, `Int64`, `UInt64`, `Bool`), with where each table keeps its entry.
protocol MathLane: Sendable {
    static func entry(of table: UnaryLanes) -> UnaryLanes.Lane<Self>?
    static func entry(of table: BinaryLanes) -> BinaryLanes.Lane<Self>?
    static func entry(of table: ComparisonLanes) -> ComparisonLanes.Lane<Self>?
}

extension Double: MathLane {
    static func entry(of table: UnaryLanes) -> UnaryLanes.Lane<Double>? { table.real }
    static func entry(of table: BinaryLanes) -> BinaryLanes.Lane<Double>? { table.real }
    static func entry(of table: ComparisonLanes) -> ComparisonLanes.Lane<Double>? { table.real }
}

extension Int64: MathLane {
    static func entry(of table: UnaryLanes) -> UnaryLanes.Lane<Int64>? { table.signed }
    static func entry(of table: BinaryLanes) -> BinaryLanes.Lane<Int64>? { table.signed }
    static func entry(of table: ComparisonLanes) -> ComparisonLanes.Lane<Int64>? { table.signed }
}

extension UInt64: MathLane {
    static func entry(of table: UnaryLanes) -> UnaryLanes.Lane<UInt64>? { table.unsigned }
    static func entry(of table: BinaryLanes) -> BinaryLanes.Lane<UInt64>? { table.unsigned }
    static func entry(of table: ComparisonLanes) -> ComparisonLanes.Lane<UInt64>? { table.unsigned }
}

extension Bool: MathLane {
    static func entry(of table: UnaryLanes) -> UnaryLanes.Lane<Bool>? { table.logical }
    static func entry(of table: BinaryLanes) -> BinaryLanes.Lane<Bool>? { table.logical }
    static func entry(of table: ComparisonLanes) -> ComparisonLanes.Lane<Bool>? { table.logical }
}

/// A computation generic over the element types the Math tables handle.
protocol MathLaneVisitor {
    func visit<T: LaneElement>(_ type: T.Type) throws -> Tensor where T.Lane: MathLane
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type. Throws, naming operator `name`, for the types no Math
    /// table computes on: strings, complex numbers, 2- and 4-bit integers, float4e2m1 and float8e8m0.
    func visitMathLane<V: MathLaneVisitor>(_ visitor: V, operator name: String) throws -> Tensor {
        switch self {
        case .string, .complex64, .complex128, .int4, .uint4, .int2, .uint2, .float4e2m1, .float8e8m0:
            throw refusedType(self, by: name)
        default: return try visitLanes(MathLaneDispatch(visitor: visitor))
        }
    }
}

/// Hands the types of every lane to `visitor`, which can then find the lane's table entries.
private struct MathLaneDispatch<Visitor: MathLaneVisitor>: LaneVisitor {
    let visitor: Visitor

    func visitReal<T: LaneElement>(_ type: T.Type) throws -> Tensor where T.Lane == Double { try visitor.visit(type) }
    func visitSigned<T: LaneElement>(_ type: T.Type) throws -> Tensor where T.Lane == Int64 { try visitor.visit(type) }
    func visitUnsigned<T: LaneElement>(_ type: T.Type) throws -> Tensor where T.Lane == UInt64 { try visitor.visit(type) }
    func visitLogical(_ type: Bool.Type) throws -> Tensor { try visitor.visit(type) }
}

/// The error for an element type that operator `name` does not accept.
func refusedType(_ type: DataType, by name: String) -> KernelError {
    .invalidInput("\(name) does not accept \(type) tensors")
}
