/// Registers the kernels of the Movement folder.
func registerMovementKernels(into registry: inout KernelRegistry) {
}
