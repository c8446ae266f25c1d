import Foundation
import OnyxCore

/// Registers the kernels of the Training folder: the optimisers of the ai.onnx.preview.training domain.
func registerTrainingKernels(into registry: inout KernelRegistry) {
    let domain = "ai.onnx.preview.training"
    registry.register("Adagrad", domain: domain, since: 1) { node in OptimizerKernel(rule: try AdagradRule(node)) }
    registry.register("Momentum", domain: domain, since: 1) { node in OptimizerKernel(rule: try MomentumRule(node)) }
    registry.register("Adam", domain: domain, since: 1) { node in OptimizerKernel(rule: try AdamRule(node)) }
}

/// One optimiser's update rule, element by element.
protocol OptimizerRule: Sendable {
    /// What the rule derives once per run from the learning rate R and the update count T.
    associatedtype Step
    /// How many state tensors (momentum, accumulated squared gradient) each optimised tensor carries.
    static var stateCount: Int { get }
    /// The per-run constants for learning rate `rate` at update count `count`.
    func step(rate: Double, count: Int64) -> Step
    /// The new value of element `x` whose gradient is `gradient`; `state` holds the element's `stateCount` state
    /// values, in input order, and is updated in place.
    func update(_ x: Double, gradient: Double, state: inout [Double], step: Step) -> Double
}

/// An optimiser node. Inputs: R (scalar learning rate), T (scalar int64 update count), then X₁…Xₙ, G₁…Gₙ and
/// each state in turn (S₁…Sₙ). Outputs: X₁_new…Xₙ_new, then each new state in the same order. A gradient or
/// state has its tensor's shape and type (float or double); the arithmetic is in double precision.
struct OptimizerKernel<Rule: OptimizerRule>: Kernel {
    let rule: Rule

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let stateCount = Rule.stateCount
        let groupSize = 2 + stateCount
        guard inputs.count > 2, (inputs.count - 2) % groupSize == 0 else {
            throw KernelError.invalidInput(
                "expected R, T and then \(groupSize) tensors (X, G, \(stateCount) state) per optimised tensor, "
                    + "got \(inputs.count) inputs")
        }
        let tensorCount = (inputs.count - 2) / groupSize
        let step = rule.step(rate: try learningRate(inputs.tensor(0)), count: try updateCount(inputs.tensor(1)))
        var newValues = [Value]()
        var newStates = [[Value]](repeating: [], count: stateCount)
        for index in 0..<tensorCount {
            let x = try inputs.tensor(2 + index)
            guard x.dataType == .float || x.dataType == .double, let values = x.doubleValues() else {
                throw KernelError.invalidInput("optimised tensor \(index) must be float or double, got \(x.dataType)")
            }
            let partners = try (1...(1 + stateCount)).map { group in
                try inputs.tensor(2 + group * tensorCount + index)
            }
            if let mismatch = partners.first(where: { $0.dataType != x.dataType || $0.shape != x.shape }) {
                throw KernelError.invalidInput(
                    "gradient and state of optimised tensor \(index) must be \(x.dataType) \(x.shape) like it, "
                        + "got \(mismatch.dataType) \(mismatch.shape)")
            }
            let gradient = partners[0].doubleValues() ?? []
            var states = partners.dropFirst().map { $0.doubleValues() ?? [] }
            var updated = [Double](repeating: 0, count: values.count)
            var elementState = [Double](repeating: 0, count: stateCount)
            for element in values.indices {
                for slot in 0..<stateCount { elementState[slot] = states[slot][element] }
                updated[element] = rule.update(
                    values[element], gradient: gradient[element], state: &elementState, step: step)
                for slot in 0..<stateCount { states[slot][element] = elementState[slot] }
            }
            newValues.append(.tensor(try Tensor(converting: updated, to: x.dataType, shape: x.shape)))
            for slot in 0..<stateCount {
                let state = try Tensor(converting: states[slot], to: x.dataType, shape: x.shape)
                newStates[slot].append(.tensor(state))
            }
        }
        return newValues + newStates.joined()
    }

    private func learningRate(_ tensor: Tensor) throws -> Double {
        guard tensor.dataType == .float || tensor.dataType == .double, tensor.count == 1,
            let rate = tensor.doubleValues()?.first
        else {
            throw KernelError.invalidInput("R must be one float or double, got \(tensor.dataType) \(tensor.shape)")
        }
        return rate
    }

    private func updateCount(_ tensor: Tensor) throws -> Int64 {
        guard tensor.dataType == .int64, tensor.count == 1 else {
            throw KernelError.invalidInput("T must be one int64, got \(tensor.dataType) \(tensor.shape)")
        }
        return tensor.elements(as: Int64.self)[0]
    }
}

