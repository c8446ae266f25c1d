/// Registers the kernels of the Quantization folder. QuantizeLinear and DequantizeLinear serve every opset
/// version with one kernel each (later versions only add attributes and types).
func registerQuantizationKernels(into registry: inout KernelRegistry) {
    registry.register("QuantizeLinear", since: 10) { node in try QuantizeLinearKernel(node) }
    registry.register("DequantizeLinear", since: 10) { node in try DequantizeLinearKernel(node) }
    registry.register("DynamicQuantizeLinear", since: 11, run: DynamicQuantizeLinear.run)
    registry.register("MatMulInteger", since: 10, run: MatMulInteger.run)
    registry.register("QLinearMatMul", since: 10, run: QLinearMatMul.run)
    registry.register("ConvInteger", since: 10) { node in try ConvIntegerKernel(node) }
    registry.register("QLinearConv", since: 10) { node in try QLinearConvKernel(node) }
}
