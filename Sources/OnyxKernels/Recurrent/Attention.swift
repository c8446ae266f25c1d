import OnyxCore

/// Scaled dot-product attention (opsets 23–25): 3-D or 4-D Q/K/V, grouped-query heads, boolean or additive masks,
/// causal and sliding-window masking, an internal (past/present) or external (`nonpad_kv_seqlen`) KV cache,
/// softcap and the `qk_matmul_output` debug output. Follows onnx/reference/ops/op_attention.py.
struct AttentionKernel: Kernel {
    private let isCausal: Bool
    private let scale: Float?
    private let softcap: Float
    private let qkOutputMode: Int
    private let softmaxPrecision: DataType?
    private let qHeadsAttribute: Int?
    private let kvHeadsAttribute: Int?
    private let leftWindow: Int
    private let rightWindow: Int
    /// Opset 25 forbids head-count attributes with 4-D inputs.
    private let rejectsHeadsFor4D: Bool
    private let outputCount: Int

    init(_ node: KernelNode) throws {
        isCausal = try node.int("is_causal", default: 0) != 0
        scale = try node.float("scale")
        softcap = try node.float("softcap", default: 0)
        qkOutputMode = try node.int("qk_matmul_output_mode", default: 0)
        guard (0...3).contains(qkOutputMode) else {
            throw KernelError.invalidAttribute("qk_matmul_output_mode", "expected 0, 1, 2 or 3, got \(qkOutputMode)")
        }
        softmaxPrecision = try softmaxPrecisionAttribute(node)
        qHeadsAttribute = try node.int("q_num_heads")
        kvHeadsAttribute = try node.int("kv_num_heads")
        for (name, heads) in [("q_num_heads", qHeadsAttribute), ("kv_num_heads", kvHeadsAttribute)] {
            if let heads, heads <= 0 { throw KernelError.invalidAttribute(name, "must be positive, got \(heads)") }
        }
        leftWindow = try node.int("left_window_size", default: -1)
        rightWindow = try node.int("right_window_size", default: -1)
        for (name, size) in [("left_window_size", leftWindow), ("right_window_size", rightWindow)] where size < -1 {
            throw KernelError.invalidAttribute(name, "must be -1 or nonnegative, got \(size)")
        }
        rejectsHeadsFor4D = node.opsetVersion >= 25
        outputCount = node.outputCount
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let query = try inputs.tensor(0)
        let key = try inputs.tensor(1)
        let value = try inputs.tensor(2)
        if try computesInDouble(query.dataType, key.dataType, value.dataType) {
            return try compute(Double.self, inputs, query: query, key: key, value: value)
        }
        return try compute(Float.self, inputs, query: query, key: key, value: value)
    }

