/// Registers the kernels of the ControlFlow folder.
func registerControlFlowKernels(into registry: inout KernelRegistry) {
}
