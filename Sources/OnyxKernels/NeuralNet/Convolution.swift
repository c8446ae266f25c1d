import OnyxCore

// Conv and ConvTranspose as GEMMs, one per (image, group): Conv gathers the input into a column matrix
// (im2col) and multiplies the group's filters by it; ConvTranspose multiplies the transposed filters by the
// input and scatters the columns into the output (col2im). 1×1 unit-stride cases use the image directly, and
// groups with very few filters (depthwise convolutions) convolve directly without a GEMM. Many groups or
// several images run one (image, group) item per thread; otherwise each GEMM uses every thread.

/// Conv: N-d grouped convolution with bias, strides, dilations and explicit or automatic padding.
struct ConvKernel: Kernel {
    let window: NeuralNet.WindowAttributes
    let group: Int
    /// Groups with fewer filters than this convolve directly: a GEMM with so few rows wastes most of its tile.
    static let directFilterLimit = 4

    init(_ node: KernelNode) throws {
        window = try NeuralNet.WindowAttributes(node)
        group = try node.int("group", default: 1)
        guard group >= 1 else { throw KernelError.invalidAttribute("group", "must be ≥ 1, got \(group)") }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let w = try inputs.tensor(1)
        let b = try inputs.optionalTensor(2)
        let layout = try ConvolutionLayout(x: x, w: w, b: b, group: group, transposed: false)
        let geometry = try window.resolve(input: Array(x.shape.dropFirst(2)), kernel: Array(w.shape.dropFirst(2)))
        let outputShape = [x.shape[0], w.shape[0]] + geometry.grid
        guard try NeuralNet.elementCount(outputShape, role: "Conv output") > 0 else {
            return [.tensor(Tensor(zeros: x.dataType, shape: outputShape))]
        }
        let output =
            x.dataType == .double
            ? try convolve(Double.self, layout, geometry: geometry, outputShape: outputShape, threads: context.threads)
            : try convolve(Float.self, layout, geometry: geometry, outputShape: outputShape, threads: context.threads)
        return [.tensor(output)]
    }

