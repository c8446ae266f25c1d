/// Registers the kernels of the Strings folder.
func registerStringKernels(into registry: inout KernelRegistry) {
    registry.register("StringConcat", since: 20, run: StringConcat.run)
    registry.register("StringSplit", since: 20) { node in try StringSplitKernel(node) }
    registry.register("RegexFullMatch", since: 20) { node in try RegexFullMatchKernel(node) }
    registry.register("StringNormalizer", since: 10) { node in try StringNormalizerKernel(node) }
}
