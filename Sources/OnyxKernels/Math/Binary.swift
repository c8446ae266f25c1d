import Foundation
import OnyxCore

/// Registers the elementwise operators of two broadcast tensors: arithmetic, Pow, Mod, bit shifts, bitwise and
/// logical operators, comparisons and PRelu.
///
/// This is the table of binary operators: each op once, at its first version (later versions only widened the
/// accepted types, and the kernels accept the widest set; opsets before 7 broadcast differently, which the
/// kernels handle from the node's opset version), with its function per lane made from the node's attributes.
func registerBinaryMathKernels(into registry: inout KernelRegistry) {
    func binary(_ op: String, since: Int, _ lanes: @escaping @Sendable (KernelNode) throws -> BinaryLanes) {
        registry.register(op, since: since) { node in
            BinaryMathKernel(name: op, lanes: try lanes(node), legacy: try LegacyBroadcast(node))
        }
    }
    func comparison(_ op: String, since: Int, _ test: Comparison) {
        registry.register(op, since: since) { node in
            ComparisonKernel(name: op, comparison: test, legacy: try LegacyBroadcast(node))
        }
    }
    binary("Add", since: 1) { _ in .add }
    binary("Sub", since: 1) { _ in .subtract }
    binary("Mul", since: 1) { _ in .multiply }
    binary("Div", since: 1) { _ in .divide }
    binary("Mod", since: 10) { node in
        switch try node.int("fmod", default: 0) {
        case 0: return .floorModulo
        case 1: return .truncatedModulo
        case let other: throw KernelError.invalidAttribute("fmod", "expected 0 or 1, got \(other)")
        }
    }
    binary("BitShift", since: 11) { node in
        switch try node.string("direction") {
        case "LEFT": return .shiftLeft
        case "RIGHT": return .shiftRight
        case let other:
            let got = other.map { "\"\($0)\"" } ?? "nothing"
            throw KernelError.invalidAttribute("direction", "expected \"LEFT\" or \"RIGHT\", got \(got)")
        }
    }
    binary("BitwiseAnd", since: 18) { _ in BinaryLanes(signed: { $0 & $1 }, unsigned: { $0 & $1 }) }
    binary("BitwiseOr", since: 18) { _ in BinaryLanes(signed: { $0 | $1 }, unsigned: { $0 | $1 }) }
    binary("BitwiseXor", since: 18) { _ in BinaryLanes(signed: { $0 ^ $1 }, unsigned: { $0 ^ $1 }) }
    binary("And", since: 1) { _ in BinaryLanes(logical: { $0 && $1 }) }
    binary("Or", since: 1) { _ in BinaryLanes(logical: { $0 || $1 }) }
    binary("Xor", since: 1) { _ in BinaryLanes(logical: { $0 != $1 }) }
    comparison("Equal", since: 1, .equal)
    comparison("Less", since: 1, .less)
    comparison("LessOrEqual", since: 12, .lessOrEqual)
    comparison("Greater", since: 1, .greater)
    comparison("GreaterOrEqual", since: 12, .greaterOrEqual)
    registry.register("Pow", since: 1) { node in PowKernel(legacy: try LegacyBroadcast(node)) }
    registry.register("PRelu", since: 1) { _ in PReluKernel() }
}

