import OnyxCore

// Normalisations over the channel axis of [N, C, D...] tensors: BatchNormalization (fixed or batch
// statistics per channel) and LRN (across neighbouring channels). Every (image, channel) plane is contiguous, so
// BatchNormalization reduces to per-plane affine maps `x · a + b` after the statistics are known.
// InstanceNormalization and GroupNormalization are in GroupNormalization.swift.

/// BatchNormalization: inference with the given statistics, or (opset ≥ 14, training_mode 1) with the
/// batch's own, also returning the updated running statistics.
struct BatchNormalizationKernel: Kernel {
    let epsilon: Float
    let momentum: Float
    let training: Bool
    /// Opset < 9 with spatial 0: statistics per (channel, position) rather than per channel.
    let perPosition: Bool
    let outputCount: Int
    private static let parameterNames = ["scale", "B", "input_mean", "input_var"]

    init(_ node: KernelNode) throws {
        epsilon = try node.float("epsilon", default: 1e-5)
        momentum = try node.float("momentum", default: 0.9)
        let trainingMode = try node.int("training_mode", default: 0)
        let spatial = try node.int("spatial", default: 1)
        training = node.opsetVersion >= 14 && trainingMode != 0
        perPosition = node.opsetVersion < 9 && spatial == 0
        outputCount = node.outputCount
        if !training && outputCount > 1 {
            throw KernelError.unsupported(
                "BatchNormalization statistics outputs outside training_mode (opset \(node.opsetVersion))")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let parameters = try (1...4).map { try inputs.tensor($0) }
        try x.requireNetFloat("BatchNormalization input X")
        for (parameter, name) in zip(parameters, Self.parameterNames) {
            try parameter.requireNetFloat("BatchNormalization \(name)")
        }
        guard x.rank >= 2 else {
            throw KernelError.invalidInput("BatchNormalization needs X of rank ≥ 2, got \(x.shape)")
        }
        let units = perPosition ? x.shape.dropFirst().reduce(1, *) : x.shape[1]
        for (parameter, name) in zip(parameters, Self.parameterNames) where parameter.count != units {
            throw KernelError.invalidInput(
                "BatchNormalization \(name) must have \(units) elements, got shape \(parameter.shape)")
        }
        let planeSize = x.count / max(1, x.shape[0] * units)
        func compute<T: NetFloat>(_ type: T.Type) throws -> [Value] {
            let values: [T] = try x.netElements()
            let (scale, bias, mean, variance) = (
                try parameters[0].netElements(as: T.self), try parameters[1].netElements(as: T.self),
                try parameters[2].netElements(as: T.self), try parameters[3].netElements(as: T.self)
            )
            let statistics =
                training
                ? batchStatistics(values, units: units, planeSize: planeSize) : (mean: mean, variance: variance)
            let epsilon = T(epsilon)
            let factors = (0..<units).map { scale[$0] / (statistics.variance[$0] + epsilon).squareRoot() }
            let shifts = (0..<units).map { bias[$0] - statistics.mean[$0] * factors[$0] }
            let output = NeuralNet.affinePlanes(
                values, factors: factors, shifts: shifts, planeSize: planeSize, threads: context.threads)
            var results: [Value] = [.tensor(Tensor(shape: x.shape, netValues: output, as: x.dataType))]
            if training {
                // Running statistics keep the input's type and shape: old · momentum + batch · (1 − momentum).
                let keep = T(momentum)
                let updates = [
                    (mean, statistics.mean, parameters[2]), (variance, statistics.variance, parameters[3]),
                ]
                for (old, batch, like) in updates.prefix(outputCount - 1) {
                    let updated = zip(old, batch).map { $0 * keep + $1 * (1 - keep) }
                    results.append(.tensor(Tensor(shape: like.shape, netValues: updated, as: like.dataType)))
                }
            }
            return results
        }
        return x.dataType == .double ? try compute(Double.self) : try compute(Float.self)
    }

    /// Mean and population variance of each unit over the batch and its plane.
    private func batchStatistics<T: NetFloat>(
        _ values: [T], units: Int, planeSize: Int
    ) -> (mean: [T], variance: [T]) {
        let images = values.count / max(1, units * planeSize)
        let count = T(images * planeSize)
        return values.withUnsafeBufferPointer { buffer in
            func plane(_ image: Int, _ unit: Int) -> UnsafeBufferPointer<T> {
                UnsafeBufferPointer(
                    rebasing: buffer[(image * units + unit) * planeSize..<(image * units + unit + 1) * planeSize])
            }
            let means = (0..<units).map { unit in
                (0..<images).reduce(T(0)) { $0 + NeuralNet.sum(plane($1, unit)) } / count
            }
            let variances = (0..<units).map { unit in
                (0..<images).reduce(T(0)) { $0 + NeuralNet.sumOfSquaredDeviations(plane($1, unit), from: means[unit]) }
                    / count
            }
            return (means, variances)
        }
    }
}

/// LRN: each value divided by a power of the sum of squares over `size` neighbouring channels.
struct LocalResponseNormalizationKernel: Kernel {
    let size: Int
    let alpha: Float
    let beta: Float
    let bias: Float

