import Foundation
import OnyxCore

/// Registers the kernels of the Random folder. Every kernel draws from numpy's legacy generator as the ONNX
/// reference implementation does: with a `seed` each run restarts the stream from it (so a seeded node gives the
/// same output every run); without one each run seeds afresh from the system generator.
func registerRandomKernels(into registry: inout KernelRegistry) {
    registry.register("RandomUniform", since: 1) { node in
        try RandomFillKernel(node, distribution: .uniform(node), takesShapeFromInput: false)
    }
    registry.register("RandomNormal", since: 1) { node in
        try RandomFillKernel(node, distribution: .normal(node), takesShapeFromInput: false)
    }
    registry.register("RandomUniformLike", since: 1) { node in
        try RandomFillKernel(node, distribution: .uniform(node), takesShapeFromInput: true)
    }
    registry.register("RandomNormalLike", since: 1) { node in
        try RandomFillKernel(node, distribution: .normal(node), takesShapeFromInput: true)
    }
    registry.register("Bernoulli", since: 15) { node in try BernoulliKernel(node) }
    registry.register("Multinomial", since: 7) { node in try MultinomialKernel(node) }
}

/// The distribution a random fill draws from.
enum FillDistribution: Sendable {
    /// Uniform on [low, high), from numpy's `rand`.
    case uniform(low: Double, high: Double)
    /// Normal with the given mean and standard deviation, from numpy's `randn`.
    case normal(mean: Double, scale: Double)

    static func uniform(_ node: KernelNode) throws -> FillDistribution {
        .uniform(low: Double(try node.float("low", default: 0)), high: Double(try node.float("high", default: 1)))
    }

    static func normal(_ node: KernelNode) throws -> FillDistribution {
        .normal(mean: Double(try node.float("mean", default: 0)), scale: Double(try node.float("scale", default: 1)))
    }
}

/// RandomUniform / RandomNormal (shape from the `shape` attribute, type from `dtype`, float by default) and
/// RandomUniformLike / RandomNormalLike (shape of the input; type from `dtype`, else the input's).
struct RandomFillKernel: Kernel {
    private let distribution: FillDistribution
    /// The output type; nil for the -Like ops without `dtype`, which take the input's.
    private let dataType: DataType?
    /// The `shape` attribute; nil for the -Like ops.
    private let shape: [Int]?
    private let seed: UInt32?

