/// Registers the kernels of the Imaging folder.
func registerImagingKernels(into registry: inout KernelRegistry) {
    registry.register("Resize", since: 10) { node in try ResizeKernel(node) }
    registry.register("GridSample", since: 16) { node in try GridSampleKernel(node) }
    registry.register("RoiAlign", since: 10) { node in try RoiAlignKernel(node) }
    registry.register("NonMaxSuppression", since: 10) { node in try NonMaxSuppressionKernel(node) }
    registry.register("AffineGrid", since: 20) { node in try AffineGridKernel(node) }
    registry.register("Col2Im", since: 18) { node in try Col2ImKernel(node) }
    registry.register("DeformConv", since: 19) { node in try DeformConvKernel(node) }
}
