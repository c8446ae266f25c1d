import OnyxCore

/// The ops that repeat a tensor's contents: Tile and the deprecated nearest-neighbour Upsample.
func registerReplicationKernels(into registry: inout KernelRegistry) {
    registry.register("Tile", since: 1) { _ in TileKernel(singleAxis: true) }
    registry.register("Tile", since: 6) { _ in TileKernel(singleAxis: false) }
    registry.register("Upsample", since: 1) { node in
        guard let height = try node.float("height_scale"), let width = try node.float("width_scale") else {
            throw KernelError.invalidAttribute("height_scale", "height_scale and width_scale are required")
        }
        return try UpsampleKernel(
            mode: try node.string("mode", default: "nearest"), attributeScales: [1, 1, height, width])
    }
    registry.register("Upsample", since: 7) { node in
        guard let scales = try node.floats("scales") else { throw KernelError.invalidAttribute("scales", "required") }
        return try UpsampleKernel(mode: try node.string("mode", default: "nearest"), attributeScales: scales)
    }
    registry.register("Upsample", since: 9) { node in
        try UpsampleKernel(mode: try node.string("mode", default: "nearest"), attributeScales: nil)
    }
}

/// Tile: the input repeated `repeats[i]` times along each axis (opset 6 on), or `tiles` times along one
/// `axis` (opset 1, both scalar inputs).
struct TileKernel: Kernel {
    let singleAxis: Bool

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        var repeats: [Int]
        if singleAxis {
            repeats = Array(repeating: 1, count: data.rank)
            let axis = try MovementShape.scalarInt(try inputs.tensor(2), name: "axis")
            repeats[try MovementShape.axis(axis, rank: data.rank)] = try MovementShape.scalarInt(
                try inputs.tensor(1), name: "tiles")
        } else {
            repeats = try MovementShape.ints(try inputs.tensor(1), name: "repeats")
        }
        guard repeats.count == data.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw KernelError.invalidInput(
                "repeats \(repeats) must be \(data.rank) non-negative counts for shape \(data.shape)")
        }
        // An overflowing extent becomes Int.max, which the element-count check then refuses.
        let shape = zip(data.shape, repeats).map { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard try MovementShape.elementCount(shape) > 0 else {
            return [.tensor(try assembleTensor(data.dataType, shape: shape, copies: []))]
        }
        let origin = [Int](repeating: 0, count: data.rank)
        let corner = StridedRegion(box: data.shape, from: data.shape, start: origin, to: shape, start: origin)
        var copies = [RegionCopy(source: .input(0), region: corner)]
        // Replicate axis by axis from the innermost, doubling the written part each time: axes done so far
        // are written over their whole output extent, the others over the input extent only.
        var extents = data.shape
        for axis in data.shape.indices.reversed() {
            var written = data.shape[axis]
            while written < shape[axis] {
                extents[axis] = min(written, shape[axis] - written)
                var to = origin
                to[axis] = written
                let repetition = StridedRegion(box: extents, from: shape, start: origin, to: shape, start: to)
                copies.append(RegionCopy(source: .output, region: repetition))
                written += extents[axis]
            }
            extents[axis] = shape[axis]
        }
        return [.tensor(try assembleTensor(data.dataType, shape: shape, sources: [data], copies: copies))]
    }
}

/// Upsample (deprecated): each output extent is `floor(extent · scale)` and each output element copies the
/// input element at `floor(index / scale)`. Only the `nearest` mode is implemented.
struct UpsampleKernel: Kernel {
    /// The scales attribute (opsets 1 and 7); nil when scales are input 1 (opset 9 on).
    let attributeScales: [Float]?

    init(mode: String, attributeScales: [Float]?) throws {
        guard mode == "nearest" else { throw KernelError.unsupported("Upsample mode '\(mode)' (only nearest)") }
        self.attributeScales = attributeScales
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        var data = try inputs.tensor(0)
        let scales: [Float]
        if let attributeScales {
            scales = attributeScales
        } else {
            let given = try inputs.tensor(1)
            guard given.dataType == .float else {
                throw KernelError.invalidInput("scales must be float, got \(given.dataType)")
            }
            scales = given.elements(as: Float.self)
        }
        guard scales.count == data.rank, scales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw KernelError.invalidInput(
                "scales \(scales) must be \(data.rank) positive numbers for shape \(data.shape)")
        }
        let shape = zip(data.shape, scales).map { extent, scale in
            let scaled = (Double(extent) * Double(scale)).rounded(.down)
            return scaled <= Double(MovementShape.maxElementCount) ? Int(scaled) : Int.max
        }
        _ = try MovementShape.elementCount(shape)
        for axis in shape.indices where shape[axis] != data.shape[axis] {
            let scale = Double(scales[axis])
            let last = data.shape[axis] - 1
            let nearest = (0..<shape[axis]).map { min(Int((Double($0) / scale).rounded(.down)), last) }
            data = try gatheredTensor(data, axis: axis, indices: nearest, indicesShape: [nearest.count])
        }
        return [.tensor(data)]
    }
}
