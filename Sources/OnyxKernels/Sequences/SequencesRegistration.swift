/// Registers the kernels of the Sequences folder.
func registerSequenceKernels(into registry: inout KernelRegistry) {
}
