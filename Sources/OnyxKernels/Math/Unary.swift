import Foundation
import OnyxCore

/// Registers the elementwise functions of one tensor: math functions, activations, IsNaN and IsInf.
///
/// This is the table of unary operators: each op once, at its first version (later versions only widened the
/// accepted types, and the kernels accept the widest set), with its function per lane made from the node's
/// attributes.
func registerUnaryMathKernels(into registry: inout KernelRegistry) {
    func unary(_ op: String, since: Int, _ lanes: @escaping @Sendable (KernelNode) throws -> UnaryLanes) {
        registry.register(op, since: since) { node in UnaryMathKernel(name: op, lanes: try lanes(node)) }
    }
    unary("Abs", since: 1) { _ in UnaryLanes(real: { abs($0) }, signed: { $0 < 0 ? 0 &- $0 : $0 }, unsigned: { $0 }) }
    unary("Neg", since: 1) { _ in UnaryLanes(real: { -$0 }, signed: { 0 &- $0 }) }
    unary("Reciprocal", since: 1) { _ in UnaryLanes(real: { 1 / $0 }) }
    unary("Sqrt", since: 1) { _ in UnaryLanes(real: { sqrt($0) }) }
    unary("Exp", since: 1) { _ in UnaryLanes(real: { exp($0) }, float: .exp) }
    unary("Log", since: 1) { _ in UnaryLanes(real: { log($0) }) }
    unary("Tanh", since: 1) { _ in UnaryLanes(real: { tanh($0) }, float: .tanh) }
    unary("Sigmoid", since: 1) { _ in UnaryLanes(real: sigmoid, float: .sigmoid) }
    unary("Erf", since: 9) { _ in UnaryLanes(real: { erf($0) }, integersThroughReal: true, float: .erf) }
    unary("Sin", since: 7) { _ in UnaryLanes(real: { sin($0) }) }
    unary("Cos", since: 7) { _ in UnaryLanes(real: { cos($0) }) }
    unary("Tan", since: 7) { _ in UnaryLanes(real: { tan($0) }) }
    unary("Asin", since: 7) { _ in UnaryLanes(real: { asin($0) }) }
    unary("Acos", since: 7) { _ in UnaryLanes(real: { acos($0) }) }
    unary("Atan", since: 7) { _ in UnaryLanes(real: { atan($0) }) }
    unary("Sinh", since: 9) { _ in UnaryLanes(real: { sinh($0) }) }
    unary("Cosh", since: 9) { _ in UnaryLanes(real: { cosh($0) }) }
    unary("Asinh", since: 9) { _ in UnaryLanes(real: { asinh($0) }) }
    unary("Acosh", since: 9) { _ in UnaryLanes(real: { acosh($0) }) }
    unary("Atanh", since: 9) { _ in UnaryLanes(real: { atanh($0) }) }
    unary("Ceil", since: 1) { _ in UnaryLanes(real: { $0.rounded(.up) }) }
    unary("Floor", since: 1) { _ in UnaryLanes(real: { $0.rounded(.down) }) }
    unary("Round", since: 11) { _ in UnaryLanes(real: { $0.rounded(.toNearestOrEven) }) }
    // ±0 and NaN keep their value, as numpy's sign does.
    unary("Sign", since: 9) { _ in
        UnaryLanes(real: { $0 > 0 ? 1 : $0 < 0 ? -1 : $0 }, signed: { $0.signum() }, unsigned: { $0 > 0 ? 1 : 0 })
    }
    unary("Not", since: 1) { _ in UnaryLanes(logical: { !$0 }) }
    unary("BitwiseNot", since: 18) { _ in UnaryLanes(signed: { ~$0 }, unsigned: { ~$0 }) }
    unary("Relu", since: 1) { _ in UnaryLanes(real: { $0 < 0 ? 0 : $0 }, signed: { max($0, 0) }, float: .relu) }
    unary("LeakyRelu", since: 1) { node in
        let alpha = try node.doubleAttribute("alpha", default: 0.01)
        return UnaryLanes(real: { $0 < 0 ? alpha * $0 : $0 })
    }
    unary("Elu", since: 1) { node in
        let alpha = try node.doubleAttribute("alpha", default: 1.0)
        return UnaryLanes(real: { $0 < 0 ? alpha * expm1($0) : $0 })
    }
    unary("Selu", since: 1) { node in
        let alpha = try node.doubleAttribute("alpha", default: 1.67326319217681884765625)
        let gamma = try node.doubleAttribute("gamma", default: 1.05070102214813232421875)
        return UnaryLanes(real: { $0 > 0 ? gamma * $0 : gamma * alpha * expm1($0) })
    }
    unary("Celu", since: 12) { node in
        let alpha = try node.doubleAttribute("alpha", default: 1.0)
        return UnaryLanes(real: { max(0, $0) + min(0, alpha * expm1($0 / alpha)) })
    }
    unary("HardSigmoid", since: 1) { node in
        let alpha = try node.doubleAttribute("alpha", default: 0.2)
        let beta = try node.doubleAttribute("beta", default: 0.5)
        return UnaryLanes(real: { max(0, min(1, alpha * $0 + beta)) })
    }
    unary("HardSwish", since: 14) { _ in UnaryLanes(real: { $0 * max(0, min(1, $0 / 6 + 0.5)) }) }
    unary("Softplus", since: 1) { _ in UnaryLanes(real: softplus) }
    unary("Softsign", since: 1) { _ in UnaryLanes(real: { $0 / (1 + abs($0)) }) }
    unary("ThresholdedRelu", since: 10) { node in
        let alpha = try node.doubleAttribute("alpha", default: 1.0)
        return UnaryLanes(real: { $0 > alpha ? $0 : 0 })
    }
    unary("Shrink", since: 9) { node in
        let bias = try node.doubleAttribute("bias", default: 0.0)
        let lambd = try node.doubleAttribute("lambd", default: 0.5)
        return UnaryLanes(real: { $0 < -lambd ? $0 + bias : $0 > lambd ? $0 - bias : 0 }, integersThroughReal: true)
    }
    unary("Gelu", since: 20) { node in
        switch try node.string("approximate", default: "none") {
        case "none":
            return UnaryLanes(real: { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) })
        case "tanh":
            let scale = (2 / Double.pi).squareRoot()
            return UnaryLanes(real: { 0.5 * $0 * (1 + tanh(scale * ($0 + 0.044715 * $0 * $0 * $0))) })
        case let other:
            throw KernelError.invalidAttribute("approximate", "expected \"none\" or \"tanh\", got \"\(other)\"")
        }
    }
    unary("Mish", since: 18) { _ in UnaryLanes(real: { $0 * tanh(softplus($0)) }) }
    unary("Swish", since: 24) { node in
        let alpha = try node.doubleAttribute("alpha", default: 1.0)
        return UnaryLanes(real: { $0 * sigmoid(alpha * $0) })
    }
    registry.register("IsNaN", since: 9) { _ in RealPredicateKernel(name: "IsNaN") { $0.isNaN } }
    registry.register("IsInf", since: 10) { node in
        let positive = try node.int("detect_positive", default: 1) != 0
        let negative = try node.int("detect_negative", default: 1) != 0
        return RealPredicateKernel(name: "IsInf") { $0.isInfinite && ($0 > 0 ? positive : negative) }
    }
}

