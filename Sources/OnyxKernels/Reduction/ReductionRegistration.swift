/// Registers the kernels of the Reduction folder.
func registerReductionKernels(into registry: inout KernelRegistry) {
    registerReduceKernels(into: &registry)
    registerArgExtremumKernels(into: &registry)
    registerCumulativeKernels(into: &registry)
    registerTopKKernels(into: &registry)
    registerEinsumKernels(into: &registry)
    registerLossKernels(into: &registry)
    registerDeterminantKernels(into: &registry)
    registerSignalGeneratorKernels(into: &registry)
    registerFourierKernels(into: &registry)
}
