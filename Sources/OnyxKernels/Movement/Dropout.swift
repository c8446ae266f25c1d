import OnyxCore

/// Dropout. Before opset 12 it has no training input and Onyx runs it in inference mode (a copy, as every
/// runtime does); from opset 12 a true `training_mode` input drops elements at random.
func registerDropoutKernels(into registry: inout KernelRegistry) {
    registry.register("Dropout", since: 1) { node in
        DropoutKernel(trainable: false, seed: nil, boolMask: false, wantsMask: node.outputCount > 1)
    }
    registry.register("Dropout", since: 10) { node in
        DropoutKernel(trainable: false, seed: nil, boolMask: true, wantsMask: node.outputCount > 1)
    }
    registry.register("Dropout", since: 12) { node in
        DropoutKernel(trainable: true, seed: try node.int("seed"), boolMask: true, wantsMask: node.outputCount > 1)
    }
}

/// Dropout: `output = data · mask / (1 - ratio)` in training mode, `output = data` otherwise. The optional
/// mask output is bool from opset 10, the data type before.
struct DropoutKernel: Kernel {
    /// Whether the node has the `ratio` and `training_mode` inputs (opset 12 on).
    let trainable: Bool
    /// The `seed` attribute (its low 32 bits); without one each run draws a fresh seed.
    let seed: Int?
    let boolMask: Bool
    let wantsMask: Bool

    /// The `ratio` input's default.
    private static let defaultRatio = 0.5

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        var ratio = Self.defaultRatio
        var training = false
        if trainable {
            if let given = try inputs.optionalTensor(1) {
                guard given.count == 1, let value = given.doubleValues()?.first else {
                    throw KernelError.invalidInput(
                        "ratio must be one floating-point value, got \(given.dataType) \(given.shape)")
                }
                ratio = value
            }
            if let given = try inputs.optionalTensor(2) {
                guard given.dataType == .bool, given.count == 1 else {
                    throw KernelError.invalidInput(
                        "training_mode must be one bool, got \(given.dataType) \(given.shape)")
                }
                training = given.elements(as: Bool.self)[0]
            }
        }
        guard training, ratio != 0 else {
            guard wantsMask else { return [.tensor(data)] }
            let keepAll = boolMask ? Tensor(scalar: true) : try numericOne(data.dataType)
            let mask = try assembleTensor(
                keepAll.dataType, shape: data.shape, background: .element(keepAll), copies: [])
            return [.tensor(data), .tensor(mask)]
        }
        guard (0..<1).contains(ratio) else { throw KernelError.invalidInput("ratio must lie in [0, 1), got \(ratio)") }
        var generator = MersenneTwister(seed: seed.map { UInt32(truncatingIfNeeded: $0) } ?? .random(in: .min ... .max))
        let keep = (0..<data.count).map { _ in generator.nextDouble() >= ratio }
        let output = try data.dataType.visitNumeric(DropoutMasker(data: data, keep: keep, scale: 1 / (1 - ratio)))
        return wantsMask ? [.tensor(output), .tensor(Tensor(shape: data.shape, elements: keep))] : [.tensor(output)]
    }
}

private struct DropoutMasker: NumericVisitor {
    let data: Tensor
    let keep: [Bool]
    let scale: Double

    func visit<T: NumericElement>(_: T.Type) -> Tensor {
        let values = zip(data.elements(as: T.self), keep).map { T(converting: $1 ? $0.doubleValue * scale : 0) }
        return Tensor(shape: data.shape, elements: values)
    }
}

/// numpy's legacy `RandomState(seed).uniform(0, 1)` stream (MT19937, 53-bit doubles), so that a seeded
/// training-mode Dropout draws the same mask as the ONNX reference implementation.
private struct MersenneTwister {
    private var state: [UInt32]
    private var position: Int

    init(seed: UInt32) {
        state = [UInt32](repeating: 0, count: 624)
        state[0] = seed
        for index in 1..<624 {
            state[index] = 1_812_433_253 &* (state[index - 1] ^ (state[index - 1] >> 30)) &+ UInt32(index)
        }
        position = 624
    }

    mutating func nextDouble() -> Double {
        let high = Double(next() >> 5)
        let low = Double(next() >> 6)
        return (high * 67_108_864 + low) / 9_007_199_254_740_992
    }

    private mutating func next() -> UInt32 {
        if position == 624 { regenerate() }
        var value = state[position]
        position += 1
        value ^= value >> 11
        value ^= (value << 7) & 0x9D2C_5680
        value ^= (value << 15) & 0xEFC6_0000
        value ^= value >> 18
        return value
    }

    private mutating func regenerate() {
        for index in 0..<624 {
            let bits = (state[index] & 0x8000_0000) | (state[(index + 1) % 624] & 0x7FFF_FFFF)
            state[index] = state[(index + 397) % 624] ^ (bits >> 1) ^ (bits & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        position = 0
    }
}
