import OnyxCore

/// LinearAttention (opset 27): the recurrent state S [B, Hkv, dk, dv] advances token by token under the
/// linear, gated, delta or gated_delta rule, and each query head reads scale · qᵀS from its KV head's state.
/// Computes in float32 as onnx/reference/ops/op_linear_attention.py does.
struct LinearAttentionKernel: Kernel {
    private let qHeads: Int
    private let kvHeads: Int
    private let scale: Float
    private let gating: Bool
    private let deltaCorrection: Bool

    init(_ node: KernelNode) throws {
        guard let qHeads = try node.int("q_num_heads"), let kvHeads = try node.int("kv_num_heads") else {
            throw KernelError.invalidAttribute("q_num_heads", "q_num_heads and kv_num_heads are required")
        }
        guard qHeads > 0, kvHeads > 0, qHeads % kvHeads == 0 else {
            throw KernelError.invalidAttribute(
                "q_num_heads", "q_num_heads \(qHeads) must be a positive multiple of kv_num_heads \(kvHeads)")
        }
        (self.qHeads, self.kvHeads) = (qHeads, kvHeads)
        scale = try node.float("scale", default: 0)
        let rule = try node.string("update_rule", default: "gated_delta")
        guard ["linear", "gated", "delta", "gated_delta"].contains(rule) else {
            throw KernelError.invalidAttribute(
                "update_rule", "expected linear, gated, delta or gated_delta, got '\(rule)'")
        }
        gating = rule.hasPrefix("gated")
        deltaCorrection = rule.hasSuffix("delta")
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let query = try inputs.tensor(0)
        let key = try inputs.tensor(1)
        let value = try inputs.tensor(2)
        let pastTensor = try inputs.optionalTensor(3)
        let decayTensor = try inputs.optionalTensor(4)
        let betaTensor = try inputs.optionalTensor(5)
        guard query.rank == 3, key.rank == 3, value.rank == 3 else {
            throw KernelError.invalidInput(
                "query, key and value must be [B, T, H·D], got \(query.shape), \(key.shape), \(value.shape)")
        }
        let (batch, steps) = (query.shape[0], query.shape[1])
        guard query.shape[2] % qHeads == 0, value.shape[2] % kvHeads == 0 else {
            throw KernelError.invalidInput("query and value widths must divide by their head counts")
        }
        let (keySize, valueSize) = (query.shape[2] / qHeads, value.shape[2] / kvHeads)
        guard key.shape == [batch, steps, kvHeads * keySize], value.shape[0] == batch, value.shape[1] == steps else {
            throw KernelError.invalidInput(
                "key must be \([batch, steps, kvHeads * keySize]) and value [\(batch), \(steps), …], got \(key.shape) and \(value.shape)"
            )
        }
        guard gating == (decayTensor != nil), deltaCorrection == (betaTensor != nil) else {
            throw KernelError.invalidInput(
                "decay is needed exactly for the gated rules and beta exactly for the delta rules")
        }
        let decayWidth = decayTensor?.shape.last ?? 0
        if let decayTensor {
            guard decayTensor.rank == 3, decayTensor.shape[0] == batch, decayTensor.shape[1] == steps,
                decayWidth == kvHeads || decayWidth == kvHeads * keySize
            else {
                throw KernelError.invalidInput(
                    "decay must be [\(batch), \(steps), \(kvHeads) or \(kvHeads * keySize)], got \(decayTensor.shape)")
            }
        }
        let betaWidth = betaTensor?.shape.last ?? 0
        if let betaTensor {
            guard betaTensor.rank == 3, betaTensor.shape[0] == batch, betaTensor.shape[1] == steps,
                betaWidth == kvHeads || betaWidth == 1
            else {
                throw KernelError.invalidInput(
                    "beta must be [\(batch), \(steps), \(kvHeads) or 1], got \(betaTensor.shape)")
            }
        }
        let stateShape = [batch, kvHeads, keySize, valueSize]
        if let pastTensor, pastTensor.shape != stateShape {
            throw KernelError.invalidInput("past_state must have shape \(stateShape), got \(pastTensor.shape)")
        }
        try requireFloatTypes(query.dataType, key.dataType, value.dataType, pastTensor?.dataType ?? query.dataType)

        let q = try query.computeValues(Float.self)
        let k = try key.computeValues(Float.self)
        let v = try value.computeValues(Float.self)
        let decay = try decayTensor?.computeValues(Float.self)
        let beta = try betaTensor?.computeValues(Float.self)
        var state = try pastTensor?.computeValues(Float.self) ?? [Float](repeating: 0, count: stateShape.reduce(1, *))
        let scale = self.scale == 0 ? 1 / Float(keySize).squareRoot() : self.scale
        let groupSize = qHeads / kvHeads
        var output = [Float](repeating: 0, count: batch * steps * qHeads * valueSize)
        var update = [Float](repeating: 0, count: valueSize)
        let stateSize = keySize * valueSize

        for b in 0..<batch {
            for t in 0..<steps {
                let token = b * steps + t
                for h in 0..<kvHeads {
                    let s = (b * kvHeads + h) * stateSize
                    let keyRow = (token * kvHeads + h) * keySize
                    if let decay {
                        for d in 0..<keySize {
                            let g = decayWidth == kvHeads ? decay[token * kvHeads + h] : decay[keyRow + d]
                            let factor = Float.exp(g)
                            for m in 0..<valueSize { state[s + d * valueSize + m] *= factor }
                        }
                    }
                    let valueRow = (token * kvHeads + h) * valueSize
                    for m in 0..<valueSize { update[m] = v[valueRow + m] }
                    if let beta {
                        let rate = beta[token * betaWidth + (betaWidth == 1 ? 0 : h)]
                        for m in 0..<valueSize {
                            var retrieved: Float = 0
                            for d in 0..<keySize { retrieved += state[s + d * valueSize + m] * k[keyRow + d] }
                            update[m] = rate * (update[m] - retrieved)
                        }
                    }
                    for d in 0..<keySize {
                        for m in 0..<valueSize { state[s + d * valueSize + m] += k[keyRow + d] * update[m] }
                    }
                    for qh in h * groupSize..<(h + 1) * groupSize {
                        let queryRow = (token * qHeads + qh) * keySize
                        let outputRow = (token * qHeads + qh) * valueSize
                        for m in 0..<valueSize {
                            var sum: Float = 0
                            for d in 0..<keySize { sum += q[queryRow + d] * state[s + d * valueSize + m] }
                            output[outputRow + m] = scale * sum
                        }
                    }
                }
            }
        }
        return [
            .tensor(Tensor.fromCompute(output, dataType: query.dataType, shape: [batch, steps, qHeads * valueSize])),
            .tensor(Tensor.fromCompute(state, dataType: pastTensor?.dataType ?? query.dataType, shape: stateShape)),
        ]
    }
}