/// An elementwise function of one tensor, computed per element type through its table entry.
struct UnaryMathKernel: Kernel {
    let name: String
    let lanes: UnaryLanes

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        if input.dataType == .float, let vectorised = lanes.float {
            return [.tensor(Tensor(shape: input.shape, elements: vectorised.apply(input.elements(as: Float.self))))]
        }
        return [.tensor(try input.dataType.visitMathLane(Visitor(kernel: self, input: input), operator: name))]
    }

    private struct Visitor: MathLaneVisitor {
        let kernel: UnaryMathKernel
        let input: Tensor

        func visit<T: LaneElement>(_: T.Type) throws -> Tensor where T.Lane: MathLane {
            let values = input.elements(as: T.self)
            if let function = T.Lane.entry(of: kernel.lanes) {
                return Tensor(shape: input.shape, elements: values.map { T(lane: function($0.lane)) })
            }
            if kernel.lanes.integersThroughReal, T.dataType.isInteger, let real = kernel.lanes.real {
                return Tensor(shape: input.shape, elements: values.map { T(converting: real($0.doubleValue)) })
            }
            throw refusedType(T.dataType, by: kernel.name)
        }
    }
}

/// A test on each element of a floating-point tensor, giving a bool tensor (IsNaN, IsInf).
struct RealPredicateKernel: Kernel {
    let name: String
    let test: @Sendable (Double) -> Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard input.dataType.isFloatingPoint else { throw refusedType(input.dataType, by: name) }
        return [.tensor(try input.dataType.visitMathLane(Visitor(kernel: self, input: input), operator: name))]
    }

    private struct Visitor: MathLaneVisitor {
        let kernel: RealPredicateKernel
        let input: Tensor

        func visit<T: LaneElement>(_: T.Type) throws -> Tensor where T.Lane: MathLane {
            Tensor(shape: input.shape, elements: input.elements(as: T.self).map { kernel.test($0.doubleValue) })
        }
    }
}

/// 1 / (1 + e^−x), exact at both tails (e^−x overflowing to infinity gives 0).
@Sendable private func sigmoid(_ x: Double) -> Double {
    1 / (1 + exp(-x))
}

/// log(1 + e^x) without overflow for large x.
@Sendable private func softplus(_ x: Double) -> Double {
    x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
}

extension KernelNode {
    /// A float attribute widened to `Double` for the Math tables' real lane.
    fileprivate func doubleAttribute(_ name: String, default defaultValue: Float) throws -> Double {
        Double(try float(name, default: defaultValue))
    }
}
