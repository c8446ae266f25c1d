import OnyxCore

/// FlexAttention (ai.onnx.preview 1): scaled dot-product attention over 4-D Q/K/V with grouped-query heads, where
/// the optional `score_mod` subgraph rewrites the whole score tensor before the softmax and `prob_mod` the
/// probability tensor after it. Follows onnx/reference/ops/aionnx_preview/op_flex_attention.py, except that a row
/// which `score_mod` sets to -inf everywhere attends nothing (zeros, as in PyTorch) instead of giving NaN.
struct FlexAttentionKernel: Kernel {
    private let scale: Float?
    private let softmaxPrecision: DataType?
    private let hasScoreMod: Bool
    private let hasProbMod: Bool

    init(_ node: KernelNode) throws {
        scale = try node.float("scale")
        softmaxPrecision = try softmaxPrecisionAttribute(node)
        hasScoreMod = try node.graph("score_mod") != nil
        hasProbMod = try node.graph("prob_mod") != nil
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let query = try inputs.tensor(0)
        let key = try inputs.tensor(1)
        let value = try inputs.tensor(2)
        guard key.dataType == query.dataType, value.dataType == query.dataType else {
            throw KernelError.invalidInput(
                "Q, K and V must share one element type, got \(query.dataType), \(key.dataType), \(value.dataType)")
        }
        // The scores and probabilities default to float for float16 and bfloat16 inputs, else the input type.
        let scoreType = softmaxPrecision ?? (query.dataType == .double ? .double : .float)
        let shape = try FlexAttentionShape(query: query, key: key, value: value)
        if try computesInDouble(query.dataType, scoreType) {
            return try compute(Double.self, query: query, key: key, value: value, shape, scoreType, context)
        }
        return try compute(Float.self, query: query, key: key, value: value, shape, scoreType, context)
    }

    private func compute<C: ComputeFloat>(
        _: C.Type, query: Tensor, key: Tensor, value: Tensor, _ shape: FlexAttentionShape, _ scoreType: DataType,
        _ context: KernelContext
    ) throws -> [Value] {
        let inputType = query.dataType
        // Q and K are each scaled by sqrt(scale), taken in float and rounded to the input type, as the reference does.
        let rootScale = roundedThrough(
            inputType, C((scale ?? Float(1 / Double(shape.headSize).squareRoot())).squareRoot()))
        let q = try query.computeValues(C.self).map { roundedThrough(inputType, $0 * rootScale) }
        let k = try key.computeValues(C.self).map { roundedThrough(inputType, $0 * rootScale) }
        var scores = shape.scores(q: q, k: k, inputType: inputType, scoreType: scoreType)
        let scoreShape = [shape.batch, shape.qHeads, shape.qLength, shape.kvLength]
        if hasScoreMod {
            scores = try modified("score_mod", scores, type: scoreType, shape: scoreShape, context)
        }

        let rounding = StepRounding(scoreType)
        var row = [C](repeating: 0, count: shape.kvLength)
        for rowIndex in 0..<shape.batch * shape.qHeads * shape.qLength {
            let start = rowIndex * shape.kvLength
            for j in row.indices { row[j] = scores[start + j] }
            softmax(&row, rounding: rounding)
            for j in row.indices { scores[start + j] = row[j] }
        }
        if hasProbMod {
            scores = try modified("prob_mod", scores, type: scoreType, shape: scoreShape, context)
        }

        // Probs · V runs in the softmax type too.
        let v = try value.computeValues(C.self).map { roundedThrough(scoreType, $0) }
        let y = shape.weightedValues(probabilities: scores, v: v, rounding: rounding)
        let outputShape = [shape.batch, shape.qHeads, shape.qLength, shape.valueHeadSize]
        return [.tensor(Tensor.fromCompute(y, dataType: value.dataType, shape: outputShape))]
    }

    /// Runs the modifier subgraph `attribute` on `values` as a `type` tensor of `shape` and returns its single
    /// output, which must keep that shape, cast back to `type` as the reference does.
    private func modified<C: ComputeFloat>(
        _ attribute: String, _ values: [C], type: DataType, shape: [Int], _ context: KernelContext
    ) throws -> [C] {
        let input = Tensor.fromCompute(values, dataType: type, shape: shape)
        let outputs = try context.runSubgraph(attribute, inputs: [.tensor(input)])
        guard outputs.count == 1, let result = outputs[0].tensor else {
            throw KernelError.invalidInput("\(attribute) must produce exactly one tensor, got \(outputs.count) outputs")
        }
        guard result.shape == shape else {
            throw KernelError.invalidInput("\(attribute) must keep the shape \(shape), got \(result.shape)")
        }
        let converted = try result.computeValues(C.self)
        return result.dataType == type ? converted : converted.map { roundedThrough(type, $0) }
    }
}

