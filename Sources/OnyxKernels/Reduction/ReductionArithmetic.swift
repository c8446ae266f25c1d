import OnyxCore

// The arithmetic of the reduction family. Each element type computes in one wide type (Float, Double, Int64
// or UInt64): narrow floats accumulate without re-rounding at every step, and integers wrap as numpy's
// `dtype=x.dtype` reductions do (wrapping in 64 bits and truncating agrees with wrapping in the narrow type
// for sums and products). Everything here is generic and dispatched once per tensor, never per element.

/// The type a reduction accumulates in.
protocol WideArithmetic: Comparable, Sendable {
    static var zero: Self { get }
    static var one: Self { get }
    /// `self + other`, wrapping for integers.
    func plus(_ other: Self) -> Self
    /// `self * other`, wrapping for integers.
    func times(_ other: Self) -> Self
    /// |self|; integers wrap at their minimum, as numpy's abs does.
    var absolute: Self { get }
    /// `self` (a sum of `count` terms) divided by `count`; integers truncate toward zero and give 0 for no terms.
    func mean(count: Int) -> Self
    /// The value as a Double, for the reductions that finish in double precision (L2, the logarithms).
    var doubleValue: Double { get }
}

/// One term of a sum reduction: the value itself, its square or its magnitude.
protocol SumTerm {
    static func apply<Wide: WideArithmetic>(_ value: Wide) -> Wide
    /// The same on sixteen lanes, for Float's SIMD sum.
    static func apply(_ values: SIMD16<Float>) -> SIMD16<Float>
}

enum PlainTerm: SumTerm {
    static func apply<Wide: WideArithmetic>(_ value: Wide) -> Wide { value }
    static func apply(_ values: SIMD16<Float>) -> SIMD16<Float> { values }
}

enum SquareTerm: SumTerm {
    static func apply<Wide: WideArithmetic>(_ value: Wide) -> Wide { value.times(value) }
    static func apply(_ values: SIMD16<Float>) -> SIMD16<Float> { values * values }
}

enum MagnitudeTerm: SumTerm {
    static func apply<Wide: WideArithmetic>(_ value: Wide) -> Wide { value.absolute }
    static func apply(_ values: SIMD16<Float>) -> SIMD16<Float> { values.replacing(with: -values, where: values .< 0) }
}

/// An element type the reduction kernels accept, with the wide type it computes in.
protocol ReducibleElement: NumericElement {
    associatedtype Wide: WideArithmetic
    var wide: Wide { get }
    /// Narrows a result back: rounds for floats, truncates (wraps) for integers.
    init(wide: Wide)
    /// The lowest value of the type (−∞ where it has one): the identity of max.
    static var lowestWide: Wide { get }
    /// The highest value of the type (+∞ where it has one): the identity of min.
    static var highestWide: Wide { get }
    /// Σ Term(x) over a contiguous run. Float implements this with SIMD; the default is a plain loop.
    static func sum<Term: SumTerm>(_ run: UnsafeBufferPointer<Self>, of term: Term.Type) -> Wide
    /// The largest (or smallest) element of a non-empty contiguous run, NaN if it holds one. Float implements
    /// this with SIMD; the default is a plain loop.
    static func extreme(of run: UnsafeBufferPointer<Self>, largest: Bool) -> Wide
}

extension ReducibleElement {
    static func sum<Term: SumTerm>(_ run: UnsafeBufferPointer<Self>, of term: Term.Type) -> Wide {
        var total = Wide.zero
        for value in run { total = total.plus(Term.apply(value.wide)) }
        return total
    }

    static func extreme(of run: UnsafeBufferPointer<Self>, largest: Bool) -> Wide {
        var result = largest ? lowestWide : highestWide
        for value in run { result = propagatingExtreme(result, value.wide, largest: largest) }
        return result
    }
}

/// The larger (or smaller) of two values, NaN if either is: numpy's maximum and minimum propagate NaN.
func propagatingExtreme<Wide: WideArithmetic>(_ current: Wide, _ candidate: Wide, largest: Bool) -> Wide {
    // `x != x` is true only for NaN.
    if current != current { return current }
    return candidate != candidate || (largest ? candidate > current : candidate < current) ? candidate : current
}

/// A computation over any element type the reductions accept.
protocol ReducibleVisitor {
    associatedtype Output
    func visit<T: ReducibleElement>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type: the floats, the 8- to 64-bit integers and bool.
    func visitReducible<V: ReducibleVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .float16: try visitor.visit(Float16.self)
        case .bfloat16: try visitor.visit(BFloat16.self)
        case .int8: try visitor.visit(Int8.self)
        case .int16: try visitor.visit(Int16.self)
        case .int32: try visitor.visit(Int32.self)
        case .int64: try visitor.visit(Int64.self)
        case .uint8: try visitor.visit(UInt8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .uint64: try visitor.visit(UInt64.self)
        case .bool: try visitor.visit(Bool.self)
        default: throw KernelError.unsupported("element type \(self)")
        }
    }
}

