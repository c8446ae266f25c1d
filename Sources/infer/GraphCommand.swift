import ArgumentParser
import Foundation
import Onyx

struct GraphCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print a model's graph in Graphviz DOT, for `dot -Tsvg`.",
        discussion: """
            Nodes are boxes labelled with their op and name; graph inputs and outputs are ovals with their type; \
            each edge is labelled with the value it carries and its shape where known (after --optimized, shape \
            inference fills in most). Initializers are left out and counted in the graph's label, or drawn as \
            small grey boxes with --initializers. Control-flow bodies are not drawn.

            \(exitCodesHelp)

            Examples:
              infer graph Models/digits-gn/model.onnx | dot -Tsvg > digits.svg
              infer graph model.onnx --optimized --initializers | dot -Tpng > model.png
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @Flag(help: "Draw the graph after all passes rather than as stored.")
    var optimized = false

    @Flag(help: "Draw initializers (weights and constants) as small boxes.")
    var initializers = false

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let decoded = try Graph(model: TensorFiles.loadModel(model))
        let graph = optimized
            ? try Session.optimized(decoded, options: graphOptions.sessionOptions(registry: try kernelOptions.registry()))
            : decoded
        print(DotWriter(graph: graph, drawingInitializers: initializers).dot, terminator: "")
    }
}

/// Writes a graph as Graphviz DOT.
struct DotWriter {
    let graph: Graph
    let drawingInitializers: Bool

    var dot: String {
        var lines = [
            "digraph \(Self.quoted(graph.name.isEmpty ? "model" : graph.name)) {",
            "  rankdir=TB;",
            "  node [fontname=\"Helvetica\", fontsize=10];",
            "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];",
        ]
        // Where each value comes from: the DOT id of its producer.
        var producer: [String: String] = [:]
        for (index, input) in graph.requiredInputs.enumerated() {
            producer[input.name] = "input\(index)"
            lines.append("  input\(index) [shape=oval, style=filled, fillcolor=\"#dbeafe\", label=\(Self.quoted(Self.describe(input)))];")
        }
        let initializerNames = graph.initializers.keys.sorted()
        if drawingInitializers {
            for (index, name) in initializerNames.enumerated() {
                producer[name] = "init\(index)"
                let tensor = graph.initializers[name].map { "\($0.dataType) \($0.shape)" } ?? ""
                lines.append(
                    "  init\(index) [shape=box, height=0.2, fontsize=7, style=filled, fillcolor=\"#eeeeee\", "
                        + "label=\(Self.quoted(name + "\n" + tensor))];")
            }
        } else if !initializerNames.isEmpty {
            let count = "\(initializerNames.count) initializer\(initializerNames.count == 1 ? "" : "s") not drawn"
            lines.append("  label=\(Self.quoted(count)); labelloc=b; fontname=\"Helvetica\"; fontsize=9;")
        }
        var edges: [String] = []
        for (index, node) in graph.nodes.enumerated() {
            let id = "node\(index)"
            let label = node.opType + (node.domain.isEmpty ? "" : " (\(node.domain))") + (node.name.isEmpty ? "" : "\n" + node.name)
            lines.append("  \(id) [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f5f4\", label=\(Self.quoted(label))];")
            for input in node.inputs where !input.isEmpty {
                if let source = producer[input] { edges.append(edge(from: source, to: id, value: input)) }
            }
            for output in node.outputs where !output.isEmpty { producer[output] = id }
        }
        for (index, output) in graph.outputs.enumerated() {
            lines.append("  output\(index) [shape=oval, style=filled, fillcolor=\"#dcfce7\", label=\(Self.quoted(Self.describe(output)))];")
            if let source = producer[output.name] { edges.append(edge(from: source, to: "output\(index)", value: output.name)) }
        }
        return (lines + edges + ["}"]).joined(separator: "\n") + "\n"
    }

    /// An edge labelled with the value's name and, when known, its shape.
    private func edge(from source: String, to target: String, value: String) -> String {
        var label = value
        if case .tensor(_, let shape?)? = graph.valueTypes[value] {
            label += "\n[" + shape.map(\.description).joined(separator: ", ") + "]"
        } else if let tensor = graph.initializers[value] {
            label += "\n\(tensor.shape)"
        }
        return "  \(source) -> \(target) [label=\(Self.quoted(label))];"
    }

    private static func describe(_ info: ValueInfo) -> String {
        info.name + "\n" + (info.type?.description ?? "?")
    }

    /// A DOT string literal; `\n` in `text` becomes a centred line break.
    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
