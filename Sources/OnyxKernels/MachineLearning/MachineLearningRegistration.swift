/// Registers the kernels of the MachineLearning folder: the ai.onnx.ml operators, and TfIdfVectorizer.
func registerMachineLearningKernels(into registry: inout KernelRegistry) {
    let domain = "ai.onnx.ml"
    registry.register("ArrayFeatureExtractor", domain: domain, since: 1) { _ in ArrayFeatureExtractorKernel() }
    registry.register("Binarizer", domain: domain, since: 1) { node in try BinarizerKernel(node) }
    registry.register("LabelEncoder", domain: domain, since: 1) { node in try LabelEncoderKernel(classesOf: node) }
    registry.register("LabelEncoder", domain: domain, since: 2) { node in try LabelEncoderKernel(node) }
    registry.register("TreeEnsemble", domain: domain, since: 5) { node in try TreeEnsembleKernel(node) }
    registry.register("TfIdfVectorizer", since: 9) { node in try TfIdfVectorizerKernel(node) }
}