extension BinaryLanes {
    static let add = BinaryLanes(real: { $0 + $1 }, signed: { $0 &+ $1 }, unsigned: { $0 &+ $1 }, floatingArithmetic: .add)
    static let subtract = BinaryLanes(
        real: { $0 - $1 }, signed: { $0 &- $1 }, unsigned: { $0 &- $1 }, floatingArithmetic: .subtract)
    static let multiply = BinaryLanes(
        real: { $0 * $1 }, signed: { $0 &* $1 }, unsigned: { $0 &* $1 }, floatingArithmetic: .multiply)
    /// Integer division truncates toward zero, as in C; Int64.min / −1 wraps.
    static let divide = BinaryLanes(
        real: { $0 / $1 },
        signed: { try $0.dividedReportingOverflow(by: nonzeroDivisor($1)).partialValue },
        unsigned: { try $0 / nonzeroDivisor($1) },
        floatingArithmetic: .divide)
    /// The larger value; NaN wins, as numpy's maximum.
    static let maximum = BinaryLanes(
        real: { $0 > $1 || $0.isNaN ? $0 : $1 }, signed: { max($0, $1) }, unsigned: { max($0, $1) })
    /// The smaller value; NaN wins, as numpy's minimum.
    static let minimum = BinaryLanes(
        real: { $0 < $1 || $0.isNaN ? $0 : $1 }, signed: { min($0, $1) }, unsigned: { min($0, $1) })
    /// Mod with fmod=0: the result takes the divisor's sign (numpy's mod; Python's % for integers).
    static let floorModulo = BinaryLanes(
        real: { dividend, divisor in
            let remainder = fmod(dividend, divisor)
            if remainder == 0 { return copysign(0, divisor) }
            return (remainder < 0) != (divisor < 0) ? remainder + divisor : remainder
        },
        signed: { dividend, divisor in
            let remainder = try dividend.remainderReportingOverflow(dividingBy: nonzeroDivisor(divisor)).partialValue
            return remainder != 0 && (remainder < 0) != (divisor < 0) ? remainder &+ divisor : remainder
        },
        unsigned: { try $0 % nonzeroDivisor($1) })
    /// Mod with fmod=1: the result takes the dividend's sign (C's fmod and %).
    static let truncatedModulo = BinaryLanes(
        real: { fmod($0, $1) },
        signed: { try $0.remainderReportingOverflow(dividingBy: nonzeroDivisor($1)).partialValue },
        unsigned: { try $0 % nonzeroDivisor($1) })
    /// Shifts past the width give 0; so do negative amounts (ONNX 28's rule for signed types).
    static let shiftLeft = BinaryLanes(
        signed: { value, amount in amount < 0 ? 0 : value << amount }, unsigned: { $0 << $1 })
    /// Signed values shift arithmetically; past the width (or by a negative amount) only the sign fill remains.
    static let shiftRight = BinaryLanes(
        signed: { value, amount in amount < 0 ? (value < 0 ? -1 : 0) : value >> amount }, unsigned: { $0 >> $1 })
    /// Pow of two tensors of one type: integers multiply exactly (wrapping), floats use the C library.
    static let power = BinaryLanes(
        real: { pow($0, $1) }, signed: { try integerPower($0, $1) }, unsigned: { try integerPower($0, $1) })

    /// The elementwise result over `plan` (made from `first`'s and `second`'s shapes, in that order).
    func apply(_ first: Tensor, _ second: Tensor, plan: BroadcastPlan, operator name: String) throws -> Tensor {
        guard first.dataType == second.dataType else {
            throw KernelError.invalidInput("\(name) needs inputs of one type, got \(first.dataType) and \(second.dataType)")
        }
        if let arithmetic = floatingArithmetic {
            func loop<T: BinaryFloatingPoint & TensorElement>(_: T.Type) -> Tensor {
                Tensor(shape: plan.shape, elements: arithmetic.apply(first.elements(as: T.self), second.elements(as: T.self), plan))
            }
            switch first.dataType {
            case .float: return loop(Float.self)
            case .double: return loop(Double.self)
            default: break
            }
        }
        return try first.dataType.visitMathLane(
            BinaryVisitor(lanes: self, name: name, first: first, second: second, plan: plan), operator: name)
    }

    private struct BinaryVisitor: MathLaneVisitor {
        let lanes: BinaryLanes
        let name: String
        let first: Tensor
        let second: Tensor
        let plan: BroadcastPlan

        func visit<T: LaneElement>(_: T.Type) throws -> Tensor where T.Lane: MathLane {
            guard let function = T.Lane.entry(of: lanes) else { throw refusedType(T.dataType, by: name) }
            let values = try plan.map(first.elements(as: T.self), second.elements(as: T.self)) {
                T(lane: try function($0.lane, $1.lane))
            }
            return Tensor(shape: plan.shape, elements: values)
        }
    }
}

/// The four arithmetic operators as tight loops over Float or Double, one loop per broadcast pattern.
enum FloatingArithmetic: Sendable {
    case add, subtract, multiply, divide

