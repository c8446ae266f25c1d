import OnyxCore

// Normalisations over trailing axes or chosen axes: LayerNormalization and RMSNormalization (every axis from
// `axis` on, so each row of the [outer, inner] view is contiguous), LpNormalization (one axis) and
// MeanVarianceNormalization (any set of axes).

/// LayerNormalization (standardise, then scale and shift) and RMSNormalization (divide by the root mean
/// square, then scale) over the axes from `axis` to the last.
struct RowNormalizationKernel: Kernel {
    let axis: Int
    let epsilon: Float
    /// RMSNormalization: no centring, no bias, no statistics outputs, and the output takes the scale's type.
    let rootMeanSquare: Bool
    let stashType: DataType
    let outputCount: Int
    let op: String

    init(_ node: KernelNode, rootMeanSquare: Bool) throws {
        axis = try node.int("axis", default: -1)
        epsilon = try node.float("epsilon", default: 1e-5)
        self.rootMeanSquare = rootMeanSquare
        let stash = try node.int("stash_type", default: 1)
        guard let type = DataType(rawValue: Int32(truncatingIfNeeded: stash)), NeuralNet.floatingTypes.contains(type)
        else {
            throw KernelError.invalidAttribute(
                "stash_type", "must name float, double, float16 or bfloat16, got \(stash)")
        }
        stashType = type
        outputCount = node.outputCount
        op = node.opType
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let scale = try inputs.tensor(1)
        let bias = rootMeanSquare ? nil : try inputs.optionalTensor(2)
        try x.requireNetFloat("\(op) input X")
        try scale.requireNetFloat("\(op) scale")
        try bias?.requireNetFloat("\(op) bias")
        let first = try NeuralNet.axis(axis, rank: x.rank)
        let rowShape = Array(x.shape[first...])
        let rowLength = rowShape.reduce(1, *)
        let statisticsShape = Array(x.shape[..<first]) + Array(repeating: 1, count: x.rank - first)
        let rows = try NeuralNet.elementCount(statisticsShape, role: "\(op) statistics")
        let outputType = rootMeanSquare ? scale.dataType : x.dataType
        func compute<T: NetFloat>(_ type: T.Type) throws -> [Value] {
            let scales: [T] = try NeuralNet.broadcast(scale, to: rowShape, role: "\(op) scale")
            let shifts: [T]? = try bias.map { try NeuralNet.broadcast($0, to: rowShape, role: "\(op) bias") }
            let (output, means, inverses) = normalizeRows(
                try x.netElements(), rows: rows, rowLength: rowLength, scales: scales, shifts: shifts,
                threads: context.threads)
            let statistics = [means, inverses].map {
                Value.tensor(Tensor(shape: statisticsShape, netValues: $0, as: stashType))
            }
            return [.tensor(Tensor(shape: x.shape, netValues: output, as: outputType))]
                + statistics.prefix(outputCount - 1)
        }
        let double = [x.dataType, scale.dataType, stashType].contains(.double)
        return double ? try compute(Double.self) : try compute(Float.self)
    }

    /// Normalises every row of `values` (rows in parallel); also returns each row's mean (0 for RMS) and
    /// inverse standard deviation (inverse root mean square).
    private func normalizeRows<T: NetFloat>(
        _ values: [T], rows: Int, rowLength: Int, scales: [T], shifts: [T]?, threads: Int
    ) -> (output: [T], means: [T], inverses: [T]) {
        let epsilon = T(epsilon)
        let rootMeanSquare = rootMeanSquare
        // Row r's mean at 2r, its inverse deviation at 2r + 1.
        var statistics = [T](repeating: 0, count: 2 * rows)
        let output = [T](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            values.withUnsafeBufferPointer { source in
                statistics.withUnsafeMutableBufferPointer { statisticsBuffer in
                    let input = NeuralNet.ReadBuffer(source)
                    let output = NeuralNet.WriteBuffer(buffer)
                    let rowStatistics = NeuralNet.WriteBuffer(statisticsBuffer)
                    NeuralNet.forEachChunk(of: rows, threads: threads, workPerItem: 4 * rowLength) { range in
                        for row in range {
                            let run = UnsafeBufferPointer(start: input.base + row * rowLength, count: rowLength)
                            let target = output.base + row * rowLength
                            let (mean, meanSquare) =
                                rootMeanSquare
                                ? (0, NeuralNet.sumOfSquares(run) / T(rowLength)) : NeuralNet.moments(run)
                            let inverse = 1 / (meanSquare + epsilon).squareRoot()
                            rowStatistics.base[2 * row] = mean
                            rowStatistics.base[2 * row + 1] = inverse
                            if let shifts {
                                for index in 0..<rowLength {
                                    target[index] = (run[index] - mean) * inverse * scales[index] + shifts[index]
                                }
                            } else {
                                for index in 0..<rowLength {
                                    target[index] = (run[index] - mean) * inverse * scales[index]
                                }
                            }
                        }
                    }
                }
            }
            initialized = values.count
        }
        let means = (0..<rows).map { statistics[2 * $0] }
        let inverses = (0..<rows).map { statistics[2 * $0 + 1] }
        return (output, means, inverses)
    }
}

