/// Registers the kernels of the Strings folder.
func registerStringKernels(into registry: inout KernelRegistry) {
}
