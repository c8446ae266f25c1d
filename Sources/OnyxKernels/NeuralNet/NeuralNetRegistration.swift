/// Registers the kernels of the NeuralNet folder. Each kernel reads `opsetVersion` where an op's behaviour
/// changed between versions (Softmax's axis handling, GroupNormalization's parameter layout, ...).
func registerNeuralNetKernels(into registry: inout KernelRegistry) {
    registry.register("MatMul", since: 1) { _ in MatMulKernel() }
    registry.register("Gemm", since: 1) { try GemmKernel($0) }
    registry.register("Conv", since: 1) { try ConvKernel($0) }
    registry.register("ConvTranspose", since: 1) { try ConvTransposeKernel($0) }

    for op in ["MaxPool", "AveragePool", "LpPool"] {
        registry.register(op, since: 1) { try PoolKernel($0) }
    }
    for op in ["GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool"] {
        registry.register(op, since: 1) { try GlobalPoolKernel($0) }
    }
    registry.register("MaxUnpool", since: 9) { try MaxUnpoolKernel($0) }

    registry.register("BatchNormalization", since: 1) { try BatchNormalizationKernel($0) }
    registry.register("InstanceNormalization", since: 1) { try GroupNormalizationKernel($0, form: .instance) }
    registry.register("GroupNormalization", since: 18) { try GroupNormalizationKernel($0, form: .onnx) }
    // Onyx's own, which the graph's fusion pass makes: per-channel parameters, channels-last data, SiLU folded in.
    registry.register("GroupNormalization", domain: "ai.onyx", since: 1) {
        try GroupNormalizationKernel($0, form: .onyx)
    }
    registry.register("LRN", since: 1) { try LocalResponseNormalizationKernel($0) }
    registry.register("LayerNormalization", since: 17) { try RowNormalizationKernel($0, rootMeanSquare: false) }
    registry.register("RMSNormalization", since: 23) { try RowNormalizationKernel($0, rootMeanSquare: true) }
    registry.register("LpNormalization", since: 1) { try LpNormalizationKernel($0) }
    registry.register("MeanVarianceNormalization", since: 9) { try MeanVarianceNormalizationKernel($0) }

    registry.register("Softmax", since: 1) { try SoftmaxKernel($0, function: .softmax) }
    registry.register("LogSoftmax", since: 1) { try SoftmaxKernel($0, function: .logSoftmax) }
    registry.register("Hardmax", since: 1) { try SoftmaxKernel($0, function: .hardmax) }
}