/// LpNormalization: divides by the L1 or L2 norm along one axis (zero norms give zeros).
struct LpNormalizationKernel: Kernel {
    let axis: Int
    let p: Int

    init(_ node: KernelNode) throws {
        axis = try node.int("axis", default: -1)
        p = try node.int("p", default: 2)
        guard p == 1 || p == 2 else { throw KernelError.invalidAttribute("p", "must be 1 or 2, got \(p)") }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        try x.requireNetFloat("LpNormalization input")
        let along = try NeuralNet.axis(axis, rank: x.rank)
        let length = x.shape[along]
        let inner = x.shape[(along + 1)...].reduce(1, *)
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            var values: [T] = try x.netElements()
            let outer = values.count / max(1, length * inner)
            for block in 0..<outer {
                for lane in 0..<inner {
                    let start = block * length * inner + lane
                    var norm: T = 0
                    for step in 0..<length {
                        let value = values[start + step * inner]
                        norm += p == 1 ? abs(value) : value * value
                    }
                    if p == 2 { norm = norm.squareRoot() }
                    for step in 0..<length {
                        values[start + step * inner] = norm == 0 ? 0 : values[start + step * inner] / norm
                    }
                }
            }
            return .tensor(Tensor(shape: x.shape, netValues: values, as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }
}

/// MeanVarianceNormalization: `(X − E[X]) / (√Var[X] + 1e-9)` with statistics over `axes`, as the ONNX
/// function body defines it.
struct MeanVarianceNormalizationKernel: Kernel {
    let axes: [Int]

    init(_ node: KernelNode) throws {
        axes = try node.ints("axes") ?? [0, 2, 3]
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        try x.requireNetFloat("MeanVarianceNormalization input")
        guard x.count > 0 else { return [.tensor(x)] }
        let reduced = Set(try axes.map { try NeuralNet.axis($0, rank: x.rank, name: "axes") })
        // Every element belongs to the group named by its coordinates along the axes that are kept.
        var groupStrides = [Int](repeating: 0, count: x.rank)
        var groupCount = 1
        for axis in stride(from: x.rank - 1, through: 0, by: -1) where !reduced.contains(axis) {
            groupStrides[axis] = groupCount
            groupCount *= x.shape[axis]
        }
        var groups = [Int](repeating: 0, count: x.count)
        var coordinates = [Int](repeating: 0, count: x.rank)
        var group = 0
        for index in 0..<x.count {
            groups[index] = group
            for axis in stride(from: x.rank - 1, through: 0, by: -1) {
                coordinates[axis] += 1
                group += groupStrides[axis]
                if coordinates[axis] < x.shape[axis] { break }
                group -= groupStrides[axis] * coordinates[axis]
                coordinates[axis] = 0
            }
        }
        let groupSize = x.count / max(1, groupCount)
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            let values: [T] = try x.netElements()
            var means = [T](repeating: 0, count: groupCount)
            for (value, group) in zip(values, groups) { means[group] += value }
            means = means.map { $0 / T(groupSize) }
            var deviations = [T](repeating: 0, count: groupCount)
            for (value, group) in zip(values, groups) {
                deviations[group] += (value - means[group]) * (value - means[group])
            }
            let scales = deviations.map { 1 / (($0 / T(groupSize)).squareRoot() + T(1e-9)) }
            let output = zip(values, groups).map { value, group in (value - means[group]) * scales[group] }
            return .tensor(Tensor(shape: x.shape, netValues: output, as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }
}

extension NeuralNet {
    /// The values of `tensor` broadcast (numpy rules, one direction) to `shape`, row-major. Leading extents of
    /// 1 beyond `shape`'s rank are allowed.
    static func broadcast<T: NetFloat>(_ tensor: Tensor, to shape: [Int], role: String) throws -> [T] {
        var source = tensor.shape
        while source.count > shape.count, source.first == 1 { source.removeFirst() }
        source = Array(repeating: 1, count: max(0, shape.count - source.count)) + source
        guard source.count == shape.count, zip(source, shape).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw KernelError.invalidInput("\(role) of shape \(tensor.shape) does not broadcast to \(shape)")
        }
        let values: [T] = try tensor.netElements()
        if source == shape { return values }
        var strides = [Int](repeating: 0, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = source[axis] == 1 ? 0 : step
            step *= source[axis]
        }
        let count = shape.reduce(1, *)
        return (0..<count).map { index in
            var remainder = index
            var offset = 0
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                offset += (remainder % shape[axis]) * strides[axis]
                remainder /= shape[axis]
            }
            return values[offset]
        }
    }
}
