import OnyxCore

// MaxPool, AveragePool, LpPool, their Global forms, and MaxUnpool. The windowed pools share one tap table per
// geometry (every (image, channel) plane has the same windows): for each output position, the plane offsets
// of its in-image taps. Each plane then reduces with one tight loop over that table, planes in parallel.

/// The reduction a pool applies to each window.
enum PoolReduction: Sendable {
    case max
    case average(countIncludePad: Bool)
    case lp(p: Float)

    /// The reduction of a pooling node's op type, with its attributes.
    init(_ node: KernelNode) throws {
        switch node.opType {
        case "MaxPool", "GlobalMaxPool": self = .max
        case "AveragePool", "GlobalAveragePool":
            self = .average(countIncludePad: try node.int("count_include_pad", default: 0) != 0)
        case "LpPool", "GlobalLpPool": self = .lp(p: try node.float("p", default: 2))
        default: throw KernelError.unsupported("\(node.opType) is not a pooling operator")
        }
    }
}

/// MaxPool, AveragePool and LpPool over N-d windows with padding, strides, dilations and ceil_mode.
struct PoolKernel: Kernel {
    let reduction: PoolReduction
    let window: NeuralNet.WindowAttributes
    let kernelShape: [Int]
    let op: String
    /// MaxPool's optional second output, the argmax indices.
    let wantsIndices: Bool
    /// MaxPool's storage_order 1: indices count positions in column-major order.
    let columnMajorIndices: Bool

    init(_ node: KernelNode) throws {
        reduction = try PoolReduction(node)
        window = try NeuralNet.WindowAttributes(node)
        kernelShape = try window.requiredKernelShape()
        op = node.opType
        wantsIndices = node.outputCount > 1
        let storageOrder = try node.int("storage_order", default: 0)
        guard storageOrder == 0 || storageOrder == 1 else {
            throw KernelError.invalidAttribute("storage_order", "must be 0 or 1, got \(storageOrder)")
        }
        columnMajorIndices = storageOrder == 1
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let isMax = if case .max = reduction { true } else { false }
        // MaxPool also takes int8 and uint8; their values are exact in Float and the maximum picks one of them.
        let integral = isMax && (x.dataType == .int8 || x.dataType == .uint8)
        if !integral { try x.requireNetFloat("\(op) input X") }
        guard x.rank >= 3 else { throw KernelError.invalidInput("\(op) needs X of rank ≥ 3, got \(x.shape)") }
        let geometry = try window.resolve(input: Array(x.shape.dropFirst(2)), kernel: kernelShape)
        let outputShape = Array(x.shape.prefix(2)) + geometry.grid
        guard try NeuralNet.elementCount(outputShape, role: "\(op) output") > 0 else {
            let empty = Value.tensor(Tensor(zeros: x.dataType, shape: outputShape))
            return [empty] + (wantsIndices ? [.tensor(Tensor(zeros: .int64, shape: outputShape))] : [])
        }
        let taps = try PoolTaps(geometry, columnMajor: wantsIndices && columnMajorIndices)
        let planes = x.shape[0] * x.shape[1]
        if integral {
            let widened = (x.doubleValues() ?? []).map { Float($0) }
            let (values, indices) = pool(widened, planes: planes, taps: taps, threads: context.threads)
            let narrowed =
                x.dataType == .int8
                ? Tensor(shape: outputShape, elements: values.map { Int8(converting: Double($0)) })
                : Tensor(shape: outputShape, elements: values.map { UInt8(converting: Double($0)) })
            return [.tensor(narrowed)] + (wantsIndices ? [.tensor(Tensor(shape: outputShape, elements: indices))] : [])
        }
        func compute<T: NetFloat>(_ type: T.Type) throws -> [Value] {
            let (values, indices) = pool(
                try x.netElements(as: T.self), planes: planes, taps: taps, threads: context.threads)
            let output = Value.tensor(Tensor(shape: outputShape, netValues: values, as: x.dataType))
            return [output] + (wantsIndices ? [.tensor(Tensor(shape: outputShape, elements: indices))] : [])
        }
        return x.dataType == .double ? try compute(Double.self) : try compute(Float.self)
    }

