extension KernelRegistry {
    /// Every kernel Onyx ships, registered family by family.
    public static let standard: KernelRegistry = {
        var registry = KernelRegistry()
        registerMathKernels(into: &registry)
        registerMovementKernels(into: &registry)
        registerNeuralNetKernels(into: &registry)
        registerControlFlowKernels(into: &registry)
        registerSequenceKernels(into: &registry)
        registerQuantizationKernels(into: &registry)
        registerStringKernels(into: &registry)
        registerReductionKernels(into: &registry)
        registerRecurrentKernels(into: &registry)
        registerImagingKernels(into: &registry)
        registerBitKernels(into: &registry)
        registerMachineLearningKernels(into: &registry)
        registerTrainingKernels(into: &registry)
        registerRandomKernels(into: &registry)
        return registry
    }()
}