    init(_ node: KernelNode) throws {
        guard let size = try node.int("size"), size >= 1 else {
            throw KernelError.invalidAttribute("size", "is required and must be ≥ 1")
        }
        self.size = size
        alpha = try node.float("alpha", default: 0.0001)
        beta = try node.float("beta", default: 0.75)
        bias = try node.float("bias", default: 1.0)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        try x.requireNetFloat("LRN input X")
        guard x.rank >= 2 else { throw KernelError.invalidInput("LRN needs X of rank ≥ 2, got \(x.shape)") }
        let channels = x.shape[1]
        let planeSize = x.shape.dropFirst(2).reduce(1, *)
        // The window around channel c spans c − ⌊(size−1)/2⌋ ... c + ⌈(size−1)/2⌉.
        let below = (size - 1) / 2
        let above = size - 1 - below
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            let values: [T] = try x.netElements()
            let (alpha, beta, bias) = (T(alpha) / T(size), T(beta), T(bias))
            let output = [T](unsafeUninitializedCapacity: values.count) { buffer, initialized in
                values.withUnsafeBufferPointer { source in
                    let input = NeuralNet.ReadBuffer(source)
                    let output = NeuralNet.WriteBuffer(buffer)
                    NeuralNet.forEachChunk(
                        of: values.count / max(1, planeSize), threads: context.threads,
                        workPerItem: (size + 8) * planeSize
                    ) { planes in
                        let sums = UnsafeMutablePointer<T>.allocate(capacity: planeSize)
                        defer { sums.deallocate() }
                        for plane in planes {
                            let (image, channel) = plane.quotientAndRemainder(dividingBy: channels)
                            sums.initialize(repeating: 0, count: planeSize)
                            for neighbour in max(0, channel - below)...min(channels - 1, channel + above) {
                                let pixels = input.base + (image * channels + neighbour) * planeSize
                                for index in 0..<planeSize { sums[index] += pixels[index] * pixels[index] }
                            }
                            let start = plane * planeSize
                            for index in 0..<planeSize {
                                output.base[start + index] =
                                    input.base[start + index] * T.netPow(bias + alpha * sums[index], -beta)
                            }
                        }
                    }
                }
                initialized = values.count
            }
            return .tensor(Tensor(shape: x.shape, netValues: output, as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }
}

extension NeuralNet {
    /// `values[p · planeSize + i] · factors[u] + shifts[u]` where `u = p mod factors.count`: one affine map per
    /// (image, unit) plane, planes in parallel.
    static func affinePlanes<T: NetFloat>(
        _ values: [T], factors: [T], shifts: [T], planeSize: Int, threads: Int
    ) -> [T] {
        let planes = values.count / max(1, planeSize)
        return [T](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            values.withUnsafeBufferPointer { source in
                let input = ReadBuffer(source)
                let output = WriteBuffer(buffer)
                forEachChunk(of: planes, threads: threads, workPerItem: planeSize) { range in
                    for plane in range {
                        let unit = plane % factors.count
                        scaleShift(
                            UnsafeBufferPointer(start: input.base + plane * planeSize, count: planeSize),
                            into: output.base + plane * planeSize, scale: factors[unit], shift: shifts[unit])
                    }
                }
            }
            initialized = values.count
        }
    }
}
