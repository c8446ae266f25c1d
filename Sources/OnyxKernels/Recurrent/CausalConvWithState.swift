import OnyxCore

/// CausalConvWithState (opset 27): a causal depthwise 1-D convolution over input [B, C, L] with weight [C, 1, k],
/// continuing from past_state [B, C, k-1] (zeros when omitted), with optional bias and fused SiLU.
/// Outputs the convolution [B, C, L] and the last k-1 positions of the padded sequence as present_state.
struct CausalConvWithStateKernel: Kernel {
    private let appliesSiLU: Bool

    init(_ node: KernelNode) throws {
        let activation = try node.string("activation", default: "none")
        guard ["none", "silu", "swish"].contains(activation) else {
            throw KernelError.invalidAttribute("activation", "expected none, silu or swish, got '\(activation)'")
        }
        appliesSiLU = activation != "none"
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let weight = try inputs.tensor(1)
        let biasTensor = try inputs.optionalTensor(2)
        let pastTensor = try inputs.optionalTensor(3)
        guard input.rank == 3, weight.rank == 3, weight.shape[0] == input.shape[1], weight.shape[1] == 1,
            weight.shape[2] >= 1
        else {
            throw KernelError.invalidInput(
                "input must be [batch, channels, length] and weight [channels, 1, k], got \(input.shape) and \(weight.shape)"
            )
        }
        let (batch, channels, length, width) = (input.shape[0], input.shape[1], input.shape[2], weight.shape[2])
        let carried = width - 1
        if let biasTensor, biasTensor.shape != [channels] {
            throw KernelError.invalidInput("bias must have shape [\(channels)], got \(biasTensor.shape)")
        }
        if let pastTensor, pastTensor.shape != [batch, channels, carried] {
            throw KernelError.invalidInput(
                "past_state must have shape \([batch, channels, carried]), got \(pastTensor.shape)")
        }
        try requireFloatTypes(input.dataType)
        let x = try input.computeValues(Float.self)
        let w = try weight.computeValues(Float.self)
        let bias = try biasTensor?.computeValues(Float.self)
        let past = try pastTensor?.computeValues(Float.self)

        var output = [Float](repeating: 0, count: batch * channels * length)
        var present = [Float](repeating: 0, count: batch * channels * carried)
        var padded = [Float](repeating: 0, count: carried + length)
        for b in 0..<batch {
            for c in 0..<channels {
                let row = b * channels + c
                for p in 0..<carried { padded[p] = past?[row * carried + p] ?? 0 }
                for t in 0..<length { padded[carried + t] = x[row * length + t] }
                for t in 0..<length {
                    var sum = bias?[c] ?? 0
                    for j in 0..<width { sum += w[c * width + j] * padded[t + j] }
                    // The convolution is rounded to the input type before the activation, as in the reference.
                    sum = roundedThrough(input.dataType, sum)
                    output[row * length + t] = appliesSiLU ? sum * Float.sigmoid(sum) : sum
                }
                for p in 0..<carried { present[row * carried + p] = padded[length + p] }
            }
        }
        return [
            .tensor(Tensor.fromCompute(output, dataType: input.dataType, shape: input.shape)),
            .tensor(Tensor.fromCompute(present, dataType: input.dataType, shape: [batch, channels, carried])),
        ]
    }
}
