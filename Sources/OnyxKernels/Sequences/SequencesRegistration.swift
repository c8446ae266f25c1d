/// Registers the kernels of the Sequences folder: tensor sequences and optionals.
func registerSequenceKernels(into registry: inout KernelRegistry) {
    registry.register("SequenceEmpty", since: 11) { node in try SequenceEmptyKernel(node) }
    registry.register("SequenceConstruct", since: 11, run: SequenceOps.construct)
    registry.register("SequenceInsert", since: 11, run: SequenceOps.insert)
    registry.register("SequenceAt", since: 11, run: SequenceOps.at)
    registry.register("SequenceErase", since: 11, run: SequenceOps.erase)
    registry.register("SequenceLength", since: 11, run: SequenceOps.length)
    registry.register("SplitToSequence", since: 11) { node in try SplitToSequenceKernel(node) }
    registry.register("ConcatFromSequence", since: 11) { node in try ConcatFromSequenceKernel(node) }
    registry.register("SequenceMap", since: 17) { node in try SequenceMapKernel(node) }
    registry.register("Optional", since: 15) { node in try OptionalKernel(node) }
    registry.register("OptionalHasElement", since: 15, run: OptionalOps.hasElement)
    registry.register("OptionalGetElement", since: 15, run: OptionalOps.getElement)
}