// MARK: - Wide types (doubleValue comes from NumericElement)

extension WideArithmetic where Self: BinaryFloatingPoint {
    static var one: Self { 1 }
    func plus(_ other: Self) -> Self { self + other }
    func times(_ other: Self) -> Self { self * other }
    var absolute: Self { abs(self) }
    func mean(count: Int) -> Self { self / Self(count) }
}

extension WideArithmetic where Self: FixedWidthInteger {
    static var one: Self { 1 }
    func plus(_ other: Self) -> Self { self &+ other }
    func times(_ other: Self) -> Self { self &* other }
    var absolute: Self { self < 0 ? 0 &- self : self }
    func mean(count: Int) -> Self { count == 0 ? 0 : self / Self(count) }
}

extension Float: WideArithmetic {}
extension Double: WideArithmetic {}
extension Int64: WideArithmetic {}
extension UInt64: WideArithmetic {}

// MARK: - Element types

extension Float: ReducibleElement {
    var wide: Float { self }
    init(wide: Float) { self = wide }
    static var lowestWide: Float { -.infinity }
    static var highestWide: Float { .infinity }

    /// Sixteen lanes (four SSE registers) accumulate independently, which hides the add latency.
    static func sum<Term: SumTerm>(_ run: UnsafeBufferPointer<Float>, of term: Term.Type) -> Float {
        guard let base = run.baseAddress else { return 0 }
        let lanes = 16
        var vector = SIMD16<Float>()
        var index = 0
        while index + lanes <= run.count {
            vector += Term.apply(UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<Float>.self))
            index += lanes
        }
        var total = vector.sum()
        while index < run.count {
            total += Term.apply(base[index])
            index += 1
        }
        return total
    }

    /// SIMD maxima (or minima) with NaN tracked apart, since the vector max/min instructions drop NaN.
    static func extreme(of run: UnsafeBufferPointer<Float>, largest: Bool) -> Float {
        guard let base = run.baseAddress else { return largest ? -.infinity : .infinity }
        let lanes = 16
        var vector = SIMD16<Float>(repeating: largest ? -.infinity : .infinity)
        var sawNaN = SIMDMask<SIMD16<Int32>>()
        var index = 0
        while index + lanes <= run.count {
            let values = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<Float>.self)
            sawNaN .|= values .!= values
            vector.replace(with: values, where: largest ? values .> vector : values .< vector)
            index += lanes
        }
        if any(sawNaN) { return .nan }
        var result = largest ? vector.max() : vector.min()
        while index < run.count {
            result = propagatingExtreme(result, base[index], largest: largest)
            index += 1
        }
        return result
    }
}

extension Double: ReducibleElement {
    var wide: Double { self }
    init(wide: Double) { self = wide }
    static var lowestWide: Double { -.infinity }
    static var highestWide: Double { .infinity }
}

extension Float16: ReducibleElement {
    var wide: Float { Float(self) }
    init(wide: Float) { self.init(wide) }
    static var lowestWide: Float { -.infinity }
    static var highestWide: Float { .infinity }
}

extension BFloat16: ReducibleElement {
    var wide: Float { floatValue }
    init(wide: Float) { self.init(wide) }
    static var lowestWide: Float { -.infinity }
    static var highestWide: Float { .infinity }
}

extension ReducibleElement where Self: FixedWidthInteger & SignedInteger, Wide == Int64 {
    var wide: Int64 { Int64(self) }
    init(wide: Int64) { self.init(truncatingIfNeeded: wide) }
    static var lowestWide: Int64 { Int64(Self.min) }
    static var highestWide: Int64 { Int64(Self.max) }
}

extension ReducibleElement where Self: FixedWidthInteger & UnsignedInteger, Wide == UInt64 {
    var wide: UInt64 { UInt64(self) }
    init(wide: UInt64) { self.init(truncatingIfNeeded: wide) }
    static var lowestWide: UInt64 { 0 }
    static var highestWide: UInt64 { UInt64(Self.max) }
}

extension Int8: ReducibleElement { typealias Wide = Int64 }
extension Int16: ReducibleElement { typealias Wide = Int64 }
extension Int32: ReducibleElement { typealias Wide = Int64 }
extension Int64: ReducibleElement { typealias Wide = Int64 }
extension UInt8: ReducibleElement { typealias Wide = UInt64 }
extension UInt16: ReducibleElement { typealias Wide = UInt64 }
extension UInt32: ReducibleElement { typealias Wide = UInt64 }
extension UInt64: ReducibleElement { typealias Wide = UInt64 }

/// False < true, as ReduceMax and ReduceMin (opset 20) order booleans.
extension Bool: ReducibleElement {
    var wide: UInt64 { self ? 1 : 0 }
    init(wide: UInt64) { self = wide != 0 }
    static var lowestWide: UInt64 { 0 }
    static var highestWide: UInt64 { 1 }
}
