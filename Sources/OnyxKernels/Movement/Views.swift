import OnyxCore

/// Identity and the ops that only change how elements are viewed (shape, rank), never copying them.
func registerViewKernels(into registry: inout KernelRegistry) {
    registry.register("Identity", since: 1) { inputs, _ in
        guard let value = inputs.value(0) else { throw KernelError.missingInput(0) }
        return [value]
    }
    registry.register("Reshape", since: 1) { node in
        guard let shape = try node.ints("shape") else { throw KernelError.invalidAttribute("shape", "required") }
        return ReshapeKernel(attributeShape: shape, allowZero: false)
    }
    registry.register("Reshape", since: 5) { node in
        ReshapeKernel(attributeShape: nil, allowZero: try node.int("allowzero", default: 0) != 0)
    }
    registry.register("Flatten", since: 1) { node in FlattenKernel(axis: try node.int("axis", default: 1)) }
    registry.register("Squeeze", since: 1) { node in
        // An empty list means "every unit axis", as no list does.
        SqueezeKernel(attributeAxes: try node.ints("axes").flatMap { $0.isEmpty ? nil : $0 })
    }
    registry.register("Squeeze", since: 13) { _ in SqueezeKernel(attributeAxes: nil) }
    registry.register("Unsqueeze", since: 1) { node in
        guard let axes = try node.ints("axes") else { throw KernelError.invalidAttribute("axes", "required") }
        return UnsqueezeKernel(attributeAxes: axes)
    }
    registry.register("Unsqueeze", since: 13) { _ in UnsqueezeKernel(attributeAxes: nil) }
    registry.register("Shape", since: 1) { node in
        ShapeKernel(start: try node.int("start", default: 0), end: try node.int("end"))
    }
    registry.register("Size", since: 1) { inputs, _ in
        [.tensor(Tensor(scalar: Int64(try inputs.tensor(0).count)))]
    }
}

/// Reshape: the target shape from the `shape` attribute (opset 1) or input 1 (opset 5 on).
struct ReshapeKernel: Kernel {
    let attributeShape: [Int]?
    let allowZero: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let requested = try attributeShape ?? MovementShape.ints(try inputs.tensor(1), name: "shape")
        return [.tensor(data.reshaped(try Self.resolve(requested, of: data, allowZero: allowZero)))]
    }

    /// `requested` with `0` (copy the input's extent, unless `allowZero`) and one `-1` (infer) resolved.
    static func resolve(_ requested: [Int], of data: Tensor, allowZero: Bool) throws -> [Int] {
        func mismatch(_ detail: String) -> KernelError {
            KernelError.invalidInput("cannot reshape \(data.shape) (\(data.count) elements) to \(requested): \(detail)")
        }
        var shape = requested
        var inferred: Int?
        for (axis, extent) in requested.enumerated() {
            switch extent {
            case -1:
                guard inferred == nil else { throw mismatch("more than one -1") }
                inferred = axis
            case 0 where !allowZero:
                guard axis < data.rank else { throw mismatch("0 at axis \(axis) has no input extent to copy") }
                shape[axis] = data.shape[axis]
            case ..<0: throw mismatch("negative extent \(extent)")
            default: break
            }
        }
        if allowZero, inferred != nil, requested.contains(0) { throw mismatch("allowzero forbids 0 together with -1") }
        var known = 1
        for (axis, extent) in shape.enumerated() where axis != inferred {
            let (product, overflow) = known.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw mismatch("element count overflows") }
            known = product
        }
        if let inferred {
            guard known != 0, data.count % known == 0 else { throw mismatch("cannot infer the -1 extent") }
            shape[inferred] = data.count / known
        } else if known != data.count {
            throw mismatch("element counts differ")
        }
        return shape
    }
}

/// Flatten: a 2-D view whose first extent is the product of the axes before `axis`.
struct FlattenKernel: Kernel {
    let axis: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard (-data.rank...data.rank).contains(axis) else {
            throw KernelError.invalidInput(
                "axis \(axis) is out of range for rank \(data.rank) (expected \(-data.rank)...\(data.rank))")
        }
        let split = axis < 0 ? axis + data.rank : axis
        let outer = data.shape[..<split].reduce(1, *)
        return [.tensor(data.reshaped([outer, data.shape[split...].reduce(1, *)]))]
    }
}

/// Squeeze: removes the given unit axes (attribute before opset 13, input 1 from 13), or every unit axis.
struct SqueezeKernel: Kernel {
    let attributeAxes: [Int]?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let requested = try attributeAxes ?? inputs.optionalTensor(1).map { try MovementShape.ints($0, name: "axes") }
        guard let requested else { return [.tensor(data.reshaped(data.shape.filter { $0 != 1 }))] }
        let axes = try MovementShape.axes(requested, rank: data.rank)
        for axis in axes where data.shape[axis] != 1 {
            throw KernelError.invalidInput("cannot squeeze axis \(axis) of shape \(data.shape): its extent is not 1")
        }
        let shape = data.shape.indices.filter { !axes.contains($0) }.map { data.shape[$0] }
        return [.tensor(data.reshaped(shape))]
    }
}

/// Unsqueeze: inserts unit axes at the given positions of the output (attribute before opset 13, input 1 from 13).
struct UnsqueezeKernel: Kernel {
    let attributeAxes: [Int]?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let requested = try attributeAxes ?? MovementShape.ints(try inputs.tensor(1), name: "axes")
        let axes = Set(try MovementShape.axes(requested, rank: data.rank + requested.count))
        var remaining = data.shape.makeIterator()
        let shape = (0..<(data.rank + axes.count)).map { axes.contains($0) ? 1 : remaining.next() ?? 1 }
        return [.tensor(data.reshaped(shape))]
    }
}

/// Shape: the input's extents from `start` to `end` (clamped, negative counted from the end) as int64.
struct ShapeKernel: Kernel {
    let start: Int
    let end: Int?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let shape = try inputs.tensor(0).shape
        func clamped(_ axis: Int) -> Int { min(max(axis < 0 ? axis + shape.count : axis, 0), shape.count) }
        let from = clamped(start)
        let to = clamped(end ?? shape.count)
        let extents = from < to ? shape[from..<to].map { Int64($0) } : []
        return [.tensor(Tensor(shape: [extents.count], elements: extents))]
    }
}
