import Onyx

/// The kernels of the `com.example` domain: the worked example of docs/custom-kernels.md.
///
/// ```swift
/// var registry = KernelRegistry.standard
/// ExampleKernels.register(in: &registry)
/// let session = try Session(contentsOf: "model.onnx", options: SessionOptions(registry: registry))
/// ```
public enum ExampleKernels {
    /// The custom domain the example's ops live in.
    public static let domain = "com.example"

    /// Registers every `com.example` kernel in `registry`.
    public static func register(in registry: inout KernelRegistry) {
        registry.register("LeakyHardTanh", domain: domain, since: 1) { node in
            // Attributes are read and checked once per node, here, not on every run.
            let alpha = try node.float("alpha", default: 0.01)
            guard alpha.isFinite else { throw KernelError.invalidAttribute("alpha", "must be finite, got \(alpha)") }
            return LeakyHardTanh(alpha: alpha)
        }
    }
}

/// `com.example.LeakyHardTanh(x; alpha)`: `x` inside [-1, 1]; outside it, the line goes on with slope `alpha`
/// (HardTanh that leaks like LeakyRelu). Float and double tensors of any shape.
struct LeakyHardTanh: Kernel {
    let alpha: Float

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        switch x.dataType {
        case .float: return [.tensor(Tensor(shape: x.shape, elements: apply(x.elements(as: Float.self))))]
        case .double: return [.tensor(Tensor(shape: x.shape, elements: apply(x.elements(as: Double.self))))]
        default: throw KernelError.invalidInput("LeakyHardTanh takes float or double tensors, got \(x.dataType)")
        }
    }

    private func apply<T: BinaryFloatingPoint>(_ values: [T]) -> [T] {
        let alpha = T(self.alpha)
        return values.map { x in
            if x > 1 { return 1 + alpha * (x - 1) }
            if x < -1 { return -1 + alpha * (x + 1) }
            return x
        }
    }
}
