import OnyxCore
import OnyxFormat

/// One local change to a graph, found by a pattern rule and applied by ``GraphRewriter/apply(_:)``.
struct Rewrite {
    /// Indices of the nodes that go. The rule has checked that nothing else reads their outputs, except the ones
    /// `inserted` nodes produce again.
    var removed: Set<Int>
    /// Nodes that take the place of the last removed one (so a topologically sorted graph stays sorted).
    var inserted: [Node]
    /// New initializers, by name.
    var constants: [String: Tensor] = [:]
    /// Reads to redirect in the nodes that stay: every input named by a key reads its value instead.
    var redirected: [String: String] = [:]
}

/// A graph under rewriting, indexed for pattern matching: which node produces each value, which nodes read it,
/// which values are constants and what shape inference knows of each value's type.
///
/// After each rewrite, nodes upstream of the removed ones that nothing reads any more are dropped, as are the
/// initializers only they read, so a rule names only the nodes on its pattern's data path. Types are inferred
/// again after each rewrite, so what it makes known (such as a fused node's output type) helps the next match.
struct GraphRewriter {
    private(set) var graph: Graph
    /// Declared and inferred value types.
    private var types: [String: ValueType] = [:]
    private var producers: [String: Int] = [:]
    private var readers: [String: [Int]] = [:]
    private var names: Set<String> = []
    private let graphOutputs: Set<String>
    /// Initializers that are also graph inputs: a caller may replace them, so they are not constants.
    private let overridable: Set<String>

    init(_ graph: Graph) {
        self.graph = graph
        graphOutputs = Set(graph.outputs.map(\.name))
        overridable = Set(graph.inputs.map(\.name))
        reindex()
    }

    var nodes: [Node] { graph.nodes }

    /// Applies `rule` at every node until it finds nothing more to rewrite.
    mutating func rewriteAll<Failure: Error>(_ rule: (GraphRewriter, Int) throws(Failure) -> Rewrite?) throws(Failure) {
        var index = 0
        while index < graph.nodes.count {
            if let rewrite = try rule(self, index) {
                apply(rewrite)
                index = 0
            } else {
                index += 1
            }
        }
    }

    // MARK: Lookups

    /// Index of the node that produces `value`.
    func producer(of value: String) -> Int? { producers[value] }

    /// Index of the node that produces `value` when it is the default-domain op `opType`.
    func producer(of value: String, _ opType: String) -> Int? {
        guard let index = producers[value], graph.nodes[index].opType == opType, graph.nodes[index].domain.isEmpty else {
            return nil
        }
        return index
    }

    /// Indices of the nodes that read `value` (once per read, subgraph reads included).
    func readers(of value: String) -> [Int] { readers[value] ?? [] }

    /// The single node reading `value`, when exactly one node reads it once and it is not a graph output.
    func soleReader(of value: String) -> Int? {
        let all = readers(of: value)
        guard all.count == 1, !isGraphOutput(value) else { return nil }
        return all[0]
    }

    func isGraphOutput(_ value: String) -> Bool { graphOutputs.contains(value) }

    /// True when only `nodes` read `value` and it is not a graph output, so removing `nodes` leaves no one without it.
    func isPrivate(_ value: String, to nodes: Set<Int>) -> Bool {
        !isGraphOutput(value) && readers(of: value).allSatisfy(nodes.contains)
    }

    /// The constant behind `value`: an initializer no caller can override, or a `Constant` node's value.
    func constant(_ value: String) -> Tensor? {
        if let tensor = graph.initializers[value] { return overridable.contains(value) ? nil : tensor }
        guard let index = producer(of: value, "Constant") else { return nil }
        switch graph.nodes[index].attributes.first?.value {
        case .tensor(let tensor)?: return tensor
        case .float(let number)?: return Tensor(scalar: number)
        case .floats(let numbers)?: return Tensor(shape: [numbers.count], elements: numbers)
        case .int(let number)?: return Tensor(scalar: Int64(number))
        case .ints(let numbers)?: return Tensor(shape: [numbers.count], elements: numbers.map { Int64($0) })
        default: return nil
        }
    }

    /// The integers of a constant integer tensor.
    func constantInts(_ value: String) -> [Int]? { constant(value)?.intValues() }

    /// The element type of `value`, when declared or inferred.
    func dataType(of value: String) -> DataType? {
        if case .tensor(let type, _)? = types[value] { return type }
        return nil
    }

    /// The shape of `value`, when declared or inferred.
    func shape(of value: String) -> [Dimension]? {
        if case .tensor(_, let shape)? = types[value] { return shape }
        return nil
    }

    /// The known extent of dimension `axis` of `value`.
    func extent(of value: String, axis: Int) -> Int? {
        guard let shape = shape(of: value), axis < shape.count, case .value(let extent) = shape[axis] else { return nil }
        return extent
    }

    /// A value name nothing in the graph uses yet, made from `hint`. Rules pass distinct hints for the names of
    /// one rewrite.
    func freshName(_ hint: String) -> String {
        guard names.contains(hint) else { return hint }
        var counter = 1
        while names.contains("\(hint)_\(counter)") { counter += 1 }
        return "\(hint)_\(counter)"
    }

    // MARK: Rewriting

    mutating func apply(_ rewrite: Rewrite) {
        let position = rewrite.removed.max() ?? graph.nodes.count
        var nodes: [Node] = []
        var candidates: [String] = []
        for (index, var node) in graph.nodes.enumerated() {
            if index == position { nodes += rewrite.inserted }
            if rewrite.removed.contains(index) {
                candidates += node.inputs
                continue
            }
            if !rewrite.redirected.isEmpty { node.inputs = node.inputs.map { rewrite.redirected[$0] ?? $0 } }
            nodes.append(node)
        }
        if position == graph.nodes.count { nodes += rewrite.inserted }
        graph.nodes = nodes
        graph.initializers.merge(rewrite.constants) { _, new in new }
        removeUnread(startingFrom: candidates)
        reindex()
    }

    /// Drops the producers of `values` (and, in turn, of their inputs) once nothing reads their outputs, and
    /// initializers nothing reads any more.
    private mutating func removeUnread(startingFrom values: [String]) {
        var pending = values.filter { !$0.isEmpty }
        while !pending.isEmpty {
            var read = graphOutputs.union(overridable)
            for node in graph.nodes { read.formUnion(Schedule.reads(of: node)) }
            var next: [String] = []
            var dropped = Set<Int>()
            for value in Set(pending) where !read.contains(value) {
                if graph.initializers[value] != nil {
                    graph.initializers[value] = nil
                } else if let index = graph.nodes.firstIndex(where: { $0.outputs.contains(value) }),
                    graph.nodes[index].outputs.allSatisfy({ !read.contains($0) })
                {
                    dropped.insert(index)
                    next += graph.nodes[index].inputs.filter { !$0.isEmpty }
                }
            }
            graph.nodes = graph.nodes.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            pending = next
        }
    }

    private mutating func reindex() {
        producers = [:]
        readers = [:]
        names = graphOutputs.union(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producers[output] = index }
            for value in Schedule.reads(of: node) { readers[value, default: []].append(index) }
            names.formUnion(node.outputs)
            names.formUnion(node.inputs)
        }
        // What was known stays true (rewrites keep the types of surviving values), even where inference cannot
        // see through the new nodes, such as a lowering's Reshape to a run-time shape.
        types = ShapeInference.infer(graph).valueTypes.merging(types) { _, known in known }.filter { names.contains($0.key) }
    }
}