    private func convolve<T: NetFloat>(
        _ type: T.Type, _ layout: ConvolutionLayout, geometry: NeuralNet.WindowGeometry, outputShape: [Int],
        threads: Int
    ) throws -> Tensor {
        let group = group
        let images = layout.x.shape[0]
        let channels = layout.x.shape[1]
        let filters = layout.filters
        let groupChannels = channels / group
        let groupFilters = filters / group
        let depth = groupChannels * geometry.kernelSize
        let direct = groupFilters < Self.directFilterLimit
        let needsColumns = !direct && !geometry.isPointwise
        if needsColumns { _ = try NeuralNet.elementCount([depth, geometry.gridSize], role: "Conv column matrix") }
        let items = images * group
        let perItemThreads = items >= threads ? 1 : threads
        let count = images * filters * geometry.gridSize
        let xs: [T] = try layout.x.netElements()
        let ws: [T] = try layout.w.netElements()
        let bs: [T]? = try layout.b?.netElements()
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            xs.withUnsafeBufferPointer { xBuffer in
                ws.withUnsafeBufferPointer { wBuffer in
                    let source = NeuralNet.ReadBuffer(xBuffer)
                    let weights = NeuralNet.ReadBuffer(wBuffer)
                    let output = NeuralNet.WriteBuffer(buffer)
                    NeuralNet.forEachChunk(
                        of: items, threads: perItemThreads == 1 ? threads : 1,
                        workPerItem: groupFilters * depth * geometry.gridSize
                    ) { range in
                        let columns =
                            needsColumns ? UnsafeMutablePointer<T>.allocate(capacity: depth * geometry.gridSize) : nil
                        defer { columns?.deallocate() }
                        for item in range {
                            let (image, groupIndex) = item.quotientAndRemainder(dividingBy: group)
                            let input =
                                source.base + (image * channels + groupIndex * groupChannels) * geometry.imageSize
                            let target = output.base + (image * filters + groupIndex * groupFilters) * geometry.gridSize
                            let filterWeights = weights.base + groupIndex * groupFilters * depth
                            if direct {
                                for filter in 0..<groupFilters {
                                    let filterTarget = target + filter * geometry.gridSize
                                    filterTarget.initialize(
                                        repeating: bs?[groupIndex * groupFilters + filter] ?? 0,
                                        count: geometry.gridSize)
                                    geometry.accumulateFilter(
                                        input, channels: groupChannels, weights: filterWeights + filter * depth,
                                        into: filterTarget)
                                }
                                continue
                            }
                            if let bs {
                                for filter in 0..<groupFilters {
                                    (target + filter * geometry.gridSize).initialize(
                                        repeating: bs[groupIndex * groupFilters + filter], count: geometry.gridSize)
                                }
                            }
                            if let columns {
                                geometry.gather(input, channels: groupChannels, into: columns, threads: perItemThreads)
                            }
                            T.multiply(
                                m: groupFilters, n: geometry.gridSize, k: depth, alpha: T(1),
                                a: GemmOperand(rowMajor: filterWeights, columns: depth),
                                b: GemmOperand(
                                    rowMajor: columns.map { UnsafePointer($0) } ?? input, columns: geometry.gridSize),
                                c: target, ldc: geometry.gridSize, accumulate: bs != nil, threads: perItemThreads)
                        }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: outputShape, netValues: values, as: layout.x.dataType)
    }
}

/// ConvTranspose: the gradient of Conv with respect to its input, with output_padding and output_shape.
struct ConvTransposeKernel: Kernel {
    let window: NeuralNet.WindowAttributes
    let group: Int
    let outputPadding: [Int]?
    let outputShape: [Int]?

    init(_ node: KernelNode) throws {
        window = try NeuralNet.WindowAttributes(node)
        group = try node.int("group", default: 1)
        outputPadding = try node.ints("output_padding")
        outputShape = try node.ints("output_shape")
        guard group >= 1 else { throw KernelError.invalidAttribute("group", "must be ≥ 1, got \(group)") }
        try NeuralNet.checkExtents(outputPadding, name: "output_padding", minimum: 0)
        try NeuralNet.checkExtents(outputShape, name: "output_shape", minimum: 0)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let w = try inputs.tensor(1)
        let b = try inputs.optionalTensor(2)
        let layout = try ConvolutionLayout(x: x, w: w, b: b, group: group, transposed: true)
        let geometry = try resolve(input: Array(x.shape.dropFirst(2)), kernel: Array(w.shape.dropFirst(2)))
        let shape = [x.shape[0], layout.filters] + geometry.image
        guard try NeuralNet.elementCount(shape, role: "ConvTranspose output") > 0 else {
            return [.tensor(Tensor(zeros: x.dataType, shape: shape))]
        }
        let output =
            x.dataType == .double
            ? try convolve(Double.self, layout, geometry: geometry, outputShape: shape, threads: context.threads)
            : try convolve(Float.self, layout, geometry: geometry, outputShape: shape, threads: context.threads)
        return [.tensor(output)]
    }

    /// The window of the equivalent forward convolution: its image is this operator's output and its grid this
    /// operator's input. Padding comes from `pads`, or from `output_shape` / SAME as the spec's equations say.
    private func resolve(input: [Int], kernel: [Int]) throws -> NeuralNet.WindowGeometry {
        let rank = input.count
        guard kernel.count == rank else {
            throw KernelError.invalidInput("kernel shape \(kernel) does not match \(rank) spatial dimensions")
        }
        if let kernelShape = window.kernelShape, kernelShape != kernel {
            throw KernelError.invalidAttribute("kernel_shape", "\(kernelShape) differs from the weights' \(kernel)")
        }
        let (strides, dilations) = try window.stepsAndDilations(rank: rank)
        let adjustments = outputPadding ?? Array(repeating: 0, count: rank)
        guard adjustments.count == rank else {
            throw KernelError.invalidAttribute("output_padding", "expected \(rank) values, got \(adjustments)")
        }
        // Some exporters write the full output shape, batch and channels included.
        let requested = outputShape.map { $0.count == rank + 2 ? Array($0.dropFirst(2)) : $0 }
        if let requested, requested.count != rank {
            throw KernelError.invalidAttribute("output_shape", "expected \(rank) values, got \(outputShape ?? [])")
        }
        let explicitPads = try window.explicitPads(rank: rank)
        var output = [Int]()
        var begin = [Int]()
        var end = [Int]()
        for axis in 0..<rank {
            let full = strides[axis] * (input[axis] - 1) + adjustments[axis] + (kernel[axis] - 1) * dilations[axis] + 1
            let head: Int
            let extent: Int
            if let target = requested?[axis]
                ?? (window.autoPad == .sameUpper || window.autoPad == .sameLower
                    ? input[axis] * strides[axis] : nil)
            {
                // total may be negative when the requested output is larger: the extra positions get no taps.
                let total = full - target
                let half = (total - (total < 0 ? 1 : 0)) / 2  // floor division, as the spec's equations mean
                head = window.autoPad == .sameUpper ? half : total - half
                extent = target
            } else if window.autoPad == .valid {
                head = 0
                extent = full
            } else {
                head = explicitPads[axis]
                extent = full - head - explicitPads[rank + axis]
            }
            guard extent >= 0 else {
                throw KernelError.invalidInput("ConvTranspose output extent along spatial axis \(axis) is \(extent)")
            }
            output.append(extent)
            begin.append(head)
            end.append(full - extent - head)
        }
        return NeuralNet.WindowGeometry(
            image: output, grid: input, kernel: kernel, strides: strides, dilations: dilations, padsBegin: begin,
            padsEnd: end)
    }

    private func convolve<T: NetFloat>(
        _ type: T.Type, _ layout: ConvolutionLayout, geometry: NeuralNet.WindowGeometry, outputShape: [Int],
        threads: Int
    ) throws -> Tensor {
        let group = group
        let images = layout.x.shape[0]
        let channels = layout.x.shape[1]
        let groupChannels = channels / group
        let filters = layout.filters
        let groupFilters = filters / group
        let rows = groupFilters * geometry.kernelSize
        let pointwise = geometry.isPointwise
        if !pointwise {
            _ = try NeuralNet.elementCount([rows, geometry.gridSize], role: "ConvTranspose column matrix")
        }
        let items = images * group
        let perItemThreads = items >= threads ? 1 : threads
        let count = images * filters * geometry.imageSize
        let xs: [T] = try layout.x.netElements()
        let ws: [T] = try layout.w.netElements()
        let bs: [T]? = try layout.b?.netElements()
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            xs.withUnsafeBufferPointer { xBuffer in
                ws.withUnsafeBufferPointer { wBuffer in
                    let source = NeuralNet.ReadBuffer(xBuffer)
                    let weights = NeuralNet.ReadBuffer(wBuffer)
                    let output = NeuralNet.WriteBuffer(buffer)
                    NeuralNet.forEachChunk(
                        of: items, threads: perItemThreads == 1 ? threads : 1,
                        workPerItem: rows * groupChannels * geometry.gridSize
                    ) { range in
                        let columns =
                            pointwise ? nil : UnsafeMutablePointer<T>.allocate(capacity: rows * geometry.gridSize)
                        defer { columns?.deallocate() }
                        for item in range {
                            let (image, groupIndex) = item.quotientAndRemainder(dividingBy: group)
                            let input =
                                source.base + (image * channels + groupIndex * groupChannels) * geometry.gridSize
                            let target =
                                output.base + (image * filters + groupIndex * groupFilters) * geometry.imageSize
                            for filter in 0..<groupFilters {
                                (target + filter * geometry.imageSize).initialize(
                                    repeating: bs?[groupIndex * groupFilters + filter] ?? 0, count: geometry.imageSize)
                            }
                            // The group's weights are channels × (filters · taps); the product reads them transposed.
                            let groupWeights = GemmOperand(
                                rowMajor: weights.base + groupIndex * groupChannels * rows, columns: rows
                            ).transposed
                            T.multiply(
                                m: rows, n: geometry.gridSize, k: groupChannels, alpha: T(1), a: groupWeights,
                                b: GemmOperand(rowMajor: input, columns: geometry.gridSize), c: columns ?? target,
                                ldc: geometry.gridSize, accumulate: columns == nil, threads: perItemThreads)
                            if let columns {
                                geometry.scatterAdd(
                                    columns, channels: groupFilters, into: target, threads: perItemThreads)
                            }
                        }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: outputShape, netValues: values, as: layout.x.dataType)
    }
}

/// The validated operands of a Conv or ConvTranspose node.
private struct ConvolutionLayout {
    let x: Tensor
    let w: Tensor
    let b: Tensor?
    /// Output channels: W's first extent for Conv, its second times the group count for ConvTranspose.
    let filters: Int

    init(x: Tensor, w: Tensor, b: Tensor?, group: Int, transposed: Bool) throws {
        let op = transposed ? "ConvTranspose" : "Conv"
        try x.requireNetFloat("\(op) input X")
        for operand in [w, b].compactMap({ $0 }) where operand.dataType != x.dataType {
            throw KernelError.invalidInput(
                "\(op) operands must share a type, got \(x.dataType) and \(operand.dataType)")
        }
        guard x.rank >= 3, w.rank == x.rank else {
            throw KernelError.invalidInput(
                "\(op) needs X of rank ≥ 3 and W of the same rank, got \(x.shape) and \(w.shape)")
        }
        let channels = x.shape[1]
        // Conv weights are [filters, channels/group, taps…]; ConvTranspose's [channels, filters/group, taps…].
        let valid =
            transposed
            ? w.shape[0] == channels && channels % group == 0
            : w.shape[0] % group == 0 && w.shape[1] * group == channels
        guard valid else {
            throw KernelError.invalidInput("\(op) with group \(group) cannot take X \(x.shape) with W \(w.shape)")
        }
        filters = transposed ? w.shape[1] * group : w.shape[0]
        if let b, b.shape != [filters] {
            throw KernelError.invalidInput("\(op) bias must have shape [\(filters)], got \(b.shape)")
        }
        self.x = x
        self.w = w
        self.b = b
    }
}
