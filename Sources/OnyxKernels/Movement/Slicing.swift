import OnyxCore

/// The ops that cut tensors into boxes or join boxes: Slice, Split, Concat, ReverseSequence.
func registerSlicingKernels(into registry: inout KernelRegistry) {
    registry.register("Slice", since: 1) { node in
        guard let starts = try node.ints("starts"), let ends = try node.ints("ends") else {
            throw KernelError.invalidAttribute("starts", "starts and ends are required")
        }
        return SliceKernel(attributes: (starts, ends, try node.ints("axes")))
    }
    registry.register("Slice", since: 10) { _ in SliceKernel(attributes: nil) }
    // One kernel serves every Split: sizes come from input 1 (opset 1, 13 on), the `split` attribute
    // (before 13), the `num_outputs` attribute (18 on), or else equal parts, one per output.
    registry.register("Split", since: 1) { node in
        SplitKernel(
            axis: try node.int("axis", default: 0), attributeSizes: try node.ints("split"),
            parts: try node.int("num_outputs") ?? node.outputCount, outputCount: node.outputCount)
    }
    registry.register("Concat", since: 1) { node in ConcatKernel(axis: try node.int("axis", default: 1)) }
    registry.register("Concat", since: 4) { node in
        guard let axis = try node.int("axis") else { throw KernelError.invalidAttribute("axis", "required") }
        return ConcatKernel(axis: axis)
    }
    registry.register("ReverseSequence", since: 10) { node in
        try ReverseSequenceKernel(
            batchAxis: try node.int("batch_axis", default: 1), timeAxis: try node.int("time_axis", default: 0))
    }
}

/// Slice: starts, ends, axes and steps from attributes (opset 1) or inputs 1–4 (opset 10 on), clamped as
/// numpy clamps them; negative steps walk backwards.
struct SliceKernel: Kernel {
    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let starts: [Int]
        let ends: [Int]
        let requestedAxes: [Int]?
        var steps: [Int]?
        if let attributes {
            (starts, ends, requestedAxes) = attributes
        } else {
            starts = try MovementShape.ints(try inputs.tensor(1), name: "starts")
            ends = try MovementShape.ints(try inputs.tensor(2), name: "ends")
            requestedAxes = try inputs.optionalTensor(3).map { try MovementShape.ints($0, name: "axes") }
            steps = try inputs.optionalTensor(4).map { try MovementShape.ints($0, name: "steps") }
        }
        let axes = try MovementShape.axes(requestedAxes ?? Array(0..<starts.count), rank: data.rank)
        let stepList = steps ?? Array(repeating: 1, count: starts.count)
        let counts = [starts.count, ends.count, axes.count, stepList.count]
        guard Set(counts).count == 1 else {
            throw KernelError.invalidInput("starts, ends, axes and steps must have one entry each, got \(counts)")
        }
        var extents = data.shape
        var origin = [Int](repeating: 0, count: data.rank)
        var strideSteps = [Int](repeating: 1, count: data.rank)
        for (entry, axis) in axes.enumerated() {
            guard stepList[entry] != 0 else {
                throw KernelError.invalidInput("slice step on axis \(axis) must not be 0")
            }
            let extent = data.shape[axis]
            // A step longer than the axis takes at most one element whatever its size; clamping it keeps the
            // stride arithmetic from overflowing.
            let step = min(max(stepList[entry], -max(extent, 1)), max(extent, 1))
            let (start, end) = (starts[entry], ends[entry])
            func resolved(_ position: Int, _ range: ClosedRange<Int>) -> Int {
                min(max(position < 0 ? position + extent : position, range.lowerBound), range.upperBound)
            }
            if step > 0 {
                let (from, to) = (resolved(start, 0...extent), resolved(end, 0...extent))
                origin[axis] = from
                extents[axis] = to > from ? (to - from - 1) / step + 1 : 0
            } else {
                let (from, to) = (resolved(start, -1...extent - 1), resolved(end, -1...extent - 1))
                origin[axis] = from
                extents[axis] = from > to ? (from - to - 1) / -step + 1 : 0
            }
            strideSteps[axis] = step
        }
        let zero = [Int](repeating: 0, count: data.rank)
        let region = StridedRegion(
            box: extents, from: data.shape, start: origin, steps: strideSteps, to: extents, start: zero)
        let copy = RegionCopy(source: .input(0), region: region)
        return [.tensor(try assembleTensor(data.dataType, shape: extents, sources: [data], copies: [copy]))]
    }
}

