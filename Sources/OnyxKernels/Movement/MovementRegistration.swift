/// Registers the kernels of the Movement folder: ops that create, view, copy, reorder, select and scatter
/// elements without computing on them.
func registerMovementKernels(into registry: inout KernelRegistry) {
    registerViewKernels(into: &registry)
    registerCreationKernels(into: &registry)
    registerDropoutKernels(into: &registry)
    registerTransposeKernels(into: &registry)
    registerSlicingKernels(into: &registry)
    registerPaddingKernels(into: &registry)
    registerReplicationKernels(into: &registry)
    registerGatherKernels(into: &registry)
    registerScatterKernels(into: &registry)
    registerSelectionKernels(into: &registry)
}
