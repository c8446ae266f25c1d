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

    public init(threads: Int = 1, registry: KernelRegistry = .standard) {
        self.threads = max(1, threads)
        self.registry = registry
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

    /// Plans a decoded model. Throws ``RuntimeError/unsupportedOperators(_:)`` listing every node without
    /// a kernel, or a `GraphError` for an invalid graph.
    public init(model: ModelProto, options: SessionOptions = SessionOptions()) throws {
        self.model = model
        self.options = options
        let decoded = try Graph(model: model)
        let unsupported = Plan.unsupportedNodes(in: decoded, registry: options.registry)
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOperators(unsupported) }
        graph = ShapeInference.infer(try ConstantFolding.fold(decoded, registry: options.registry))
        plan = try Plan(graph: graph, registry: options.registry)
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