/// Split: consecutive parts of the input along `axis`.
struct SplitKernel: Kernel {
    let axis: Int
    let attributeSizes: [Int]?
    /// How many equal parts to make when no sizes are given.
    let parts: Int
    let outputCount: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        let axis = try MovementShape.axis(axis, rank: data.rank)
        let extent = data.shape[axis]
        let given = try inputs.optionalTensor(1).map { try MovementShape.ints($0, name: "split") }
        let sizes = given ?? attributeSizes ?? Self.equalParts(extent, parts)
        guard sizes.count == outputCount else {
            throw KernelError.invalidInput("split sizes \(sizes) do not match the node's \(outputCount) outputs")
        }
        guard sizes.allSatisfy({ (0...extent).contains($0) }), sizes.reduce(0, +) == extent else {
            throw KernelError.invalidInput("split sizes \(sizes) do not add up to the extent \(extent) of axis \(axis)")
        }
        let zero = [Int](repeating: 0, count: data.rank)
        var start = zero
        return try sizes.map { size in
            var shape = data.shape
            shape[axis] = size
            let copy = RegionCopy(
                source: .input(0),
                region: StridedRegion(box: shape, from: data.shape, start: start, to: shape, start: zero))
            start[axis] += size
            return .tensor(try assembleTensor(data.dataType, shape: shape, sources: [data], copies: [copy]))
        }
    }

    /// `parts` sizes of `ceil(extent / parts)`, the last one taking what remains (negative when nothing does).
    private static func equalParts(_ extent: Int, _ parts: Int) -> [Int] {
        guard parts > 0 else { return [] }
        let size = (extent + parts - 1) / parts
        return Array(repeating: size, count: parts - 1) + [extent - size * (parts - 1)]
    }
}

/// Concat: the inputs joined along `axis`; every other extent must match.
struct ConcatKernel: Kernel {
    let axis: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let parts = try inputs.tensors(from: 0)
        guard let first = parts.first else { throw KernelError.missingInput(0) }
        let axis = try MovementShape.axis(axis, rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for part in parts {
            var expected = shape
            expected[axis] = part.rank == first.rank ? part.shape[axis] : 0
            guard part.shape == expected else {
                throw KernelError.invalidInput(
                    "cannot concatenate shape \(part.shape) to \(first.shape) along axis \(axis)")
            }
            shape[axis] += part.shape[axis]
        }
        var copies: [RegionCopy] = []
        let zero = [Int](repeating: 0, count: first.rank)
        var start = zero
        for (index, part) in parts.enumerated() {
            let region = StridedRegion(box: part.shape, from: part.shape, start: zero, to: shape, start: start)
            copies.append(RegionCopy(source: .input(index), region: region))
            start[axis] += part.shape[axis]
        }
        return [.tensor(try assembleTensor(first.dataType, shape: shape, sources: parts, copies: copies))]
    }
}

/// ReverseSequence: for each batch entry `b`, the first `sequence_lens[b]` steps along the time axis reversed.
struct ReverseSequenceKernel: Kernel {
    let batchAxis: Int
    let timeAxis: Int

    init(batchAxis: Int, timeAxis: Int) throws {
        guard Set([batchAxis, timeAxis]) == [0, 1] else {
            throw KernelError.invalidAttribute(
                "batch_axis", "batch_axis and time_axis must be 0 and 1, got \(batchAxis) and \(timeAxis)")
        }
        self.batchAxis = batchAxis
        self.timeAxis = timeAxis
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard data.rank >= 2 else { throw KernelError.invalidInput("expected rank ≥ 2, got shape \(data.shape)") }
        let lengths = try MovementShape.ints(try inputs.tensor(1), name: "sequence_lens")
        let (batch, time) = (data.shape[batchAxis], data.shape[timeAxis])
        guard lengths.count == batch else {
            throw KernelError.invalidInput("sequence_lens has \(lengths.count) entries for a batch of \(batch)")
        }
        let origin = [Int](repeating: 0, count: data.rank)
        var copies = [RegionCopy(source: .input(0), region: StridedRegion(whole: data.shape))]
        for (entry, length) in lengths.enumerated() {
            guard (0...time).contains(length) else {
                throw KernelError.invalidInput("sequence_lens value \(length) is outside 0...\(time)")
            }
            guard length > 1 else { continue }
            var extents = data.shape
            (extents[batchAxis], extents[timeAxis]) = (1, length)
            var steps = [Int](repeating: 1, count: data.rank)
            steps[timeAxis] = -1
            var from = origin
            (from[batchAxis], from[timeAxis]) = (entry, length - 1)
            var to = origin
            to[batchAxis] = entry
            let region = StridedRegion(
                box: extents, from: data.shape, start: from, steps: steps, to: data.shape, start: to)
            copies.append(RegionCopy(source: .input(0), region: region))
        }
        return [.tensor(try assembleTensor(data.dataType, shape: data.shape, sources: [data], copies: copies))]
    }
}
