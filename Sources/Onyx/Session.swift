import Foundation
import Logging
import OnyxCore
import OnyxFormat
import OnyxGraph
import OnyxKernels

/// Options for creating a ``Session``.
public struct SessionOptions: Sendable {
    /// Threads a kernel may use.
    public var threads: Int
    /// Kernels to use; defaults to every built-in one. Add custom kernels with `registry.register`.
    public var registry: KernelRegistry
    /// Op types to rewrite into primitive ops instead of running their kernels (``GraphPasses/lowerableOperators``
    /// lists them); nothing is fused into a lowered op type.
    public var lowering: Set<String>
    /// Whether to fuse patterns into faster ops (e.g. GroupNormalization's decompositions into one kernel) and
    /// drop Transpose round trips.
    public var fusion: Bool
    /// Where the session reports, at debug level, how long loading, each pass and planning took, what each pass
    /// changed and which kernel each node got.
    public var logger: Logger

    public init(
        threads: Int = 1, registry: KernelRegistry = .standard, lowering: Set<String> = [], fusion: Bool = true,
        logger: Logger = Logger(label: "onyx")
    ) {
        self.threads = max(1, threads)
        self.registry = registry
        self.lowering = lowering
        self.fusion = fusion
        self.logger = logger
    }
}

/// A loaded, validated and planned model, ready to run any number of times, from any thread.
///
/// ```swift
/// let session = try Session(contentsOf: "model.onnx")
/// let outputs = try session.run(["input": Tensor(shape: [1, 3], elements: [Float](repeating: 1, count: 3))])
/// let scores = outputs["scores"]!.elements(as: Float.self)
/// ```
///
/// ``run(_:)`` takes and returns tensors; ``run(_:observer:)`` takes and returns ``Value``s, for models whose inputs
/// or outputs are sequences or optionals.
public final class Session: Sendable {
    /// The model as decoded.
    public let model: ModelProto
    /// The IR the session runs.
    public let graph: Graph
    private let plan: Plan
    private let options: SessionOptions
    /// The graph's input names, and the inputs a caller must supply: looked up on every run, so built once.
    private let declaredInputs: Set<String>
    private let requiredInputs: [ValueInfo]

    /// Loads the `.onnx` file at `path` and plans it.
    public convenience init(contentsOf path: String, options: SessionOptions = SessionOptions()) throws {
        let model = try Self.timed("loaded \(path)", logger: options.logger) { try TensorFiles.loadModel(path) }
        try self.init(model: model, options: options)
    }

