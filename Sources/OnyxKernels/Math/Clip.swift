import OnyxCore

/// Registers Clip: bounds are float attributes before opset 11, optional scalar inputs from then on.
func registerClipKernels(into registry: inout KernelRegistry) {
    registry.register("Clip", since: 1) { node in
        let lower = try node.float("min", default: -3.40282347e+38)
        let upper = try node.float("max", default: 3.40282347e+38)
        return ClipKernel(attributeBounds: (lower, upper))
    }
    registry.register("Clip", since: 11) { _ in ClipKernel(attributeBounds: nil) }
}

/// Clip(x) = Min(Max(x, min), max), as the spec defines it: NaN stays NaN, and min > max gives max everywhere.
struct ClipKernel: Kernel {
    /// The (min, max) attributes of opsets before 11; nil when the bounds are inputs 1 and 2.
    let attributeBounds: (Float, Float)?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        var result = try inputs.tensor(0)
        let lower: Tensor?
        let upper: Tensor?
        if let (minimum, maximum) = attributeBounds {
            lower = try castTensor(Tensor(scalar: minimum), to: result.dataType)
            upper = try castTensor(Tensor(scalar: maximum), to: result.dataType)
        } else {
            lower = try inputs.optionalTensor(1)
            upper = try inputs.optionalTensor(2)
        }
        for (bound, lanes, role) in [(lower, BinaryLanes.maximum, "min"), (upper, BinaryLanes.minimum, "max")] {
            guard let bound else { continue }
            guard bound.count == 1 else {
                throw KernelError.invalidInput("Clip's \(role) must hold one value, got shape \(bound.shape)")
            }
            let scalar = bound.reshaped([])
            result = try lanes.apply(result, scalar, plan: BroadcastPlan([result.shape, []]), operator: "Clip")
        }
        return [.tensor(result)]
    }
}
