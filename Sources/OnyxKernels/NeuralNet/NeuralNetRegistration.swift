/// Registers the kernels of the NeuralNet folder.
func registerNeuralNetKernels(into registry: inout KernelRegistry) {
}
