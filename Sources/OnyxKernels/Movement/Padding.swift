import OnyxCore

/// The ops that grow or crop a tensor around its contents: Pad and CenterCropPad.
func registerPaddingKernels(into registry: inout KernelRegistry) {
    registry.register("Pad", since: 1) { node in try PadKernel(node, padsAttribute: "paddings") }
    registry.register("Pad", since: 2) { node in try PadKernel(node, padsAttribute: "pads") }
    registry.register("Pad", since: 11) { node in try PadKernel(node, padsAttribute: nil) }
    registry.register("CenterCropPad", since: 18) { node in CenterCropPadKernel(axes: try node.ints("axes")) }
}

/// Pad: `pads` (`[begin per axis..., end per axis...]`, negative ones crop) from an attribute before opset 11
/// and input 1 from 11; the constant from the `value` attribute or input 2; the axes from input 3 (opset 18).
struct PadKernel: Kernel {
    enum Mode: String {
        case constant, reflect, edge, wrap
    }
    let mode: Mode
    /// The pads attribute (`paddings`, then `pads`) of opsets 1 and 2; nil when pads are input 1.
    let attributePads: [Int]?
    /// The `value` attribute of opsets 1 and 2.
    let attributeValue: Float?

    init(_ node: KernelNode, padsAttribute: String?) throws {
        let mode = try node.string("mode", default: "constant")
        guard let parsed = Mode(rawValue: mode) else {
            throw KernelError.invalidAttribute("mode", "expected constant, reflect, edge or wrap, got \(mode)")
        }
        self.mode = parsed
        if let padsAttribute {
            guard let pads = try node.ints(padsAttribute) else {
                throw KernelError.invalidAttribute(padsAttribute, "required")
            }
            attributePads = pads
            attributeValue = try node.float("value", default: 0)
        } else {
            attributePads = nil
            attributeValue = nil
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let rank = data.rank
        let pads = try attributePads ?? MovementShape.ints(try inputs.tensor(1), name: "pads")
        let requestedAxes = try inputs.optionalTensor(3).map { try MovementShape.ints($0, name: "axes") }
        let axes = try MovementShape.axes(requestedAxes ?? Array(0..<rank), rank: rank)
        guard pads.count == 2 * axes.count else {
            throw KernelError.invalidInput("expected \(2 * axes.count) pads for \(axes.count) axes, got \(pads.count)")
        }
        guard pads.allSatisfy({ $0.magnitude <= MovementShape.maxElementCount }) else {
            throw KernelError.invalidInput("pads \(pads) exceed \(MovementShape.maxElementCount)")
        }
        var before = [Int](repeating: 0, count: rank)
        var after = [Int](repeating: 0, count: rank)
        for (entry, axis) in axes.enumerated() { (before[axis], after[axis]) = (pads[entry], pads[axes.count + entry]) }

        // Negative pads crop: the part of the input kept, and where it lands in the output.
        let keptStart = before.map { max(0, -$0) }
        let kept = data.shape.indices.map { data.shape[$0] + min(0, before[$0]) + min(0, after[$0]) }
        let placed = before.map { max(0, $0) }
        let shape = data.shape.indices.map { kept[$0] + placed[$0] + max(0, after[$0]) }
        guard kept.allSatisfy({ $0 >= 0 }) else {
            throw KernelError.invalidInput("pads \(pads) crop more than the extents of shape \(data.shape)")
        }
        _ = try MovementShape.elementCount(shape)
        let interior = StridedRegion(box: kept, from: data.shape, start: keptStart, to: shape, start: placed)
        var copies = [RegionCopy(source: .input(0), region: interior)]
        guard mode != .constant else {
            let background = try constantValue(inputs, like: data).map(AssemblyBackground.element) ?? .zero
            let output = try assembleTensor(
                data.dataType, shape: shape, background: background, sources: [data], copies: copies)
            return [.tensor(output)]
        }
        // Fill the borders axis by axis, one hyperplane at a time, from a hyperplane already written: axes
        // done so far are written over their whole output extent, the others over the kept part only.
        var extents = kept
        for axis in 0..<rank where shape[axis] != kept[axis] {
            guard kept[axis] > 0 else {
                throw KernelError.invalidInput("cannot \(mode) pad axis \(axis), which has no elements left")
            }
            extents[axis] = 1
            for position in Array(0..<placed[axis]) + Array((placed[axis] + kept[axis])..<shape[axis]) {
                var from = placed
                var to = placed
                for done in 0..<axis { (from[done], to[done]) = (0, 0) }
                from[axis] = placed[axis] + sourceIndex(position - placed[axis], extent: kept[axis])
                to[axis] = position
                let border = StridedRegion(box: extents, from: shape, start: from, to: shape, start: to)
                copies.append(RegionCopy(source: .output, region: border))
            }
            extents[axis] = shape[axis]
        }
        return [.tensor(try assembleTensor(data.dataType, shape: shape, sources: [data], copies: copies))]
    }

    /// The kept index whose value lands at `index` (relative to the kept part, outside `0..<extent`).
    private func sourceIndex(_ index: Int, extent: Int) -> Int {
        switch mode {
        case .constant, .edge: return min(max(index, 0), extent - 1)
        case .wrap: return (index % extent + extent) % extent
        case .reflect:
            guard extent > 1 else { return 0 }
            let period = 2 * (extent - 1)
            let folded = (index % period + period) % period
            return folded < extent ? folded : period - folded
        }
    }

    /// The constant to pad with, as a one-element tensor of the data's type; nil for the type's zero.
    private func constantValue(_ inputs: KernelInputs, like data: Tensor) throws -> Tensor? {
        if let attributeValue {
            return try Tensor(converting: [Double(attributeValue)], to: data.dataType, shape: [])
        }
        guard let value = try inputs.optionalTensor(2), value.count > 0 else { return nil }
        guard value.count == 1, value.dataType == data.dataType else {
            throw KernelError.invalidInput(
                "constant_value must be one \(data.dataType), got \(value.dataType) \(value.shape)")
        }
        return value
    }
}

/// CenterCropPad: each listed axis (all by default) cropped or zero-padded to the extent in input 1, centred
/// (an odd leftover goes to the end).
struct CenterCropPadKernel: Kernel {
    let axes: [Int]?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let targets = try MovementShape.ints(try inputs.tensor(1), name: "shape")
        let axes = try MovementShape.axes(axes ?? Array(0..<data.rank), rank: data.rank)
        guard targets.count == axes.count else {
            throw KernelError.invalidInput("shape has \(targets.count) extents for \(axes.count) axes")
        }
        var shape = data.shape
        for (axis, target) in zip(axes, targets) { shape[axis] = target }
        _ = try MovementShape.elementCount(shape)
        let extents = zip(data.shape, shape).map { min($0, $1) }
        let from = zip(data.shape, shape).map { max(0, $0 - $1) / 2 }
        let to = zip(data.shape, shape).map { max(0, $1 - $0) / 2 }
        let region = StridedRegion(box: extents, from: data.shape, start: from, to: shape, start: to)
        let output = try assembleTensor(
            data.dataType, shape: shape, background: .zero, sources: [data],
            copies: [RegionCopy(source: .input(0), region: region)])
        return [.tensor(output)]
    }
}
