import OnyxCore

/// SwiGLU (opset 28): Y = A · sigmoid(alpha · A) · B for equally shaped A (gate) and B (value), no broadcasting.
struct SwiGLUKernel: Kernel {
    private let alpha: Float

    init(_ node: KernelNode) throws {
        alpha = try node.float("alpha", default: 1)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let gate = try inputs.tensor(0)
        let value = try inputs.tensor(1)
        guard gate.shape == value.shape, gate.dataType == value.dataType else {
            throw KernelError.invalidInput(
                "A and B must have the same shape and type, got \(gate.dataType) \(gate.shape) and \(value.dataType) \(value.shape)"
            )
        }
        if try computesInDouble(gate.dataType) {
            return [.tensor(try gated(Double.self, gate, value))]
        }
        return [.tensor(try gated(Float.self, gate, value))]
    }

    private func gated<C: ComputeFloat>(_: C.Type, _ gate: Tensor, _ value: Tensor) throws -> Tensor {
        let a = try gate.computeValues(C.self)
        let b = try value.computeValues(C.self)
        let alpha = C(self.alpha)
        // The swish term is rounded to the input type before the products, as the reference casts it.
        let y = (0..<a.count).map { i in
            roundedThrough(gate.dataType, a[i] * roundedThrough(gate.dataType, C.sigmoid(alpha * a[i]))) * b[i]
        }
        return Tensor.fromCompute(y, dataType: gate.dataType, shape: gate.shape)
    }
}