    func apply<T: BinaryFloatingPoint>(_ first: [T], _ second: [T], _ plan: BroadcastPlan) -> [T] {
        switch self {
        case .add: plan.map(first, second) { $0 + $1 }
        case .subtract: plan.map(first, second) { $0 - $1 }
        case .multiply: plan.map(first, second) { $0 * $1 }
        case .divide: plan.map(first, second) { $0 / $1 }
        }
    }
}

/// An elementwise operator of two broadcast tensors of one type, computed through its table entry.
struct BinaryMathKernel: Kernel {
    let name: String
    let lanes: BinaryLanes
    let legacy: LegacyBroadcast?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let first = try inputs.tensor(0)
        let second = try inputs.tensor(1)
        let plan = try LegacyBroadcast.plan(first.shape, second.shape, legacy: legacy)
        return [.tensor(try lanes.apply(first, second, plan: plan, operator: name))]
    }
}

/// Comparison operators, giving bool tensors.
enum Comparison: Sendable {
    case equal, less, lessOrEqual, greater, greaterOrEqual

    func predicate<T: Comparable & Sendable>(_: T.Type) -> @Sendable (T, T) -> Bool {
        switch self {
        case .equal: { $0 == $1 }
        case .less: { $0 < $1 }
        case .lessOrEqual: { $0 <= $1 }
        case .greater: { $0 > $1 }
        case .greaterOrEqual: { $0 >= $1 }
        }
    }
}

/// A comparison of two broadcast tensors of one type. Bools and strings compare for equality only.
struct ComparisonKernel: Kernel {
    let name: String
    let lanes: ComparisonLanes
    let strings: (@Sendable (String, String) -> Bool)?
    let legacy: LegacyBroadcast?

    init(name: String, comparison: Comparison, legacy: LegacyBroadcast?) {
        self.name = name
        self.legacy = legacy
        let equality: ComparisonLanes.Lane<Bool> = { $0 == $1 }
        lanes = ComparisonLanes(
            real: comparison.predicate(Double.self), signed: comparison.predicate(Int64.self),
            unsigned: comparison.predicate(UInt64.self), logical: comparison == .equal ? equality : nil)
        strings = comparison == .equal ? comparison.predicate(String.self) : nil
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let first = try inputs.tensor(0)
        let second = try inputs.tensor(1)
        guard first.dataType == second.dataType else {
            throw KernelError.invalidInput("\(name) needs inputs of one type, got \(first.dataType) and \(second.dataType)")
        }
        let plan = try LegacyBroadcast.plan(first.shape, second.shape, legacy: legacy)
        if first.dataType == .string {
            guard let strings else { throw refusedType(.string, by: name) }
            let values = plan.map(first.elements(as: String.self), second.elements(as: String.self), strings)
            return [.tensor(Tensor(shape: plan.shape, elements: values))]
        }
        let visitor = Visitor(kernel: self, first: first, second: second, plan: plan)
        return [.tensor(try first.dataType.visitMathLane(visitor, operator: name))]
    }

    private struct Visitor: MathLaneVisitor {
        let kernel: ComparisonKernel
        let first: Tensor
        let second: Tensor
        let plan: BroadcastPlan

        func visit<T: LaneElement>(_: T.Type) throws -> Tensor where T.Lane: MathLane {
            guard let test = T.Lane.entry(of: kernel.lanes) else { throw refusedType(T.dataType, by: kernel.name) }
            let values = plan.map(first.elements(as: T.self), second.elements(as: T.self)) { test($0.lane, $1.lane) }
            return Tensor(shape: plan.shape, elements: values)
        }
    }
}

/// Pow. The base and exponent may differ in type: both are then promoted (to int64 when both are integers, to
/// double otherwise), raised, and the result converted back to the base's type, as numpy's power then astype does.
struct PowKernel: Kernel {
    let legacy: LegacyBroadcast?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let base = try inputs.tensor(0)
        let exponent = try inputs.tensor(1)
        let plan = try LegacyBroadcast.plan(base.shape, exponent.shape, legacy: legacy)
        if base.dataType == exponent.dataType {
            return [.tensor(try BinaryLanes.power.apply(base, exponent, plan: plan, operator: "Pow"))]
        }
        for operand in [base, exponent] where !(operand.dataType.isInteger || operand.dataType.isFloatingPoint) {
            throw refusedType(operand.dataType, by: "Pow")
        }
        let common: DataType = base.dataType.isInteger && exponent.dataType.isInteger ? .int64 : .double
        let promoted = try BinaryLanes.power.apply(
            try castTensor(base, to: common), try castTensor(exponent, to: common), plan: plan, operator: "Pow")
        return [.tensor(try castTensor(promoted, to: base.dataType))]
    }
}

