import Foundation
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

    public init(threads: Int = 1, registry: KernelRegistry = .standard, lowering: Set<String> = [], fusion: Bool = true) {
        self.threads = max(1, threads)
        self.registry = registry
        self.lowering = lowering
        self.fusion = fusion
    }
}

/// A loaded, validated and planned model, ready to run any number of times.
///
/// ```swift
/// let session = try Session(contentsOf: "model.onnx")
/// let outputs = try session.run(["input": .tensor(Tensor(shape: [1, 3], elements: [Float](repeating: 1, count: 3)))])
/// ```
public final class Session: Sendable {
    /// The model as decoded.
    public let model: ModelProto
    /// The IR the session runs.
    public let graph: Graph
    private let plan: Plan
    private let options: SessionOptions

    /// Loads the `.onnx` file at `path` and plans it.
    public convenience init(contentsOf path: String, options: SessionOptions = SessionOptions()) throws {
        try self.init(model: TensorFiles.loadModel(path), options: options)
    }

    /// Plans a decoded model: inlines its functions, lowers the op types `options.lowering` names, folds
    /// constants, fuses (unless `options.fusion` is off) and infers types. Throws
    /// ``RuntimeError/unsupportedOperators(_:)`` listing every node without a kernel, or a `GraphError` for an
    /// invalid graph or a lowering that cannot apply.
    public init(model: ModelProto, options: SessionOptions = SessionOptions()) throws {
        self.model = model
        self.options = options
        let lowered = try GraphPasses.lower(options.lowering, in: Graph(model: model))
        let unsupported = Plan.unsupportedNodes(in: lowered, registry: options.registry)
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOperators(unsupported) }
        graph = try Self.optimize(lowered, options: options)
        plan = try Plan(graph: graph, registry: options.registry)
    }

    /// `graph` as a session built with `options` runs it: lowered, constants folded, fused and with types
    /// inferred. Nodes without a kernel stay as they are.
    public static func optimized(_ graph: Graph, options: SessionOptions = SessionOptions()) throws -> Graph {
        try optimize(GraphPasses.lower(options.lowering, in: graph), options: options)
    }

    /// The passes after lowering. GroupNormalization is fused only where the registry has the fused kernel.
    private static func optimize(_ lowered: Graph, options: SessionOptions) throws -> Graph {
        var graph = try ConstantFolding.fold(lowered, registry: options.registry)
        if options.fusion {
            let fusedKernel = options.registry.factory(
                for: FusedGroupNormalization.opType, domain: FusedGroupNormalization.domain,
                opsetVersion: FusedGroupNormalization.version)
            graph = GraphPasses.fuse(
                graph,
                fusingGroupNormalization: fusedKernel != nil && !options.lowering.contains(FusedGroupNormalization.opType))
        }
        return ShapeInference.infer(graph)
    }

    /// Every node of `graph` (subgraphs included) that `registry` has no kernel for.
    public static func unsupportedNodes(in graph: Graph, registry: KernelRegistry = .standard) -> [UnsupportedNode] {
        Plan.unsupportedNodes(in: graph, registry: registry)
    }

    /// The inputs a caller must supply.
    public var inputs: [ValueInfo] { graph.requiredInputs }
    /// The outputs `run` returns.
    public var outputs: [ValueInfo] { graph.outputs }

    /// Runs the model on `feeds` (by input name) and returns every graph output by name.
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
        let declared = Dictionary(graph.inputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in feeds.keys.sorted() where declared[name] == nil {
            throw RuntimeError.unknownInput(name, expected: graph.requiredInputs.map(\.name))
        }
        for input in graph.requiredInputs {
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
