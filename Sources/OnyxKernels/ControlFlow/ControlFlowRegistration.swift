/// Registers the kernels of the ControlFlow folder. Their bodies run through `KernelContext.runSubgraph`.
func registerControlFlowKernels(into registry: inout KernelRegistry) {
    registry.register("If", since: 1) { node in try IfKernel(node) }
    registry.register("Loop", since: 1) { node in try LoopKernel(node) }
    registry.register("Scan", since: 8) { node in try BatchedScanKernel(node) }
    registry.register("Scan", since: 9) { node in try ScanKernel(node) }
}