    private func compute<C: ComputeFloat>(
        _: C.Type, _ inputs: KernelInputs, query: Tensor, key: Tensor, value: Tensor
    ) throws -> [Value] {
        let pastKey = try inputs.optionalTensor(4)
        let pastValue = try inputs.optionalTensor(5)
        let nonpadLengths = try inputs.optionalTensor(6)
        guard (pastKey == nil) == (pastValue == nil) else {
            throw KernelError.invalidInput("past_key and past_value must be given together")
        }
        guard nonpadLengths == nil || pastKey == nil else {
            throw KernelError.invalidInput("nonpad_kv_seqlen cannot be combined with past_key and past_value")
        }
        let layout = try AttentionLayout(
            query: query, key: key, value: value, pastKey: pastKey, pastValue: pastValue,
            qHeads: qHeadsAttribute, kvHeads: kvHeadsAttribute, rejectsHeadsFor4D: rejectsHeadsFor4D)

        // Q and K are each scaled by sqrt(scale), rounded to the input type, as the reference does.
        let scaleValue = scale.map { C($0) } ?? 1 / C.squareRoot(C(layout.headSize))
        let rootScale = roundedThrough(query.dataType, C.squareRoot(scaleValue))
        let rounding = StepRounding(query.dataType)
        let q = try layout.headMajor(query, heads: layout.qHeads, as: C.self).map { rounding($0 * rootScale) }
        let presentKey = try layout.present(past: pastKey, new: key, width: layout.headSize, as: C.self)
        let presentValue = try layout.present(past: pastValue, new: value, width: layout.valueHeadSize, as: C.self)
        let k = presentKey.map { rounding($0 * rootScale) }
        let mask = try inputs.optionalTensor(3)
        let bias = try AttentionBias<C>(
            layout: layout, mask: mask, nonpadLengths: nonpadLengths, isCausal: isCausal,
            leftWindow: leftWindow, rightWindow: rightWindow)

        // numpy promotes the scores to a wider float mask's type before the softmax; softmax_precision casts again.
        let biasType =
            mask.map { $0.dataType == .bool || $0.dataType == query.dataType ? query.dataType : .float }
            ?? query.dataType
        let (y, scores) = attend(
            layout: layout, q: q, k: k, v: presentValue, bias: bias, rounding: rounding,
            biasRounding: StepRounding(biasType), softmaxRounding: StepRounding(softmaxPrecision ?? biasType))

        var outputs: [Value] = [.tensor(Tensor.fromCompute(y, dataType: query.dataType, shape: layout.outputShape))]
        if outputCount > 1 {
            outputs.append(
                .tensor(
                    Tensor.fromCompute(presentKey, dataType: key.dataType, shape: layout.presentShape(layout.headSize)))
            )
        }
        if outputCount > 2 {
            outputs.append(
                .tensor(
                    Tensor.fromCompute(
                        presentValue, dataType: value.dataType, shape: layout.presentShape(layout.valueHeadSize))))
        }
        if outputCount > 3 {
            let shape = [layout.batch, layout.qHeads, layout.qLength, layout.totalLength]
            outputs.append(.tensor(Tensor.fromCompute(scores, dataType: query.dataType, shape: shape)))
        }
        return outputs
    }

