/// Registers the kernels of the Math folder.
func registerMathKernels(into registry: inout KernelRegistry) {
}
