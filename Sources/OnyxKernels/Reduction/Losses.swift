import Foundation
import OnyxCore

/// Registers NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12; 13 and 22 only add types).
func registerLossKernels(into registry: inout KernelRegistry) {
    registry.register("NegativeLogLikelihoodLoss", since: 12) { node in try LossKernel(node, appliesLogSoftmax: false) }
    registry.register("SoftmaxCrossEntropyLoss", since: 12) { node in try LossKernel(node, appliesLogSoftmax: true) }
}

/// The loss of class scores [N, C, d1, …] against targets [N, d1, …]: −weight[t] · logp[n, t, d…] per
/// position, where logp is the input itself (NegativeLogLikelihoodLoss) or its log-softmax over C
/// (SoftmaxCrossEntropyLoss, which can also return logp). Targets equal to `ignore_index` weigh 0. "mean"
/// divides the weighted sum by the sum of the weights used. Computed in double precision.
struct LossKernel: Kernel {
    enum Reduction: String {
        case none, sum, mean
    }

    let appliesLogSoftmax: Bool
    let reduction: Reduction
    let ignoreIndex: Int?
    /// SoftmaxCrossEntropyLoss's optional second output, the log-probabilities.
    let returnsLogProbabilities: Bool

    init(_ node: KernelNode, appliesLogSoftmax: Bool) throws {
        self.appliesLogSoftmax = appliesLogSoftmax
        let reductionName = try node.string("reduction", default: "mean")
        guard let reduction = Reduction(rawValue: reductionName) else {
            throw KernelError.invalidAttribute("reduction", "expected none, sum or mean, got '\(reductionName)'")
        }
        self.reduction = reduction
        ignoreIndex = try node.int("ignore_index")
        returnsLogProbabilities = appliesLogSoftmax && node.outputCount > 1
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let scores = try inputs.tensor(0)
        let target = try inputs.tensor(1)
        let weight = try inputs.optionalTensor(2)
        guard scores.dataType.isFloatingPoint, scores.rank >= 2 else {
            throw KernelError.invalidInput("input must be a floating-point tensor [N, C, …], got \(scores.dataType) \(scores.shape)")
        }
        let classes = scores.shape[1]
        let targetShape = [scores.shape[0]] + scores.shape[2...]
        guard target.dataType == .int64 || target.dataType == .int32, target.shape == targetShape,
            let labels = target.intValues()
        else {
            throw KernelError.invalidInput("target must be int32 or int64 of shape \(targetShape), got \(target.dataType) \(target.shape)")
        }
        if let weight, weight.dataType != scores.dataType || weight.shape != [classes] {
            throw KernelError.invalidInput("weight must be \(scores.dataType) of shape [\(classes)], got \(weight.dataType) \(weight.shape)")
        }
        let split = AxisSplit(shape: scores.shape, axis: 1)
        var logProbabilities = scores.doubleValues() ?? []
        if appliesLogSoftmax { Self.logSoftmax(&logProbabilities, split) }
        let classWeights = weight?.doubleValues()

        var losses = [Double](repeating: 0, count: labels.count)
        var weightSum = 0.0
        for (position, label) in labels.enumerated() where label != ignoreIndex {
            guard label >= 0, label < classes else {
                throw KernelError.invalidInput("target \(label) is not a class index in [0, \(classes))")
            }
            let classWeight = classWeights?[label] ?? 1
            let sample = position / split.inner
            let offset = position % split.inner
            losses[position] = -classWeight * logProbabilities[(sample * classes + label) * split.inner + offset]
            weightSum += classWeight
        }
        let loss: Tensor
        switch reduction {
        case .none: loss = try Tensor(converting: losses, to: scores.dataType, shape: targetShape)
        case .sum: loss = try Tensor(converting: [losses.reduce(0, +)], to: scores.dataType, shape: [])
        case .mean: loss = try Tensor(converting: [losses.reduce(0, +) / weightSum], to: scores.dataType, shape: [])
        }
        guard returnsLogProbabilities else { return [.tensor(loss)] }
        return [.tensor(loss), .tensor(try Tensor(converting: logProbabilities, to: scores.dataType, shape: scores.shape))]
    }

    /// log-softmax over the class axis, in place, shifted by each position's maximum for stability. Walks
    /// one contiguous class row at a time.
    private static func logSoftmax(_ values: inout [Double], _ split: AxisSplit) {
        var maximum = [Double](repeating: 0, count: split.inner)
        var sum = [Double](repeating: 0, count: split.inner)
        for sample in 0..<split.outer {
            let start = sample * split.extent * split.inner
            let rows = (0..<split.extent).map { start + $0 * split.inner }
            for offset in 0..<split.inner {
                maximum[offset] = -.infinity
                sum[offset] = 0
            }
            for row in rows {
                for offset in 0..<split.inner { maximum[offset] = max(maximum[offset], values[row + offset]) }
            }
            for row in rows {
                for offset in 0..<split.inner { sum[offset] += exp(values[row + offset] - maximum[offset]) }
            }
            for row in rows {
                for offset in 0..<split.inner { values[row + offset] -= log(sum[offset]) + maximum[offset] }
            }
        }
    }
}