/// PRelu: x where x ≥ 0, slope·x elsewhere. The slope broadcasts to X's shape; as in the ONNX reference, a 1-D
/// slope that does not may instead match the one dimension of X with its length (the pre-opset-7 channel slope).
struct PReluKernel: Kernel {
    static let lanes = BinaryLanes(
        real: { $0 < 0 ? $0 * $1 : $0 }, signed: { $0 < 0 ? $0 &* $1 : $0 }, unsigned: { value, _ in value })

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        var slope = try inputs.tensor(1)
        if (try? Broadcast.shape([slope.shape, input.shape])) != input.shape, slope.rank == 1 {
            let matching = input.shape.indices.filter { input.shape[$0] == slope.count }
            if matching.count == 1 {
                slope = slope.reshaped(input.shape.indices.map { $0 == matching[0] ? slope.count : 1 })
            }
        }
        let plan = try BroadcastPlan([input.shape, slope.shape], to: input.shape)
        return [.tensor(try Self.lanes.apply(input, slope, plan: plan, operator: "PRelu"))]
    }
}

/// Broadcasting as ONNX defined it before opset 7: without the `broadcast` attribute the shapes must be equal;
/// with it, B's shape must match a contiguous run of A's dimensions, starting at `axis` or aligned to the end.
struct LegacyBroadcast: Sendable {
    let enabled: Bool
    let axis: Int?

    /// The node's legacy broadcasting, or nil from opset 7 on (numpy broadcasting).
    init?(_ node: KernelNode) throws {
        guard node.opsetVersion < 7 else { return nil }
        enabled = try node.int("broadcast", default: 0) != 0
        axis = try node.int("axis")
    }

    /// The plan for inputs of shapes `first` and `second`: numpy broadcasting when `legacy` is nil.
    static func plan(_ first: [Int], _ second: [Int], legacy: LegacyBroadcast?) throws -> BroadcastPlan {
        guard let legacy else { return try BroadcastPlan([first, second]) }
        guard legacy.enabled else {
            guard first == second else {
                throw KernelError.invalidInput("shapes \(first) and \(second) differ and the node does not set broadcast=1")
            }
            return try BroadcastPlan([first, second])
        }
        var aligned = second
        if let axis = legacy.axis {
            let start = axis < 0 ? axis + first.count : axis
            guard start >= 0, start + second.count <= first.count else {
                throw KernelError.invalidAttribute("axis", "\(axis) cannot place shape \(second) within \(first)")
            }
            aligned += [Int](repeating: 1, count: first.count - start - second.count)
        }
        return try BroadcastPlan([first, aligned], to: first)
    }
}

/// `divisor`, or an error when it is zero (integer division by zero has no value; ONNX Runtime crashes).
private func nonzeroDivisor<I: BinaryInteger>(_ divisor: I) throws -> I {
    guard divisor != 0 else { throw KernelError.invalidInput("integer division by zero") }
    return divisor
}

/// base^exponent by squaring, wrapping on overflow. A negative exponent gives the truncated value of 1/base^|n|
/// (0 unless the base is ±1); zero to a negative power is an error.
private func integerPower<I: FixedWidthInteger>(_ base: I, _ exponent: I) throws -> I {
    if exponent < 0 {
        if base == 0 { throw KernelError.invalidInput("Pow: 0 raised to the negative power \(exponent)") }
        if base == 1 { return 1 }
        if base == ~0 { return exponent & 1 == 0 ? 1 : base }
        return 0
    }
    var result: I = 1
    var factor = base
    var remaining = exponent
    while remaining > 0 {
        if remaining & 1 == 1 { result = result &* factor }
        factor = factor &* factor
        remaining >>= 1
    }
    return result
}