/// ADAGRAD; its state is the accumulated squared gradient H.
struct AdagradRule: OptimizerRule {
    private let normCoefficient: Double
    private let decayFactor: Double
    private let epsilon: Double

    init(_ node: KernelNode) throws {
        normCoefficient = Double(try node.float("norm_coefficient", default: 0))
        decayFactor = Double(try node.float("decay_factor", default: 0))
        epsilon = Double(try node.float("epsilon", default: 1e-6))
    }

    static var stateCount: Int { 1 }

    /// The decayed learning rate R / (1 + T · decay_factor).
    func step(rate: Double, count: Int64) -> Double {
        rate / (1 + Double(count) * decayFactor)
    }

    func update(_ x: Double, gradient: Double, state: inout [Double], step rate: Double) -> Double {
        let regularized = normCoefficient * x + gradient
        state[0] += regularized * regularized
        return x - rate * regularized / (state[0].squareRoot() + epsilon)
    }
}

/// Stochastic gradient descent with standard or Nesterov momentum; its state is the momentum V.
struct MomentumRule: OptimizerRule {
    private let alpha: Double
    private let beta: Double
    private let normCoefficient: Double
    private let nesterov: Bool

    init(_ node: KernelNode) throws {
        func required(_ name: String) throws -> Double {
            guard let value = try node.float(name) else { throw KernelError.invalidAttribute(name, "is required") }
            return Double(value)
        }
        alpha = try required("alpha")
        beta = try required("beta")
        normCoefficient = try required("norm_coefficient")
        switch try node.string("mode") {
        case "standard": nesterov = false
        case "nesterov": nesterov = true
        case let other:
            throw KernelError.invalidAttribute("mode", "must be standard or nesterov, got \(other ?? "nothing")")
        }
    }

    static var stateCount: Int { 1 }

    /// The learning rate, and the gradient's coefficient (1 on the first update, T = 0).
    func step(rate: Double, count: Int64) -> (rate: Double, gradientScale: Double) {
        (rate, count > 0 ? beta : 1)
    }

    func update(
        _ x: Double, gradient: Double, state: inout [Double], step: (rate: Double, gradientScale: Double)
    ) -> Double {
        let regularized = normCoefficient * x + gradient
        let momentum = alpha * state[0] + step.gradientScale * regularized
        state[0] = momentum
        return x - step.rate * (nesterov ? regularized + alpha * momentum : momentum)
    }
}

/// Adam; its states are the averaged gradient V and the averaged squared gradient H.
struct AdamRule: OptimizerRule {
    private let alpha: Double
    private let beta: Double
    private let epsilon: Double
    private let normCoefficient: Double
    private let normCoefficientPost: Double

    init(_ node: KernelNode) throws {
        alpha = Double(try node.float("alpha", default: 0.9))
        beta = Double(try node.float("beta", default: 0.999))
        epsilon = Double(try node.float("epsilon", default: 1e-6))
        normCoefficient = Double(try node.float("norm_coefficient", default: 0))
        normCoefficientPost = Double(try node.float("norm_coefficient_post", default: 0))
    }

    static var stateCount: Int { 2 }

    /// The learning rate with bias correction R · √(1 − βᵀ) / (1 − αᵀ), or R itself when T = 0.
    func step(rate: Double, count: Int64) -> Double {
        guard count > 0 else { return rate }
        return rate * (1 - pow(beta, Double(count))).squareRoot() / (1 - pow(alpha, Double(count)))
    }

    func update(_ x: Double, gradient: Double, state: inout [Double], step rate: Double) -> Double {
        let regularized = normCoefficient * x + gradient
        state[0] = alpha * state[0] + (1 - alpha) * regularized
        state[1] = beta * state[1] + (1 - beta) * regularized * regularized
        let moved = x - rate * state[0] / (state[1].squareRoot() + epsilon)
        return (1 - normCoefficientPost) * moved
    }
}
