import ArgumentParser
import Foundation
import Onyx

struct InspectCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model: versions, inputs, outputs, parameters, op histogram, nodes without a kernel.",
        discussion: """
            Prints the IR version, producer, opset imports, inputs and outputs with their types and shapes \
            (symbolic dimensions by name, ? where unknown), the parameter count and bytes, the node count, one \
            `OP COUNT` line per op type (most frequent first), and every node that has no kernel, all at once.

            With --optimized, the graph is described after the passes a session runs (lowering, constant folding, \
            fusion); ops outside the ONNX domain show as OP(domain). With --json, the same facts are printed as \
            one JSON object with the keys ir_version, producer_name, producer_version, opsets, inputs, outputs \
            (each {name, type, shape}; shape entries are numbers, names or null), parameters {count, bytes, \
            initializers}, node_count, ops and no_kernel (each {node, op_type, domain, opset}).

            \(exitCodesHelp)

            Examples:
              infer inspect Models/digits-gn/model.onnx
              infer inspect Models/unet-gn/pytorch/model.onnx --optimized
              infer inspect model.onnx --json --kernels ./libmykernels.so
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @Flag(help: "Describe the graph after all passes rather than as stored.")
    var optimized = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let proto = try TensorFiles.loadModel(model)
        let registry = try kernelOptions.registry()
        let decoded = try Graph(model: proto)
        let graph = optimized
            ? try Session.optimized(decoded, options: graphOptions.sessionOptions(registry: registry)) : decoded
        let report = ModelReport(model: proto, graph: graph, unsupported: Session.unsupportedNodes(in: graph, registry: registry))
        print(json ? try report.json() : report.text)
    }
}

/// What `infer inspect` prints about a model.
struct ModelReport: Encodable {
    struct Parameters: Encodable {
        let count: Int
        let bytes: Int
        let initializers: Int
    }

    struct ValueSummary: Encodable {
        let name: String
        /// The element type for tensors, the whole type otherwise; nil when undeclared.
        let type: String?
        let shape: [OnyxCore.Dimension]?
        /// The declared type as `inspect` prints it.
        let text: String

        init(_ info: ValueInfo) {
            name = info.name
            text = info.type?.description ?? "?"
            switch info.type {
            case .tensor(let element, let shape)?, .sparseTensor(let element, let shape)?:
                type = element.description
                self.shape = shape
            default:
                type = info.type?.description
                shape = nil
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(type, forKey: .type)
            guard let shape else { return try container.encodeNil(forKey: .shape) }
            var dimensions = container.nestedUnkeyedContainer(forKey: .shape)
            for dimension in shape {
                switch dimension {
                case .value(let extent): try dimensions.encode(extent)
                case .symbol(let symbol): try dimensions.encode(symbol)
                case .unknown: try dimensions.encodeNil()
                }
            }
        }

        enum CodingKeys: String, CodingKey { case name, type, shape }
    }

    struct MissingKernel: Encodable {
        let node: String
        let opType: String
        let domain: String
        let opset: Int?

        enum CodingKeys: String, CodingKey {
            case node, opType = "op_type", domain, opset
        }
    }

    let irVersion: Int
    let producerName: String
    let producerVersion: String
    /// Imported opset version by domain ("ai.onnx" for the default one).
    let opsets: [String: Int]
    let inputs: [ValueSummary]
    let outputs: [ValueSummary]
    let parameters: Parameters
    let nodeCount: Int
    /// Nodes per op type (`OP(domain)` outside the ONNX domain).
    let ops: [String: Int]
    let noKernel: [MissingKernel]
    /// The same nodes, for the text.
    private let unsupported: [UnsupportedNode]

    enum CodingKeys: String, CodingKey {
        case irVersion = "ir_version", producerName = "producer_name", producerVersion = "producer_version"
        case opsets, inputs, outputs, parameters, nodeCount = "node_count", ops, noKernel = "no_kernel"
    }

    init(model: ModelProto, graph: Graph, unsupported: [UnsupportedNode]) {
        irVersion = model.irVersion
        producerName = model.producerName
        producerVersion = model.producerVersion
        opsets = Dictionary(
            model.opsetImports.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) }, uniquingKeysWith: max)
        inputs = graph.requiredInputs.map(ValueSummary.init)
        outputs = graph.outputs.map(ValueSummary.init)
        parameters = Parameters(
            count: graph.initializers.values.reduce(0) { $0 + $1.count },
            bytes: graph.initializers.values.reduce(0) { $0 + Self.byteCount(of: $1) },
            initializers: graph.initializers.count)
        nodeCount = graph.nodes.count
        var histogram: [String: Int] = [:]
        for node in graph.nodes {
            histogram[node.domain.isEmpty ? node.opType : "\(node.opType)(\(node.domain))", default: 0] += 1
        }
        ops = histogram
        self.unsupported = unsupported
        noKernel = unsupported.map {
            MissingKernel(node: $0.node, opType: $0.opType, domain: $0.domain.isEmpty ? "ai.onnx" : $0.domain, opset: $0.opsetVersion)
        }
    }

    var text: String {
        var lines = [
            "ir_version: \(irVersion)",
            "producer: \(producerName) \(producerVersion)".trimmingCharacters(in: .whitespaces),
            "opsets: " + opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
        ]
        lines += inputs.map { "input \($0.name): \($0.text)" }
        lines += outputs.map { "output \($0.name): \($0.text)" }
        lines.append(
            "parameters: \(parameters.count) (\(Self.formatted(bytes: parameters.bytes))) in \(parameters.initializers) initializers")
        lines.append("nodes: \(nodeCount)")
        lines += ops.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }
        if !unsupported.isEmpty { lines.append(RuntimeError.unsupportedOperators(unsupported).description) }
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Bytes of a tensor's elements (UTF-8 bytes for strings).
    private static func byteCount(of tensor: Tensor) -> Int {
        tensor.dataType == .string
            ? tensor.elements(as: String.self).reduce(0) { $0 + $1.utf8.count } : tensor.count * tensor.dataType.storageSize
    }

    /// `bytes` in B, KiB, MiB or GiB with one decimal.
    static func formatted(bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f ", value) + units[unit]
    }
}