    init(_ node: KernelNode, distribution: FillDistribution, takesShapeFromInput: Bool) throws {
        self.distribution = distribution
        seed = try seedAttribute(node)
        if takesShapeFromInput {
            dataType = try dataTypeAttribute(node, "dtype")
            shape = nil
        } else {
            dataType = try dataTypeAttribute(node, "dtype") ?? .float
            guard let shape = try node.ints("shape") else {
                throw KernelError.invalidAttribute("shape", "is required")
            }
            _ = try Broadcast.elementCount(shape)
            self.shape = shape
        }
        if let dataType, !isRandomFillType(dataType) {
            throw KernelError.invalidAttribute("dtype", "must be float, double, float16 or bfloat16, got \(dataType)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let outputShape: [Int]
        let outputType: DataType
        if let shape, let dataType {
            (outputShape, outputType) = (shape, dataType)
        } else {
            let input = try inputs.tensor(0)
            (outputShape, outputType) = (input.shape, dataType ?? input.dataType)
            guard isRandomFillType(outputType) else {
                throw KernelError.invalidInput(
                    "without dtype the output takes the input's type, which must be floating-point, got \(outputType)")
            }
        }
        var generator = NumpyRandomState(runSeed: seed)
        let count = outputShape.reduce(1, *)
        let values: [Double]
        switch distribution {
        case .uniform(let low, let high):
            values = (0..<count).map { _ in generator.nextDouble() * (high - low) + low }
        case .normal(let mean, let scale):
            values = (0..<count).map { _ in generator.nextGaussian() * scale + mean }
        }
        return [.tensor(try Tensor(converting: values, to: outputType, shape: outputShape))]
    }
}

/// Bernoulli (opset 15): 1 with probability `input[i]`, else 0, in `dtype` (default: the input's type).
struct BernoulliKernel: Kernel {
    private let dataType: DataType?
    private let seed: UInt32?

    init(_ node: KernelNode) throws {
        dataType = try dataTypeAttribute(node, "dtype")
        seed = try seedAttribute(node)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard input.dataType.isFloatingPoint, let probabilities = input.doubleValues() else {
            throw KernelError.invalidInput("Bernoulli needs floating-point probabilities, got \(input.dataType)")
        }
        if let bad = probabilities.first(where: { !(0...1).contains($0) }) {
            throw KernelError.invalidInput("Bernoulli probabilities must lie in [0, 1], got \(bad)")
        }
        var generator = NumpyRandomState(runSeed: seed)
        let draws = probabilities.map { generator.nextBernoulli($0) ? 1.0 : 0.0 }
        return [.tensor(try Tensor(converting: draws, to: dataType ?? input.dataType, shape: input.shape))]
    }
}

/// Multinomial (opset 7): `sample_size` class indices per row of input [batch, classes], which holds
/// unnormalised log-probabilities; int32 (`dtype` 6, the default) or int64 output [batch, sample_size].
struct MultinomialKernel: Kernel {
    private let dataType: DataType
    private let sampleSize: Int
    private let seed: UInt32?

    init(_ node: KernelNode) throws {
        dataType = try dataTypeAttribute(node, "dtype") ?? .int32
        guard dataType == .int32 || dataType == .int64 else {
            throw KernelError.invalidAttribute("dtype", "must be int32 or int64, got \(dataType)")
        }
        sampleSize = try node.int("sample_size", default: 1)
        guard sampleSize > 0 else {
            throw KernelError.invalidAttribute("sample_size", "must be positive, got \(sampleSize)")
        }
        seed = try seedAttribute(node)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard input.rank == 2, input.shape[1] > 0, input.dataType.isFloatingPoint,
            let logits = input.doubleValues()
        else {
            throw KernelError.invalidInput(
                "Multinomial needs floating-point input [batch, classes ≥ 1], got \(input.dataType) \(input.shape)")
        }
        let (batch, classes) = (input.shape[0], input.shape[1])
        let outputShape = [batch, sampleSize]
        _ = try Broadcast.elementCount(outputShape)
        var generator = NumpyRandomState(runSeed: seed)
        var samples = [Double]()
        samples.reserveCapacity(batch * sampleSize)
        var cumulative = [Double](repeating: 0, count: classes)
        for row in 0..<batch {
            let rowLogits = logits[(row * classes)..<((row + 1) * classes)]
            let largest = rowLogits.max() ?? 0
            var total = 0.0
            for (column, logit) in rowLogits.enumerated() {
                total += exp(logit - largest)
                cumulative[column] = total
            }
            guard total.isFinite, total > 0 else {
                throw KernelError.invalidInput("Multinomial row \(row) has no finite positive probability")
            }
            for _ in 0..<sampleSize {
                let target = generator.nextDouble() * total
                let chosen = cumulative.firstIndex { $0 > target } ?? classes - 1
                samples.append(Double(chosen))
            }
        }
        return [.tensor(try Tensor(converting: samples, to: dataType, shape: outputShape))]
    }
}

/// The `seed` attribute (a float) as numpy's integer seed: truncated toward zero, low 32 bits.
private func seedAttribute(_ node: KernelNode) throws -> UInt32? {
    guard let seed = try node.float("seed") else { return nil }
    guard let whole = Int64(exactly: seed.rounded(.towardZero)) else {
        throw KernelError.invalidAttribute("seed", "must be a finite number in the int64 range, got \(seed)")
    }
    return UInt32(truncatingIfNeeded: whole)
}

/// A data-type attribute such as `dtype`, nil when unset.
private func dataTypeAttribute(_ node: KernelNode, _ name: String) throws -> DataType? {
    guard let code = try node.int(name) else { return nil }
    guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)) else {
        throw KernelError.invalidAttribute(name, "\(code) is not an ONNX data type")
    }
    return type
}

/// The random fills produce float, double, float16 or bfloat16 only.
private func isRandomFillType(_ type: DataType) -> Bool {
    [.float, .double, .float16, .bfloat16].contains(type)
}
