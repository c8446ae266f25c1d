/// Registers the kernels of the Recurrent folder.
func registerRecurrentKernels(into registry: inout KernelRegistry) {
    registry.register("Attention", since: 23) { node in try AttentionKernel(node) }
    registry.register("RotaryEmbedding", since: 23) { node in try RotaryEmbeddingKernel(node) }
    registry.register("LinearAttention", since: 27) { node in try LinearAttentionKernel(node) }
    registry.register("CausalConvWithState", since: 27) { node in try CausalConvWithStateKernel(node) }
    registry.register("SwiGLU", since: 28) { node in try SwiGLUKernel(node) }
    registry.register("FlexAttention", domain: "ai.onnx.preview", since: 1) { node in try FlexAttentionKernel(node) }
    registry.register("RNN", since: 1) { node in try RecurrentKernel(node, cell: .rnn) }
    registry.register("GRU", since: 1) { node in
        try RecurrentKernel(node, cell: .gru(linearBeforeReset: node.int("linear_before_reset", default: 0) != 0))
    }
    registry.register("LSTM", since: 1) { node in
        try RecurrentKernel(node, cell: .lstm(inputForget: node.int("input_forget", default: 0) != 0))
    }
}
