/// Registers the kernels of the Math folder.
func registerMathKernels(into registry: inout KernelRegistry) {
    registerUnaryMathKernels(into: &registry)
    registerBinaryMathKernels(into: &registry)
    registerVariadicMathKernels(into: &registry)
    registerClipKernels(into: &registry)
    registerBroadcastCopyKernels(into: &registry)
    registerCastKernels(into: &registry)
}
