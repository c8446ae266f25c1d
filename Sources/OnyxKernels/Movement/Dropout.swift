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
            let keepAll = boolMask ? Tensor(scalar: true) : try Tensor(converting: [1], to: data.dataType, shape: [])
            let mask = try assembleTensor(
                keepAll.dataType, shape: data.shape, background: .element(keepAll), copies: [])
            return [.tensor(data), .tensor(mask)]
        }
        guard (0..<1).contains(ratio) else { throw KernelError.invalidInput("ratio must lie in [0, 1), got \(ratio)") }
        // numpy's RandomState(seed).uniform(0, 1), so that a seeded mask is the ONNX reference implementation's.
        var generator = NumpyRandomState(runSeed: seed.map { UInt32(truncatingIfNeeded: $0) })
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
