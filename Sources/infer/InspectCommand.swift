import ArgumentParser
import Foundation
import Onyx

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model: versions, inputs, outputs, op histogram, nodes without a kernel.",
        discussion: """
            With --optimized, the histogram and the rest describe the graph after the passes a session runs \
            (lowering, constant folding, fusion); ops outside the ONNX domain show as OP(domain).

            Examples:
              infer inspect Models/digits-gn/model.onnx
              infer inspect Models/unet-gn/pytorch/model.onnx --optimized
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @Flag(help: "Describe the graph after all passes rather than as stored.")
    var optimized = false

    @OptionGroup var graphOptions: GraphOptions

    func run() throws {
        let proto = try TensorFiles.loadModel(model)
        let decoded = try Graph(model: proto)
        let graph = optimized ? try Session.optimized(decoded, options: graphOptions.sessionOptions()) : decoded
        print("ir_version: \(proto.irVersion)")
        print("producer: \(proto.producerName) \(proto.producerVersion)".trimmingCharacters(in: .whitespaces))
        print("opsets: " + proto.opsetImports.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) \($0.version)" }.joined(separator: ", "))
        for input in graph.requiredInputs { print("input \(input.name): \(input.type?.description ?? "?")") }
        for output in graph.outputs { print("output \(output.name): \(output.type?.description ?? "?")") }
        let parameters = graph.initializers.values.reduce(0) { $0 + $1.count }
        print("parameters: \(parameters) in \(graph.initializers.count) initializers")
        var histogram: [String: Int] = [:]
        for node in graph.nodes {
            histogram[node.domain.isEmpty ? node.opType : "\(node.opType)(\(node.domain))", default: 0] += 1
        }
        for (op, count) in histogram.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) { print("\(op) \(count)") }
        let unsupported = Session.unsupportedNodes(in: graph)
        if !unsupported.isEmpty {
            print("no kernel for: " + unsupported.map(\.description).joined(separator: "; "))
        }
    }
}
