import ArgumentParser
import Foundation
import Onyx

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model: versions, inputs, outputs, op histogram, nodes without a kernel.",
        discussion: "Example:\n  infer inspect Models/digits-gn/model.onnx")

    @Argument(help: "The .onnx model file.")
    var model: String

    func run() throws {
        let proto = try TensorFiles.loadModel(model)
        let graph = try Graph(model: proto)
        print("ir_version: \(proto.irVersion)")
        print("producer: \(proto.producerName) \(proto.producerVersion)".trimmingCharacters(in: .whitespaces))
        print("opsets: " + proto.opsetImports.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", "))
        for input in graph.requiredInputs { print("input \(input.name): \(input.type?.description ?? "?")") }
        for output in graph.outputs { print("output \(output.name): \(output.type?.description ?? "?")") }
        let parameters = graph.initializers.values.reduce(0) { $0 + $1.count }
        print("parameters: \(parameters) in \(graph.initializers.count) initializers")
        var histogram: [String: Int] = [:]
        for node in graph.nodes { histogram[node.opType, default: 0] += 1 }
        for (op, count) in histogram.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) { print("\(op) \(count)") }
        let unsupported = Session.unsupportedNodes(in: graph)
        if !unsupported.isEmpty {
            print("no kernel for: " + unsupported.map(\.description).joined(separator: "; "))
        }
    }
}
