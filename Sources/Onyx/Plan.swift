import Dispatch
import Logging
import OnyxCore
import OnyxFormat
import OnyxGraph
import OnyxKernels

/// A graph compiled for execution: its schedule, one kernel per node, and compiled bodies for control flow.
final class Plan: Sendable {
    fileprivate struct Step: Sendable {
        let node: Node
        let kernel: any Kernel
        let inputSlots: [Int?]
        let outputSlots: [Int?]
        let releasedSlots: [Int]
        let subplans: [String: Plan]
    }

    let graph: Graph
    private let steps: [Step]
    private let slotOfName: [String: Int]
    private let slotCount: Int
    private let constantSlots: [(Int, Value)]
    /// Slots filled from the enclosing scope at each run, by name.
    private let capturedSlots: [(Int, String)]

    /// Compiles `graph`. `outerScope` names values its enclosing graphs define (for control-flow bodies); `logger`
    /// hears, at debug level, which kernel each node got.
    init(graph: Graph, registry: KernelRegistry, outerScope: Set<String> = [], logger: Logger? = nil) throws {
        self.graph = graph
        let schedule = try Schedule(graph: graph, outerScope: outerScope)
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let existing = slots[name] { return existing }
            slots[name] = slots.count
            return slots.count - 1
        }
        for input in graph.inputs { _ = slot(input.name) }
        let constants = graph.initializers.map { (slot($0.key), Value.tensor($0.value)) }
        var unsupported: [UnsupportedNode] = []
        var steps: [Step] = []
        var visible = outerScope.union(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for (index, node) in schedule.nodes.enumerated() {
            let opset = graph.opsetVersion(for: node.domain)
            guard let opset, let factory = registry.factory(for: node.opType, domain: node.domain, opsetVersion: opset) else {
                unsupported.append(UnsupportedNode(node: node.displayName, opType: node.opType, domain: node.domain, opsetVersion: opset))
                continue
            }
            var subplans: [String: Plan] = [:]
            for (attribute, body) in node.subgraphs {
                // A body inherits the outer opsets; its own inputs shadow outer names.
                subplans[attribute] = try Plan(
                    graph: Graph(graph: body, opsets: graph.opsets), registry: registry, outerScope: visible, logger: logger)
            }
            let description = KernelNode(
                name: node.name, opType: node.opType, domain: node.domain, opsetVersion: opset,
                attributes: node.attributes, inputTypes: node.inputs.map { graph.valueTypes[$0] },
                inputPresent: node.inputs.map { !$0.isEmpty }, outputCount: node.outputs.count)
            let kernel: any Kernel
            do {
                kernel = try factory(description)
            } catch {
                throw RuntimeError.kernelFailed(node: node.displayName, opType: node.opType, domain: node.domain, reason: "\(error)")
            }
            logger?.debug("kernel for node '\(node.displayName)' (\(node.opType), opset \(opset)): \(type(of: kernel))")
            steps.append(Step(
                node: node, kernel: kernel,
                inputSlots: node.inputs.map { $0.isEmpty ? nil : slot($0) },
                outputSlots: node.outputs.map { $0.isEmpty ? nil : slot($0) },
                releasedSlots: schedule.releasedAfter[index].map(slot),
                subplans: subplans))
            visible.formUnion(node.outputs)
        }
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOperators(unsupported) }
        for output in graph.outputs { _ = slot(output.name) }
        let defined = Set(graph.inputs.map(\.name)).union(graph.initializers.keys).union(schedule.nodes.flatMap(\.outputs))
        capturedSlots = slots.filter { !defined.contains($0.key) && outerScope.contains($0.key) }.map { ($0.value, $0.key) }
        self.steps = steps
        self.slotOfName = slots
        self.slotCount = slots.count
        self.constantSlots = constants
    }

    /// Every node that has no kernel in `registry`, for reporting all of them at once.
    static func unsupportedNodes(in graph: Graph, registry: KernelRegistry) -> [UnsupportedNode] {
        var result: [UnsupportedNode] = []
        for node in graph.nodes {
            let opset = graph.opsetVersion(for: node.domain)
            if opset.flatMap({ registry.factory(for: node.opType, domain: node.domain, opsetVersion: $0) }) == nil {
                result.append(UnsupportedNode(node: node.displayName, opType: node.opType, domain: node.domain, opsetVersion: opset))
            }
            for (_, body) in node.subgraphs {
                result += unsupportedNodes(in: Graph(graph: body, opsets: graph.opsets), registry: registry)
            }
        }
        return result
    }

    /// Runs the plan. `inputs` are by graph-input name; `outer` resolves names from enclosing scopes.
    func run(
        inputs: [String: Value], outer: @escaping @Sendable (String) -> Value? = { _ in nil }, threads: Int,
        observer: (any NodeObserver)? = nil
    ) throws -> [Value] {
        var values = [Value?](repeating: nil, count: slotCount)
        for (slot, value) in constantSlots { values[slot] = value }
        for (slot, name) in capturedSlots { values[slot] = outer(name) }
        for (name, value) in inputs {
            if let slot = slotOfName[name] { values[slot] = value }
        }
        for step in steps {
            let stepInputs = step.inputSlots.map { $0.flatMap { values[$0] } }
            let context = step.subplans.isEmpty
                ? KernelContext(threads: threads) : subgraphContext(for: step, scope: values, outer: outer, threads: threads)
            let started = observer == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let outputs: [Value]
            do {
                outputs = try step.kernel.run(KernelInputs(stepInputs), context: context)
            } catch let error as RuntimeError {
                throw error
            } catch {
                throw RuntimeError.kernelFailed(
                    node: step.node.displayName, opType: step.node.opType, domain: step.node.domain, reason: "\(error)")
            }
            observer?.nodeFinished(step.node, nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
            for (slot, output) in zip(step.outputSlots, outputs) {
                if let slot { values[slot] = output }
            }
            for slot in step.releasedSlots { values[slot] = nil }
        }
        return try graph.outputs.map { output in
            guard let slot = slotOfName[output.name], let value = values[slot] ?? outer(output.name) else {
                throw RuntimeError.kernelFailed(
                    node: graph.name, opType: "graph", domain: "", reason: "output '\(output.name)' was not produced")
            }
            return value
        }
    }
}

extension Plan {
    /// A context whose subgraph runner sees `scope` (this graph's values so far) and then the enclosing scopes.
    private func subgraphContext(
        for step: Step, scope: [Value?], outer: @escaping @Sendable (String) -> Value?, threads: Int
    ) -> KernelContext {
        let slotOfName = self.slotOfName
        return KernelContext(threads: threads) { attribute, bodyInputs in
            guard let subplan = step.subplans[attribute] else {
                throw KernelError.invalidAttribute(attribute, "the node has no graph attribute of that name")
            }
            let feeds = Dictionary(zip(subplan.graph.inputs.map(\.name), bodyInputs), uniquingKeysWith: { first, _ in first })
            return try subplan.run(
                inputs: feeds, outer: { name in slotOfName[name].flatMap { scope[$0] } ?? outer(name) }, threads: threads)
        }
    }
}

/// Receives a callback after each node runs (used by profiling).
public protocol NodeObserver: AnyObject {
    /// Called after `node` ran for `nanoseconds`.
    func nodeFinished(_ node: Node, nanoseconds: UInt64)
}