    /// Plans a decoded model: inlines its functions, lowers the op types `options.lowering` names, folds
    /// constants, fuses (unless `options.fusion` is off) and infers types. Throws
    /// ``RuntimeError/unsupportedOperators(_:)`` listing every node without a kernel, or a `GraphError` for an
    /// invalid graph or a lowering that cannot apply.
    public init(model: ModelProto, options: SessionOptions = SessionOptions()) throws {
        self.model = model
        self.options = options
        let lowered = try Self.lower(Graph(model: model), options: options)
        let unsupported = Plan.unsupportedNodes(in: lowered, registry: options.registry)
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOperators(unsupported) }
        let graph = try Self.optimize(lowered, options: options)
        plan = try Self.timed("planned \(graph.nodes.count) nodes", logger: options.logger) {
            try Plan(graph: graph, registry: options.registry, logger: options.logger)
        }
        self.graph = graph
        declaredInputs = Set(graph.inputs.map(\.name))
        requiredInputs = graph.requiredInputs
    }

    /// `graph` as a session built with `options` runs it: lowered, constants folded, fused and with types
    /// inferred. Nodes without a kernel stay as they are.
    public static func optimized(_ graph: Graph, options: SessionOptions = SessionOptions()) throws -> Graph {
        try optimize(lower(graph, options: options), options: options)
    }

    private static func lower(_ graph: Graph, options: SessionOptions) throws -> Graph {
        guard !options.lowering.isEmpty else { return graph }
        return try pass("lowering \(options.lowering.sorted().joined(separator: ", "))", graph, logger: options.logger) {
            try GraphPasses.lower(options.lowering, in: $0)
        }
    }

    /// The passes after lowering. GroupNormalization is fused only where the registry has the fused kernel.
    private static func optimize(_ lowered: Graph, options: SessionOptions) throws -> Graph {
        let logger = options.logger
        var graph = try pass("constant folding", lowered, logger: logger) {
            try ConstantFolding.fold($0, registry: options.registry)
        }
        if options.fusion {
            let fusedKernel = options.registry.factory(
                for: FusedGroupNormalization.opType, domain: FusedGroupNormalization.domain,
                opsetVersion: FusedGroupNormalization.version)
            let fusingGroupNormalization = fusedKernel != nil && !options.lowering.contains(FusedGroupNormalization.opType)
            graph = pass("fusion", graph, logger: logger) {
                GraphPasses.fuse($0, fusingGroupNormalization: fusingGroupNormalization)
            }
        }
        return timed("shape inference", logger: logger) { ShapeInference.infer(graph) }
    }

    /// Runs one pass over `graph`, logging how the node and constant counts changed and how long it took.
    private static func pass(
        _ name: String, _ graph: Graph, logger: Logger, _ body: (Graph) throws -> Graph
    ) rethrows -> Graph {
        try timed(name, logger: logger, detail: { result in
            "\(graph.nodes.count) → \(result.nodes.count) nodes, \(graph.initializers.count) → \(result.initializers.count) constants"
        }) { try body(graph) }
    }

    /// Runs `body` and logs "`what`: `detail(result)` in N ms" (without the detail when it is empty).
    private static func timed<T>(
        _ what: String, logger: Logger, detail: (T) -> String = { _ in "" }, _ body: () throws -> T
    ) rethrows -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        let described = detail(result)
        logger.debug("\(what)\(described.isEmpty ? "" : ": " + described) in \(String(format: "%.2f", milliseconds)) ms")
        return result
    }

    /// Every node of `graph` (subgraphs included) that `registry` has no kernel for.
    public static func unsupportedNodes(in graph: Graph, registry: KernelRegistry = .standard) -> [UnsupportedNode] {
        Plan.unsupportedNodes(in: graph, registry: registry)
    }

    /// The inputs a caller must supply.
    public var inputs: [ValueInfo] { requiredInputs }
    /// The outputs `run` returns.
    public var outputs: [ValueInfo] { graph.outputs }

    /// Runs a model whose inputs and outputs are tensors: `feeds` by input name, every output by name.
    ///
    /// Throws ``RuntimeError/nonTensorOutput(_:given:)`` when an output is a sequence or an optional; use
    /// ``run(_:observer:)`` for such models.
    public func run(_ feeds: [String: Tensor]) throws -> [String: Tensor] {
        let outputs = try runOrdered(feeds.mapValues(Value.tensor))
        var tensors: [String: Tensor] = [:]
        for (info, value) in zip(graph.outputs, outputs) {
            guard let tensor = value.tensor else { throw RuntimeError.nonTensorOutput(info.name, given: Self.kind(of: value)) }
            tensors[info.name] = tensor
        }
        return tensors
    }

    /// Runs the model on `feeds` (by input name) and returns every graph output by name. `observer` hears about
    /// each node as it finishes (``NodeObserver``).
    public func run(_ feeds: [String: Value], observer: (any NodeObserver)? = nil) throws -> [String: Value] {
        try validate(feeds)
        let values = try plan.run(inputs: feeds, threads: options.threads, observer: observer)
        return Dictionary(zip(graph.outputs.map(\.name), values), uniquingKeysWith: { first, _ in first })
    }

    /// Runs the model and returns the outputs in the graph's output order.
    public func runOrdered(_ feeds: [String: Value], observer: (any NodeObserver)? = nil) throws -> [Value] {
        try validate(feeds)
        return try plan.run(inputs: feeds, threads: options.threads, observer: observer)
    }

    private func validate(_ feeds: [String: Value]) throws {
        // The first unknown name in sorted order, so that the error is the same from run to run.
        if let name = feeds.keys.filter({ !declaredInputs.contains($0) }).min() {
            throw RuntimeError.unknownInput(name, expected: requiredInputs.map(\.name))
        }
        for input in requiredInputs {
            guard let value = feeds[input.name] else { throw RuntimeError.missingInput(input.name, expected: input.type) }
            try Self.check(value, against: input)
        }
    }

    private static func check(_ value: Value, against input: ValueInfo) throws {
        switch (input.type, value) {
        case (.tensor(let type, let shape)?, .tensor(let tensor)):
            guard tensor.dataType == type else {
                throw RuntimeError.inputTypeMismatch(input.name, expected: "tensor(\(type))", given: "tensor(\(tensor.dataType))")
            }
            guard let shape else { return }
            let matches = shape.count == tensor.rank && zip(shape, tensor.shape).allSatisfy { declared, given in
                if case .value(let extent) = declared { return extent == given }
                return true
            }
            if !matches {
                let expected = "[" + shape.map(\.description).joined(separator: ", ") + "]"
                throw RuntimeError.inputShapeMismatch(input.name, expected: expected, given: tensor.shape)
            }
        case (.tensor?, .sequence), (.tensor?, .optional), (.sequence?, .tensor), (.sequence?, .optional):
            throw RuntimeError.inputTypeMismatch(input.name, expected: input.type!.description, given: kind(of: value))
        default:
            return
        }
    }

    private static func kind(of value: Value) -> String {
        switch value {
        case .tensor(let tensor): "tensor(\(tensor.dataType))"
        case .sequence: "a sequence"
        case .optional: "an optional"
        }
    }
}