/// The dimensions of one FlexAttention call: Q [B, Hq, L, E], K [B, Hkv, S, E], V [B, Hkv, S, Ev], where query
/// head h reads K/V head h / (Hq / Hkv).
private struct FlexAttentionShape {
    let batch: Int
    let qHeads: Int
    let kvHeads: Int
    let qLength: Int
    let kvLength: Int
    let headSize: Int
    let valueHeadSize: Int

    init(query: Tensor, key: Tensor, value: Tensor) throws {
        guard query.rank == 4, key.rank == 4, value.rank == 4 else {
            throw KernelError.invalidInput(
                "Q, K and V must be 4-D, got shapes \(query.shape), \(key.shape), \(value.shape)")
        }
        (batch, qHeads, qLength, headSize) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        (kvHeads, kvLength, valueHeadSize) = (key.shape[1], key.shape[2], value.shape[3])
        guard key.shape == [batch, kvHeads, kvLength, headSize] else {
            throw KernelError.invalidInput(
                "K shape \(key.shape) does not match Q shape \(query.shape) in batch size and head size")
        }
        guard value.shape == [batch, kvHeads, kvLength, valueHeadSize] else {
            throw KernelError.invalidInput(
                "V shape \(value.shape) does not match K shape \(key.shape) in batch size, heads and length")
        }
        guard kvHeads > 0, qHeads % kvHeads == 0 else {
            throw KernelError.invalidInput("q_num_heads \(qHeads) is not a multiple of kv_num_heads \(kvHeads)")
        }
        // The score and output tensors are allocated whole: refuse extents whose product is absurd.
        _ = try Broadcast.elementCount([batch, qHeads, qLength, kvLength])
        _ = try Broadcast.elementCount([batch, qHeads, qLength, valueHeadSize])
    }

    private var groupSize: Int { qHeads / kvHeads }

    /// The scores [B, Hq, L, S] of the already scaled `q` and `k`: each dot product rounded to the input type,
    /// as the reference's matmul in that type, then to the score type.
    func scores<C: ComputeFloat>(q: [C], k: [C], inputType: DataType, scoreType: DataType) -> [C] {
        let count = batch * qHeads * qLength * kvLength
        return [C](unsafeUninitializedCapacity: count) { scores, initialized in
            q.withUnsafeBufferPointer { q in
                k.withUnsafeBufferPointer { k in
                    for b in 0..<batch {
                        for h in 0..<qHeads {
                            let keys = (b * kvHeads + h / groupSize) * kvLength * headSize
                            for i in 0..<qLength {
                                let queryRow = ((b * qHeads + h) * qLength + i) * headSize
                                let scoreRow = ((b * qHeads + h) * qLength + i) * kvLength
                                for j in 0..<kvLength {
                                    let keyRow = keys + j * headSize
                                    var dot: C = 0
                                    for d in 0..<headSize { dot += q[queryRow + d] * k[keyRow + d] }
                                    scores[scoreRow + j] = roundedThrough(scoreType, roundedThrough(inputType, dot))
                                }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Y [B, Hq, L, Ev] = probabilities [B, Hq, L, S] · V [B, Hkv, S, Ev], each sum rounded once by `rounding`
    /// (numpy's matmul accumulates float16 in float).
    func weightedValues<C: ComputeFloat>(probabilities: [C], v: [C], rounding: StepRounding) -> [C] {
        let count = batch * qHeads * qLength * valueHeadSize
        return [C](unsafeUninitializedCapacity: count) { y, initialized in
            probabilities.withUnsafeBufferPointer { p in
                v.withUnsafeBufferPointer { v in
                    for b in 0..<batch {
                        for h in 0..<qHeads {
                            let values = (b * kvHeads + h / groupSize) * kvLength * valueHeadSize
                            for i in 0..<qLength {
                                let row = (b * qHeads + h) * qLength + i
                                let output = row * valueHeadSize
                                for d in 0..<valueHeadSize { y[output + d] = 0 }
                                for j in 0..<kvLength {
                                    let weight = p[row * kvLength + j]
                                    let valueRow = values + j * valueHeadSize
                                    for d in 0..<valueHeadSize { y[output + d] += weight * v[valueRow + d] }
                                }
                                for d in 0..<valueHeadSize { y[output + d] = rounding(y[output + d]) }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }
}