    /// Reduces every plane; the second result holds MaxPool's flat argmax indices (empty for other pools).
    private func pool<T: NetFloat>(_ input: [T], planes: Int, taps: PoolTaps, threads: Int) -> ([T], [Int64]) {
        let gridSize = taps.gridSize
        let imageSize = taps.imageSize
        let count = planes * gridSize
        let reduction = reduction
        var indices = [Int64]()
        if wantsIndices { indices = [Int64](repeating: 0, count: count) }
        let indexed = wantsIndices
        let values = indices.withUnsafeMutableBufferPointer { indexBuffer in
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                input.withUnsafeBufferPointer { inputBuffer in
                    let source = NeuralNet.ReadBuffer(inputBuffer)
                    let output = NeuralNet.WriteBuffer(buffer)
                    let indexOutput = NeuralNet.WriteBuffer(indexBuffer)
                    NeuralNet.forEachChunk(of: planes, threads: threads, workPerItem: taps.offsets.count) { range in
                        taps.offsets.withUnsafeBufferPointer { offsets in
                            for plane in range {
                                let pixels = source.base + plane * imageSize
                                let target = output.base + plane * gridSize
                                switch reduction {
                                case .max:
                                    Self.maxPool(
                                        pixels, into: target,
                                        indices: indexed ? indexOutput.base + plane * gridSize : nil,
                                        planeStart: Int64(plane * imageSize), taps: taps, offsets: offsets)
                                case .average(let countIncludePad):
                                    Self.averagePool(
                                        pixels, into: target, countIncludePad: countIncludePad, taps: taps,
                                        offsets: offsets)
                                case .lp(let p):
                                    Self.lpPool(pixels, into: target, p: T(p), taps: taps, offsets: offsets)
                                }
                            }
                        }
                    }
                }
                initialized = count
            }
        }
        return (values, indices)
    }

    private static func maxPool<T: NetFloat>(
        _ pixels: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, indices: UnsafeMutablePointer<Int64>?,
        planeStart: Int64, taps: PoolTaps, offsets: UnsafeBufferPointer<Int32>
    ) {
        for position in 0..<taps.gridSize {
            var best = -T.infinity
            var bestTap = -1
            for tap in taps.starts[position]..<taps.starts[position + 1] {
                let value = pixels[Int(offsets[tap])]
                if bestTap < 0 || value > best {
                    best = value
                    bestTap = tap
                }
            }
            target[position] = best
            if let indices {
                let reported = bestTap < 0 ? 0 : Int64(taps.reportedOffsets?[bestTap] ?? offsets[bestTap])
                indices[position] = planeStart + reported
            }
        }
    }

    private static func averagePool<T: NetFloat>(
        _ pixels: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, countIncludePad: Bool, taps: PoolTaps,
        offsets: UnsafeBufferPointer<Int32>
    ) {
        for position in 0..<taps.gridSize {
            let first = taps.starts[position]
            let last = taps.starts[position + 1]
            var sum: T = 0
            for tap in first..<last { sum += pixels[Int(offsets[tap])] }
            let divisor = countIncludePad ? taps.paddedCounts[position] : last - first
            target[position] = divisor == 0 ? 0 : sum / T(divisor)
        }
    }

    private static func lpPool<T: NetFloat>(
        _ pixels: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, p: T, taps: PoolTaps,
        offsets: UnsafeBufferPointer<Int32>
    ) {
        for position in 0..<taps.gridSize {
            var sum: T = 0
            for tap in taps.starts[position]..<taps.starts[position + 1] {
                let value = pixels[Int(offsets[tap])]
                sum += p == 2 ? value * value : T.netPow(abs(value), p)
            }
            target[position] = p == 2 ? sum.squareRoot() : T.netPow(sum, 1 / p)
        }
    }
}

/// GlobalAveragePool, GlobalMaxPool and GlobalLpPool: one value per (image, channel) plane.
struct GlobalPoolKernel: Kernel {
    let reduction: PoolReduction
    let op: String