    /// Computes Y and, when requested, the `qk_matmul_output` selected by `qkOutputMode`.
    /// `q` is [B, Hq, Sq, D] and `k`, `v` are [B, Hkv, St, D|Dv], all already scaled and concatenated.
    /// The roundings mirror the reference's arithmetic in the input, bias and softmax types.
    private func attend<C: ComputeFloat>(
        layout: AttentionLayout, q: [C], k: [C], v: [C], bias: AttentionBias<C>, rounding: StepRounding,
        biasRounding: StepRounding, softmaxRounding: StepRounding
    ) -> (y: [C], scores: [C]) {
        let (qLength, totalLength, headSize, valueHeadSize) =
            (layout.qLength, layout.totalLength, layout.headSize, layout.valueHeadSize)
        let groupSize = layout.qHeads / layout.kvHeads
        let keepsScores = outputCount > 3
        var y = [C](repeating: 0, count: layout.batch * layout.qHeads * qLength * valueHeadSize)
        var scoresOut = [C](repeating: 0, count: keepsScores ? layout.batch * layout.qHeads * qLength * totalLength : 0)
        var row = [C](repeating: 0, count: totalLength)
        var biasRow = [C](repeating: 0, count: totalLength)
        let softcap = C(self.softcap)

        q.withUnsafeBufferPointer { q in
            k.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { v in
                    for b in 0..<layout.batch {
                        for h in 0..<layout.qHeads {
                            let kvHead = b * layout.kvHeads + h / groupSize
                            let keys = kvHead * totalLength * headSize
                            let values = kvHead * totalLength * valueHeadSize
                            for i in 0..<qLength {
                                let queryRow = ((b * layout.qHeads + h) * qLength + i) * headSize
                                for j in 0..<totalLength {
                                    var dot: C = 0
                                    let keyRow = keys + j * headSize
                                    for d in 0..<headSize { dot += q[queryRow + d] * k[keyRow + d] }
                                    dot = rounding(dot)
                                    // softcap is applied before the bias so that -inf stays -inf.
                                    if softcap > 0 {
                                        dot = rounding(softcap * rounding(C.tanh(rounding(dot / softcap))))
                                    }
                                    row[j] = dot
                                }
                                let scoreIndex = ((b * layout.qHeads + h) * qLength + i) * totalLength
                                // Modes 0 and 1 both expose the softcapped scores, as the reference does.
                                if keepsScores && qkOutputMode < 2 {
                                    for j in 0..<totalLength { scoresOut[scoreIndex + j] = row[j] }
                                }
                                bias.fill(&biasRow, batch: b, head: h, query: i)
                                var biasMax = -C.infinity
                                for j in 0..<totalLength {
                                    row[j] = biasRounding(row[j] + biasRow[j])
                                    biasMax = Swift.max(biasMax, biasRow[j])
                                }
                                if keepsScores && qkOutputMode == 2 {
                                    for j in 0..<totalLength { scoresOut[scoreIndex + j] = row[j] }
                                }
                                // A row whose bias is -inf everywhere attends nothing: its probabilities are zero.
                                if biasMax == -C.infinity {
                                    for j in 0..<totalLength { row[j] = 0 }
                                } else {
                                    softmax(&row, rounding: softmaxRounding)
                                    for j in 0..<totalLength { row[j] = rounding(row[j]) }
                                }
                                if keepsScores && qkOutputMode == 3 {
                                    for j in 0..<totalLength { scoresOut[scoreIndex + j] = row[j] }
                                }
                                let outputBase = layout.outputIndex(batch: b, head: h, query: i)
                                y.withUnsafeMutableBufferPointer { y in
                                    for j in 0..<totalLength {
                                        let weight = row[j]
                                        let valueRow = values + j * valueHeadSize
                                        for d in 0..<valueHeadSize { y[outputBase + d] += weight * v[valueRow + d] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, scoresOut)
    }
}

/// Shapes of one Attention call, resolved from 3-D ([B, S, H·D]) or 4-D ([B, H, S, D]) inputs.
private struct AttentionLayout {
    let batch: Int
    let qHeads: Int
    let kvHeads: Int
    let qLength: Int
    let newLength: Int
    let pastLength: Int
    let headSize: Int
    let valueHeadSize: Int
    let isRank3: Bool
    var totalLength: Int { pastLength + newLength }

    init(
        query: Tensor, key: Tensor, value: Tensor, pastKey: Tensor?, pastValue: Tensor?, qHeads qHeadsAttribute: Int?,
        kvHeads kvHeadsAttribute: Int?, rejectsHeadsFor4D: Bool
    ) throws {
        guard query.rank == key.rank, key.rank == value.rank, query.rank == 3 || query.rank == 4 else {
            throw KernelError.invalidInput(
                "Q, K and V must all be 3-D or all 4-D, got ranks \(query.rank), \(key.rank), \(value.rank)")
        }
        isRank3 = query.rank == 3
        batch = query.shape[0]
        guard key.shape[0] == batch, value.shape[0] == batch else {
            throw KernelError.invalidInput(
                "Q, K and V batch sizes differ: \(query.shape), \(key.shape), \(value.shape)")
        }
        if isRank3 {
            guard let qHeadsAttribute, let kvHeadsAttribute else {
                throw KernelError.invalidAttribute(
                    "q_num_heads", "q_num_heads and kv_num_heads are required for 3-D inputs")
            }
            qHeads = qHeadsAttribute
            kvHeads = kvHeadsAttribute
            qLength = query.shape[1]
            newLength = key.shape[1]
            for (name, tensor, heads) in [("Q", query, qHeads), ("K", key, kvHeads), ("V", value, kvHeads)]
            where tensor.shape[2] % heads != 0 {
                throw KernelError.invalidInput(
                    "\(name) hidden size \(tensor.shape[2]) is not a multiple of \(heads) heads")
            }
            headSize = query.shape[2] / qHeads
            guard key.shape[2] / kvHeads == headSize else {
                throw KernelError.invalidInput(
                    "K head size \(key.shape[2] / kvHeads) differs from Q head size \(headSize)")
            }
            valueHeadSize = value.shape[2] / kvHeads
            guard value.shape[1] == newLength else {
                throw KernelError.invalidInput("K and V sequence lengths differ: \(key.shape), \(value.shape)")
            }
        } else {
            if rejectsHeadsFor4D && (qHeadsAttribute != nil || kvHeadsAttribute != nil) {
                throw KernelError.invalidAttribute(
                    "q_num_heads", "q_num_heads and kv_num_heads must not be set for 4-D inputs")
            }
            qHeads = query.shape[1]
            kvHeads = key.shape[1]
            qLength = query.shape[2]
            newLength = key.shape[2]
            headSize = query.shape[3]
            valueHeadSize = value.shape[3]
            guard key.shape[3] == headSize else {
                throw KernelError.invalidInput("K head size \(key.shape[3]) differs from Q head size \(headSize)")
            }
            guard value.shape[1] == kvHeads, value.shape[2] == newLength else {
                throw KernelError.invalidInput("V shape \(value.shape) does not match K shape \(key.shape)")
            }
        }
        guard kvHeads > 0, qHeads % kvHeads == 0 else {
            throw KernelError.invalidInput("q_num_heads \(qHeads) is not a multiple of kv_num_heads \(kvHeads)")
        }
        if let pastKey, let pastValue {
            pastLength = pastKey.shape.count == 4 ? pastKey.shape[2] : -1
            guard pastKey.shape == [batch, kvHeads, pastLength, headSize],
                pastValue.shape == [batch, kvHeads, pastLength, valueHeadSize]
            else {
                throw KernelError.invalidInput(
                    "past_key \(pastKey.shape) and past_value \(pastValue.shape) must be [\(batch), \(kvHeads), past, "
                        + "\(headSize)] and [\(batch), \(kvHeads), past, \(valueHeadSize)]")
            }
        } else {
            pastLength = 0
        }
    }

    var outputShape: [Int] {
        isRank3 ? [batch, qLength, qHeads * valueHeadSize] : [batch, qHeads, qLength, valueHeadSize]
    }

    func presentShape(_ width: Int) -> [Int] { [batch, kvHeads, totalLength, width] }

    /// Offset of Y's row for (batch, head, query) in the output layout.
    func outputIndex(batch b: Int, head h: Int, query i: Int) -> Int {
        isRank3 ? ((b * qLength + i) * qHeads + h) * valueHeadSize : ((b * qHeads + h) * qLength + i) * valueHeadSize
    }

    /// The tensor's values as [B, heads, S, width], transposing a 3-D [B, S, heads·width] input.
    func headMajor<C: ComputeFloat>(_ tensor: Tensor, heads: Int, as _: C.Type) throws -> [C] {
        let values = try tensor.computeValues(C.self)
        guard isRank3 else { return values }
        let (length, width) = (tensor.shape[1], tensor.shape[2] / heads)
        var result = [C]()
        result.reserveCapacity(values.count)
        for b in 0..<batch {
            for h in 0..<heads {
                for s in 0..<length {
                    let start = (b * length + s) * heads * width + h * width
                    result.append(contentsOf: values[start..<start + width])
                }
            }
        }
        return result
    }

    /// The present cache [B, Hkv, past + new, width]: `past` followed by the new keys or values.
    func present<C: ComputeFloat>(past: Tensor?, new: Tensor, width: Int, as _: C.Type) throws -> [C] {
        let newValues = try headMajor(new, heads: kvHeads, as: C.self)
        guard let past else { return newValues }
        let pastValues = try past.computeValues(C.self)
        var result = [C]()
        result.reserveCapacity(pastValues.count + newValues.count)
        for head in 0..<batch * kvHeads {
            result.append(contentsOf: pastValues[head * pastLength * width..<(head + 1) * pastLength * width])
            result.append(contentsOf: newValues[head * newLength * width..<(head + 1) * newLength * width])
        }
        return result
    }
}

/// The additive attention bias for each (batch, head, query) row: the mask (boolean masks as 0 / -inf, padded
/// with -inf up to the key length, broadcast right-aligned to [B, Hq, Sq, St]) plus -inf where the causal,
/// sliding-window or `nonpad_kv_seqlen` rules forbid a key.
private struct AttentionBias<C: ComputeFloat> {
    private let mask: [C]
    private let maskStrides: (batch: Int, head: Int, query: Int)
    private let maskLength: Int
    private let offsets: [Int]
    private let nonpadLengths: [Int]?
    private let isCausal: Bool
    private let leftWindow: Int
    private let rightWindow: Int

    init(
        layout: AttentionLayout, mask maskTensor: Tensor?, nonpadLengths lengthsTensor: Tensor?, isCausal: Bool,
        leftWindow: Int, rightWindow: Int
    ) throws {
        self.isCausal = isCausal
        self.leftWindow = leftWindow
        self.rightWindow = rightWindow
        if let lengthsTensor {
            guard lengthsTensor.shape == [layout.batch], let lengths = lengthsTensor.intValues() else {
                throw KernelError.invalidInput(
                    "nonpad_kv_seqlen must be an integer tensor of shape [\(layout.batch)], got \(lengthsTensor.dataType) \(lengthsTensor.shape)"
                )
            }
            nonpadLengths = lengths
            // The causal frontier of an external cache sits at the last valid key of each batch entry.
            offsets = lengths.map { $0 - layout.qLength }
        } else {
            nonpadLengths = nil
            offsets = Array(repeating: layout.pastLength, count: layout.batch)
        }
        guard let maskTensor else {
            mask = []
            maskStrides = (0, 0, 0)
            maskLength = 0
            return
        }
        let target = [layout.batch, layout.qHeads, layout.qLength]
        guard (1...4).contains(maskTensor.rank) else {
            throw KernelError.invalidInput("attn_mask must have rank 1 to 4, got shape \(maskTensor.shape)")
        }
        let dims = Array(repeating: 1, count: 4 - maskTensor.rank) + maskTensor.shape
        maskLength = dims[3]
        guard maskLength <= layout.totalLength else {
            throw KernelError.invalidInput(
                "attn_mask key length \(maskLength) exceeds the total key length \(layout.totalLength)")
        }
        var strides = [0, 0, 0]
        var stride = maskLength
        for axis in (0..<3).reversed() {
            guard dims[axis] == 1 || dims[axis] == target[axis] else {
                throw KernelError.invalidInput(
                    "attn_mask shape \(maskTensor.shape) does not broadcast to \(target + [layout.totalLength])")
            }
            strides[axis] = dims[axis] == 1 ? 0 : stride
            stride *= dims[axis]
        }
        maskStrides = (strides[0], strides[1], strides[2])
        if maskTensor.dataType == .bool {
            mask = maskTensor.elements(as: Bool.self).map { $0 ? 0 : -C.infinity }
        } else {
            mask = try maskTensor.computeValues(C.self)
        }
    }

    /// Writes the bias of row (batch, head, query) into `row` (one entry per key).
    func fill(_ row: inout [C], batch b: Int, head h: Int, query i: Int) {
        if mask.isEmpty {
            for j in row.indices { row[j] = 0 }
        } else {
            let start = b * maskStrides.batch + h * maskStrides.head + i * maskStrides.query
            for j in row.indices { row[j] = j < maskLength ? mask[start + j] : -C.infinity }
        }
        let position = i + offsets[b]
        for j in row.indices {
            let distance = position - j
            var allowed = !isCausal || distance >= 0
            if leftWindow >= 0 && distance > leftWindow { allowed = false }
            if rightWindow >= 0 && -distance > rightWindow { allowed = false }
            if let nonpadLengths, j >= nonpadLengths[b] { allowed = false }
            if !allowed { row[j] += -C.infinity }
        }
    }
}
