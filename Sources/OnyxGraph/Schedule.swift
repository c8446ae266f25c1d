import OnyxCore
import OnyxFormat

/// A validated execution order: nodes sorted so every value is defined before use, and for each step the
/// values whose last reader it is, so the runtime frees them right after.
public struct Schedule: Sendable {
    /// Nodes in execution order.
    public let nodes: [Node]
    /// For each step, the values no later step (nor the graph's outputs) reads.
    public let releasedAfter: [[String]]

    /// Validates `graph` and orders its nodes. `outerScope` names values visible from enclosing graphs
    /// (for control-flow bodies). Nodes that no graph output depends on are dropped.
    public init(graph: Graph, outerScope: Set<String> = []) throws {
        var producer: [String: Int] = [:]
        var defined = Set(graph.initializers.keys)
        for input in graph.inputs {
            defined.insert(input.name)
        }
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if let other = producer[output] {
                    throw GraphError.duplicateDefinition(
                        value: output, producers: [graph.nodes[other].displayName, node.displayName])
                }
                if defined.contains(output) && graph.initializers[output] == nil {
                    throw GraphError.duplicateDefinition(value: output, producers: ["graph input", node.displayName])
                }
                producer[output] = index
            }
        }
        let reads = graph.nodes.map { Self.reads(of: $0) }
        for (index, node) in graph.nodes.enumerated() {
            for value in reads[index] where producer[value] == nil && !defined.contains(value) && !outerScope.contains(value) {
                throw GraphError.undefinedValue(node: node.displayName, value: value)
            }
        }
        for output in graph.outputs where producer[output.name] == nil && !defined.contains(output.name) && !outerScope.contains(output.name) {
            throw GraphError.undefinedOutput(output.name)
        }
        let live = Self.liveNodes(graph: graph, reads: reads, producer: producer)
        let order = try Self.topologicalOrder(graph: graph, reads: reads, producer: producer, live: live)
        nodes = order.map { graph.nodes[$0] }
        let keep = Set(graph.outputs.map(\.name))
        var lastUse: [String: Int] = [:]
        for (step, index) in order.enumerated() {
            for value in reads[index] { lastUse[value] = step }
        }
        var released = [[String]](repeating: [], count: order.count)
        for (value, step) in lastUse where !keep.contains(value) && graph.initializers[value] == nil {
            released[step].append(value)
        }
        // Outputs nobody reads (e.g. an unused optional output) are freed right away.
        for (step, index) in order.enumerated() {
            for output in graph.nodes[index].outputs where !output.isEmpty && lastUse[output] == nil && !keep.contains(output) {
                released[step].append(output)
            }
        }
        releasedAfter = released.map { $0.sorted() }
    }

    /// Every value a node reads: its inputs and the outer-scope values its subgraphs use.
    public static func reads(of node: Node) -> [String] {
        var values = node.inputs.filter { !$0.isEmpty }
        for (_, subgraph) in node.subgraphs {
            values += freeVariables(of: subgraph).sorted()
        }
        return values
    }

    /// Values a subgraph uses but does not define itself (so they come from enclosing scopes).
    static func freeVariables(of graph: GraphProto) -> Set<String> {
        var defined = Set(graph.inputs.map(\.name))
        defined.formUnion(graph.initializers.map(\.name))
        var free = Set<String>()
        for node in graph.nodes {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) { free.insert(input) }
            for attribute in node.attributes {
                let inner: [GraphProto]
                switch attribute.value {
                case .graph(let graph): inner = [graph]
                case .graphs(let graphs): inner = graphs
                default: inner = []
                }
                for subgraph in inner { free.formUnion(freeVariables(of: subgraph).subtracting(defined)) }
            }
            defined.formUnion(node.outputs)
        }
        for output in graph.outputs where !defined.contains(output.name) { free.insert(output.name) }
        return free
    }

    /// Indices of the nodes some graph output depends on.
    private static func liveNodes(graph: Graph, reads: [[String]], producer: [String: Int]) -> Set<Int> {
        var live = Set<Int>()
        var pending = graph.outputs.compactMap { producer[$0.name] }
        while let index = pending.popLast() {
            guard live.insert(index).inserted else { continue }
            pending += reads[index].compactMap { producer[$0] }
        }
        return live
    }

    /// Kahn's algorithm, always taking the earliest ready node in file order, so the order is deterministic
    /// and matches the file's wherever the file's is valid.
    private static func topologicalOrder(
        graph: Graph, reads: [[String]], producer: [String: Int], live: Set<Int>
    ) throws -> [Int] {
        var waitingOn = [Int](repeating: 0, count: graph.nodes.count)
        var readers = [[Int]](repeating: [], count: graph.nodes.count)
        for index in live {
            let dependencies = Set(reads[index].compactMap { producer[$0] })
            waitingOn[index] = dependencies.count
            for dependency in dependencies { readers[dependency].append(index) }
        }
        var ready = live.filter { waitingOn[$0] == 0 }.sorted(by: >)
        var order: [Int] = []
        while let next = ready.popLast() {
            order.append(next)
            for reader in readers[next] {
                waitingOn[reader] -= 1
                if waitingOn[reader] == 0 {
                    let position = ready.firstIndex { $0 < reader } ?? ready.endIndex
                    ready.insert(reader, at: position)
                }
            }
        }
        if order.count < live.count {
            let stuck = live.subtracting(order).sorted()
            throw GraphError.cycle(nodes: cyclePath(among: stuck, reads: reads, producer: producer).map { graph.nodes[$0].displayName })
        }
        return order
    }

    /// One cycle among the nodes left unscheduled, found by walking producers until a node repeats.
    private static func cyclePath(among stuck: [Int], reads: [[String]], producer: [String: Int]) -> [Int] {
        let stuckSet = Set(stuck)
        var path: [Int] = []
        var seen: [Int: Int] = [:]
        var current = stuck[0]
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            guard let next = reads[current].compactMap({ producer[$0] }).first(where: { stuckSet.contains($0) }) else { break }
            current = next
        }
        // The walk runs against the data flow; reverse it and start at the node that comes first in the file.
        let flow = Array(path[(seen[current] ?? 0)...].reversed())
        let start = flow.indices.min { flow[$0] < flow[$1] } ?? 0
        let rotated = Array(flow[start...] + flow[..<start])
        return rotated + [rotated[0]]
    }
}
