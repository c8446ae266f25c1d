import OnyxCore

/// ArrayFeatureExtractor (ai.onnx.ml 1): picks the elements at int64 indices Y along the last axis of X, giving
/// [..., count(Y)]; a 1-D X gives [1, count(Y)], as in ONNX Runtime and the reference implementation.
struct ArrayFeatureExtractorKernel: Kernel {
    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let indices = try inputs.tensor(1)
        guard let extent = data.shape.last else {
            throw KernelError.invalidInput("ArrayFeatureExtractor needs X of rank ≥ 1, got a scalar")
        }
        guard indices.dataType == .int64 else {
            throw KernelError.invalidInput("ArrayFeatureExtractor indices must be int64, got \(indices.dataType)")
        }
        let resolved = try MovementShape.indices(indices, extent: extent)
        let picked = try gatheredTensor(data, axis: data.rank - 1, indices: resolved, indicesShape: [resolved.count])
        return [.tensor(data.rank == 1 ? picked.reshaped([1, resolved.count]) : picked)]
    }
}

/// Binarizer (ai.onnx.ml 1): 1 where X > threshold, else 0 (NaN gives 0), in X's type.
struct BinarizerKernel: Kernel {
    private let threshold: Double

    init(_ node: KernelNode) throws {
        threshold = Double(try node.float("threshold", default: 0))
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard [.float, .double, .int64, .int32].contains(input.dataType) else {
            throw KernelError.invalidInput("Binarizer needs float, double, int64 or int32, got \(input.dataType)")
        }
        return [.tensor(try input.dataType.visitNumeric(Binarize(input: input, threshold: threshold)))]
    }
}

private struct Binarize: NumericVisitor {
    let input: Tensor
    let threshold: Double

    func visit<T: NumericElement>(_: T.Type) -> Tensor {
        let (one, zero) = (T(converting: 1), T(converting: 0))
        let values = input.elements(as: T.self).map { $0.doubleValue > threshold ? one : zero }
        return Tensor(shape: input.shape, elements: values)
    }
}
