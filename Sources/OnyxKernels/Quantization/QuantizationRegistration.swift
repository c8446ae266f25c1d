/// Registers the kernels of the Quantization folder.
func registerQuantizationKernels(into registry: inout KernelRegistry) {
}