    init(_ node: KernelNode) throws {
        reduction = try PoolReduction(node)
        op = node.opType
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        try x.requireNetFloat("\(op) input X")
        guard x.rank >= 3 else { throw KernelError.invalidInput("\(op) needs X of rank ≥ 3, got \(x.shape)") }
        let outputShape = Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2)
        _ = try NeuralNet.elementCount(outputShape, role: "\(op) output")
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            let input: [T] = try x.netElements()
            let planeSize = x.shape.dropFirst(2).reduce(1, *)
            let planes = x.shape[0] * x.shape[1]
            let values = input.withUnsafeBufferPointer { pixels in
                (0..<planes).map { plane in
                    reduce(UnsafeBufferPointer(rebasing: pixels[plane * planeSize..<(plane + 1) * planeSize]))
                }
            }
            return .tensor(Tensor(shape: outputShape, netValues: values, as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }

    private func reduce<T: NetFloat>(_ plane: UnsafeBufferPointer<T>) -> T {
        switch reduction {
        case .max: return plane.max() ?? -T.infinity
        case .average: return plane.isEmpty ? 0 : plane.reduce(0, +) / T(plane.count)
        case .lp(let p):
            let exponent = T(p)
            if p == 2 { return plane.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            return T.netPow(plane.reduce(0) { $0 + T.netPow(abs($1), exponent) }, 1 / exponent)
        }
    }
}

/// MaxUnpool: scatters X into zeros at MaxPool's indices.
struct MaxUnpoolKernel: Kernel {
    let window: NeuralNet.WindowAttributes
    let kernelShape: [Int]

    init(_ node: KernelNode) throws {
        window = try NeuralNet.WindowAttributes(node)
        kernelShape = try window.requiredKernelShape()
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let indices = try inputs.tensor(1)
        try x.requireNetFloat("MaxUnpool input X")
        guard x.rank >= 3, indices.shape == x.shape, indices.dataType == .int64 else {
            throw KernelError.invalidInput(
                "MaxUnpool needs X of rank ≥ 3 and int64 indices of its shape, got X \(x.shape), "
                    + "I \(indices.dataType) \(indices.shape)")
        }
        let rank = x.rank - 2
        guard kernelShape.count == rank else {
            throw KernelError.invalidAttribute("kernel_shape", "expected \(rank) values, got \(kernelShape)")
        }
        let (strides, _) = try window.stepsAndDilations(rank: rank)
        let pads = try window.explicitPads(rank: rank)
        // The unpooled shape follows from the window; indices address it. A larger output_shape holds it in its
        // leading corner (as the reference implementation places it).
        let unpooled =
            Array(x.shape.prefix(2))
            + (0..<rank).map { axis in
                (x.shape[axis + 2] - 1) * strides[axis] - pads[axis] - pads[rank + axis] + kernelShape[axis]
            }
        let unpooledCount = try NeuralNet.elementCount(unpooled, role: "MaxUnpool output")
        var outputShape = unpooled
        if let requested = try inputs.optionalTensor(2) {
            guard let shape = requested.intValues(), shape.count == x.rank, shape.prefix(2) == x.shape.prefix(2),
                zip(shape, unpooled).allSatisfy({ $0 >= $1 })
            else {
                throw KernelError.invalidInput("MaxUnpool output_shape must cover \(unpooled), got \(requested)")
            }
            outputShape = shape
        }
        _ = try NeuralNet.elementCount(outputShape, role: "MaxUnpool output")
        let positions = indices.elements(as: Int64.self)
        if let bad = positions.first(where: { $0 < 0 || $0 >= unpooledCount }) {
            throw KernelError.invalidInput(
                "MaxUnpool index \(bad) is outside the unpooled tensor of \(unpooledCount) elements")
        }
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            let values: [T] = try x.netElements()
            var scattered = [T](repeating: 0, count: unpooledCount)
            for (value, position) in zip(values, positions) { scattered[Int(position)] = value }
            return .tensor(
                Tensor(
                    shape: outputShape, netValues: embed(scattered, shape: unpooled, in: outputShape), as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }

    /// `values` of `shape` placed at the origin of a zero tensor of `outer` (no copy when the shapes agree).
    private func embed<T: NetFloat>(_ values: [T], shape: [Int], in outer: [Int]) -> [T] {
        guard shape != outer else { return values }
        var result = [T](repeating: 0, count: outer.reduce(1, *))
        let rowLength = shape[shape.count - 1]
        let rows = values.count / max(1, rowLength)
        for row in 0..<rows {
            // Row `row` of `shape` as a multi-index, then its offset in `outer`.
            var remainder = row
            var offset = 0
            var step = outer[outer.count - 1]
            for axis in stride(from: shape.count - 2, through: 0, by: -1) {
                offset += (remainder % shape[axis]) * step
                remainder /= shape[axis]
                step *= outer[axis]
            }
            for column in 0..<rowLength { result[offset + column] = values[row * rowLength + column] }
        }
        return result
    }
}

/// For each output position of a pooling window, the plane offsets of its taps that fall inside the image.
private struct PoolTaps: Sendable {
    let gridSize: Int
    let imageSize: Int
    /// Taps of position `o` are `offsets[starts[o]..<starts[o + 1]]`.
    let starts: [Int]
    /// Row-major offsets in the plane.
    let offsets: [Int32]
    /// The column-major offsets MaxPool reports with storage_order 1; nil otherwise.
    let reportedOffsets: [Int32]?
    /// Per position, the taps inside the padded extent (AveragePool's divisor with count_include_pad).
    let paddedCounts: [Int]

    /// Largest table built; bigger windows are refused rather than allocated.
    static let maximumTaps = 1 << 28

    init(_ geometry: NeuralNet.WindowGeometry, columnMajor: Bool) throws {
        let rank = geometry.image.count
        guard geometry.imageSize < Int(Int32.max) else {
            throw KernelError.unsupported("pooling planes of \(geometry.imageSize) elements")
        }
        // Per axis and output coordinate: the taps landing in the image, and the count inside the padding.
        var inside = [[Range<Int>]]()
        var padded = [[Int]]()
        for axis in 0..<rank {
            var ranges = [Range<Int>]()
            var counts = [Int]()
            for position in 0..<geometry.grid[axis] {
                let start = position * geometry.strides[axis] - geometry.padsBegin[axis]
                let taps = (0..<geometry.kernel[axis]).map { start + $0 * geometry.dilations[axis] }
                let first = taps.firstIndex { $0 >= 0 } ?? taps.count
                let last = taps.lastIndex { $0 < geometry.image[axis] }.map { $0 + 1 } ?? 0
                ranges.append(first..<max(first, last))
                counts.append(taps.filter { $0 < geometry.image[axis] + geometry.padsEnd[axis] }.count)
            }
            inside.append(ranges)
            padded.append(counts)
        }
        let total = (0..<rank).reduce(1.0) { product, axis in product * Double(inside[axis].map(\.count).reduce(0, +)) }
        guard total <= Double(Self.maximumTaps) else {
            throw KernelError.unsupported("pooling windows with \(total) taps")
        }
        var rowStrides = [Int](repeating: 1, count: rank)
        var columnStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) {
            rowStrides[axis] = rowStrides[axis + 1] * geometry.image[axis + 1]
        }
        for axis in 1..<max(1, rank) { columnStrides[axis] = columnStrides[axis - 1] * geometry.image[axis - 1] }
        var starts = [0]
        var offsets = [Int32]()
        var reported = [Int32]()
        var paddedCounts = [Int]()
        offsets.reserveCapacity(Int(total))
        var position = [Int](repeating: 0, count: rank)
        var tap = [Int](repeating: 0, count: rank)
        for _ in 0..<geometry.gridSize {
            paddedCounts.append((0..<rank).reduce(1) { $0 * padded[$1][position[$1]] })
            let ranges = (0..<rank).map { inside[$0][position[$0]] }
            if !ranges.contains(where: \.isEmpty) {
                for axis in 0..<rank { tap[axis] = ranges[axis].lowerBound }
                while true {
                    var rowOffset = 0
                    var columnOffset = 0
                    for axis in 0..<rank {
                        let coordinate =
                            position[axis] * geometry.strides[axis] - geometry.padsBegin[axis]
                            + tap[axis] * geometry.dilations[axis]
                        rowOffset += coordinate * rowStrides[axis]
                        columnOffset += coordinate * columnStrides[axis]
                    }
                    offsets.append(Int32(rowOffset))
                    if columnMajor { reported.append(Int32(columnOffset)) }
                    // Odometer over the taps, last axis fastest.
                    var axis = rank - 1
                    while axis >= 0 {
                        tap[axis] += 1
                        if tap[axis] < ranges[axis].upperBound { break }
                        tap[axis] = ranges[axis].lowerBound
                        axis -= 1
                    }
                    if axis < 0 { break }
                }
            }
            starts.append(offsets.count)
            var axis = rank - 1
            while axis >= 0 {
                position[axis] += 1
                if position[axis] < geometry.grid[axis] { break }
                position[axis] = 0
                axis -= 1
            }
        }
        gridSize = geometry.gridSize
        imageSize = geometry.imageSize
        self.starts = starts
        self.offsets = offsets
        reportedOffsets = columnMajor ? reported : nil
        self.paddedCounts = paddedCounts
    }
}
