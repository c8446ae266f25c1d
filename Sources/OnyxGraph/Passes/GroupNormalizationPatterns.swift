import OnyxCore
import OnyxFormat

/// A GroupNormalization spelled out in primitive ops, recognised from the node that normalises and checked
/// to compute exactly GroupNormalization, channels-first:
///
/// 1. grouping: `R = Reshape(X, [0 or N, G, …])` with any trailing extents (PyTorch's `[0, G, −1]`, the moments
///    form's `[N, G, C/G, H, W]`), or ONNX's function body's `Reshape(X, Concat(N, G, C/G, spatial))` followed by
///    `Reshape(·, [0, 0, −1])`;
/// 2. normalising over every axis of `R` after the first two: `InstanceNormalization(R, ones, zeros)`, or
///    `(R − mean) / Sqrt(variance + ε)` with the variance as the mean of `(R − mean)²` or as `E[R²] − mean²`, a
///    square as `Mul(v, v)` or `Pow(v, 2)`, and the division possibly a `Mul` by a `Reciprocal`;
/// 3. a tail back to X's shape: Reshapes (to X's shape, via `Shape(X)` or constants, or through the `[N, C, S]`
///    view), at most one Mul by γ and then one Add of β, one value per channel (or constant per group while still
///    grouped), and the Cast back when X was cast up to float first.
///
/// The match ends at the last value of X's shape along that chain; every value before it must be read only
/// inside the pattern.
struct GroupNormalizationPattern {
    /// X, channels-first (`[N, C, spatial…]`).
    let input: String
    let groups: Int
    let epsilon: Float
    /// Per-channel scale and bias: a value of the graph, or a constant to add.
    let scale: Operand
    let bias: Operand
    /// The value the pattern computes, which the fused node now produces.
    let output: String
    /// The nodes on the pattern's data path.
    let nodes: Set<Int>

    enum Operand {
        case value(String)
        case constant(Tensor)
    }

    init?(normalizingAt index: Int, in graph: GraphRewriter) {
        let matcher = Matcher(graph: graph)
        guard let core = matcher.normalization(at: index), let end = matcher.tail(after: core) else { return nil }
        let nodes = core.nodes.union(end.nodes)
        for node in nodes {
            for value in graph.nodes[node].outputs where value != end.value && !graph.isPrivate(value, to: nodes) { return nil }
        }
        let input = end.uncast ?? core.grouping.source
        guard let channels = matcher.channels(of: core.grouping, affine: [end.scale, end.bias]),
            let elementType = graph.dataType(of: input) ?? core.elementType,
            let scale = matcher.perChannel(end.scale, channels: channels, groups: core.grouping.groups, fill: 1, elementType),
            let bias = matcher.perChannel(end.bias, channels: channels, groups: core.grouping.groups, fill: 0, elementType)
        else { return nil }
        self.input = input
        self.groups = core.grouping.groups
        self.epsilon = core.epsilon
        self.scale = scale
        self.bias = bias
        self.output = end.value
        self.nodes = nodes
    }
}

/// Where a value's elements sit relative to X `[N, C, spatial…]`.
private enum Layout {
    /// `[N, G, …]`, the grouped view the statistics are taken over.
    case grouped
    /// X's own shape.
    case full
    /// `[N, C, S]` with S the product of the spatial extents.
    case flat
}

/// How `R` groups X's channels.
private struct Grouping {
    var source: String
    var groups: Int
    var rank: Int?
    var nodes: Set<Int>
}

/// The normalisation step: R grouped, normalised with `epsilon`, giving `normalized`.
private struct Normalization {
    var grouping: Grouping
    var epsilon: Float
    var normalized: String
    var nodes: Set<Int>
    /// X's element type as the pattern's constants show it.
    var elementType: DataType?
    /// X is `Cast(original)` to a type at least as wide: the tail may cast back to `originalType`.
    var cast: (original: String, originalType: DataType)?
}

/// γ or β as the tail applies it: a value, and the layout and rank of the tensor it multiplies or adds to.
private struct Affine {
    var value: String
    var layout: Layout
    var rank: Int?
}

/// A point along the tail.
private struct TailPoint {
    var value: String
    var layout: Layout
    var nodes: Set<Int> = []
    var scale: Affine?
    var bias: Affine?
    /// X before its Cast up to float, once the tail has cast back.
    var uncast: String?
}

private struct Matcher {
    let graph: GraphRewriter

    // MARK: Normalisation

    func normalization(at index: Int) -> Normalization? {
        let node = graph.nodes[index]
        guard node.domain.isEmpty, node.outputs.count == 1 else { return nil }
        let match: Normalization?
        switch node.opType {
        case "InstanceNormalization": match = instanceNormalization(at: index)
        case "Div", "Mul": match = moments(normalizingAt: index)
        default: return nil
        }
        guard var found = match else { return nil }
        found.cast = widening(found.grouping.source)
        return found
    }

    /// PyTorch's form: InstanceNormalization of the grouped tensor with unit scale and zero bias.
    private func instanceNormalization(at index: Int) -> Normalization? {
        let node = graph.nodes[index]
        guard node.inputs.count == 3, let grouping = grouping(of: node.inputs[0]),
            let scale = graph.constant(node.inputs[1]), let bias = graph.constant(node.inputs[2]),
            scale.count == grouping.groups, bias.count == grouping.groups,
            scale.doubleValues()?.allSatisfy({ $0 == 1 }) == true, bias.doubleValues()?.allSatisfy({ $0 == 0 }) == true
        else { return nil }
        let epsilon: Float
        switch node.attributes["epsilon"] {
        case nil: epsilon = 1e-5
        case .float(let value)?: epsilon = value
        default: return nil
        }
        return Normalization(
            grouping: grouping, epsilon: epsilon, normalized: node.outputs[0], nodes: grouping.nodes.union([index]),
            elementType: scale.dataType)
    }

    /// `(R − mean) / Sqrt(variance + ε)`, or `(R − mean) · Reciprocal(Sqrt(variance + ε))`.
    private func moments(normalizingAt index: Int) -> Normalization? {
        let node = graph.nodes[index]
        guard node.inputs.count == 2 else { return nil }
        var nodes: Set<Int> = [index]
        let deviation: String
        let root: String
        if node.opType == "Div" {
            (deviation, root) = (node.inputs[0], node.inputs[1])
        } else if let (reciprocal, other) = operand(of: node, producedBy: "Reciprocal") {
            nodes.insert(reciprocal)
            (deviation, root) = (other, graph.nodes[reciprocal].inputs[0])
        } else {
            return nil
        }
        guard let sqrt = graph.producer(of: root, "Sqrt"), let add = graph.producer(of: graph.nodes[sqrt].inputs[0], "Add"),
            let (varianceValue, epsilonTensor) = constantOperand(of: graph.nodes[add]), epsilonTensor.count == 1,
            let epsilon = epsilonTensor.doubleValues()?.first,
            let subtract = graph.producer(of: deviation, "Sub"), graph.nodes[subtract].inputs.count == 2,
            let grouping = grouping(of: graph.nodes[subtract].inputs[0]), let rank = grouping.rank,
            let meanNode = mean(graph.nodes[subtract].inputs[1], of: graph.nodes[subtract].inputs[0], rank: rank),
            let varianceNodes = variance(varianceValue, of: graph.nodes[subtract].inputs[0], deviation: deviation, rank: rank)
        else { return nil }
        nodes.formUnion([sqrt, add, subtract, meanNode])
        return Normalization(
            grouping: grouping, epsilon: Float(epsilon), normalized: node.outputs[0],
            nodes: nodes.union(varianceNodes).union(grouping.nodes), elementType: epsilonTensor.dataType)
    }

    /// The nodes computing the variance of `grouped` as `value`: the mean of a square of `deviation` (or of an
    /// equal `grouped − mean`), or the mean of `grouped²` minus the squared mean.
    private func variance(_ value: String, of grouped: String, deviation: String, rank: Int) -> Set<Int>? {
        if let outer = graph.producer(of: value, "ReduceMean") {
            let squared = graph.nodes[outer].inputs[0]
            guard mean(value, of: squared, rank: rank) != nil, let (squareNode, base) = square(squared) else { return nil }
            if base == deviation { return [outer, squareNode] }
            guard let subtract = graph.producer(of: base, "Sub"), graph.nodes[subtract].inputs.count == 2,
                graph.nodes[subtract].inputs[0] == grouped,
                let meanNode = mean(graph.nodes[subtract].inputs[1], of: grouped, rank: rank)
            else { return nil }
            return [outer, squareNode, subtract, meanNode]
        }
        guard let subtract = graph.producer(of: value, "Sub"), graph.nodes[subtract].inputs.count == 2,
            let meanOfSquare = graph.producer(of: graph.nodes[subtract].inputs[0], "ReduceMean"),
            let (squareOfInput, base) = square(graph.nodes[meanOfSquare].inputs[0]), base == grouped,
            mean(graph.nodes[subtract].inputs[0], of: graph.nodes[meanOfSquare].inputs[0], rank: rank) != nil,
            let (squareOfMean, meanValue) = square(graph.nodes[subtract].inputs[1]),
            let meanNode = mean(meanValue, of: grouped, rank: rank)
        else { return nil }
        return [subtract, meanOfSquare, squareOfInput, squareOfMean, meanNode]
    }

    /// The ReduceMean node producing `value` from `input` over every axis after the first two, keeping them.
    private func mean(_ value: String, of input: String, rank: Int) -> Int? {
        guard rank >= 3, let index = graph.producer(of: value, "ReduceMean") else { return nil }
        let node = graph.nodes[index]
        guard node.inputs.first == input, integer(node.attributes["keepdims"]) ?? 1 == 1 else { return nil }
        let axes: [Int]?
        if node.inputs.count > 1 && !node.inputs[1].isEmpty {
            axes = graph.constantInts(node.inputs[1])
        } else if case .ints(let listed)? = node.attributes["axes"] {
            axes = listed
        } else {
            axes = nil
        }
        guard let axes, axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() == Array(2..<rank) else { return nil }
        return index
    }

    /// `v · v` or `v ^ 2`: the squaring node and `v`.
    private func square(_ value: String) -> (Int, String)? {
        if let index = graph.producer(of: value, "Mul"), graph.nodes[index].inputs.count == 2,
            graph.nodes[index].inputs[0] == graph.nodes[index].inputs[1]
        {
            return (index, graph.nodes[index].inputs[0])
        }
        if let index = graph.producer(of: value, "Pow"), graph.nodes[index].inputs.count == 2,
            let exponent = graph.constant(graph.nodes[index].inputs[1]), exponent.count == 1, exponent.doubleValues() == [2]
        {
            return (index, graph.nodes[index].inputs[0])
        }
        return nil
    }

    // MARK: Grouping

    /// How `value` groups the channels of the tensor it reshapes.
    private func grouping(of value: String) -> Grouping? {
        guard let index = graph.producer(of: value, "Reshape"), graph.nodes[index].inputs.count == 2,
            integer(graph.nodes[index].attributes["allowzero"]) ?? 0 == 0
        else { return nil }
        let (source, target) = (graph.nodes[index].inputs[0], graph.nodes[index].inputs[1])
        if let shape = graph.constantInts(target) {
            // Flattening the trailing axes of a grouped tensor keeps its grouping.
            if shape == [0, 0, -1], var inner = grouping(of: source) {
                inner.rank = 3
                inner.nodes.insert(index)
                return inner
            }
            let trailing = shape.dropFirst(2)
            guard shape.count >= 3, shape[1] > 0,
                shape[0] == 0 || (shape[0] > 0 && graph.extent(of: source, axis: 0) == shape[0]),
                trailing.allSatisfy({ $0 == -1 || $0 > 0 }), trailing.filter({ $0 == -1 }).count <= 1,
                groupsDivideChannels(shape[1], of: source)
            else { return nil }
            return Grouping(source: source, groups: shape[1], rank: shape.count, nodes: [index])
        }
        // ONNX's function body: Reshape(X, Concat(Shape(X)[0:1], [G], Shape(X)[1:2] / [G], Shape(X)[2:])).
        guard let concat = graph.producer(of: target, "Concat"), integer(graph.nodes[concat].attributes["axis"]) == 0
        else { return nil }
        let parts = graph.nodes[concat].inputs
        guard parts.count == 4, let groups = singleInteger(parts[1]), groups > 0,
            isShapeSlice(parts[0], of: source, start: 0, end: 1), isShapeSlice(parts[3], of: source, start: 2, end: nil),
            let divide = graph.producer(of: parts[2], "Div"), graph.nodes[divide].inputs.count == 2,
            isShapeSlice(graph.nodes[divide].inputs[0], of: source, start: 1, end: 2),
            singleInteger(graph.nodes[divide].inputs[1]) == groups, groupsDivideChannels(groups, of: source)
        else { return nil }
        return Grouping(source: source, groups: groups, rank: graph.shape(of: source).map { $0.count + 1 }, nodes: [index])
    }

    private func groupsDivideChannels(_ groups: Int, of value: String) -> Bool {
        guard let channels = graph.extent(of: value, axis: 1) else { return true }
        return channels % groups == 0
    }

    /// True when `value` is `Shape(x)[start..<end]` (end nil: to the last axis) of `x` or a Cast of it.
    private func isShapeSlice(_ value: String, of x: String, start: Int, end: Int?) -> Bool {
        guard let index = graph.producer(of: value, "Shape"), let input = graph.nodes[index].inputs.first,
            sameExtents(input, x)
        else { return false }
        let attributes = graph.nodes[index].attributes
        return integer(attributes["start"]) ?? 0 == start && integer(attributes["end"]) == end
    }

    /// True when `a` and `b` are one value, or one is a Cast of the other (which keeps the shape).
    private func sameExtents(_ a: String, _ b: String) -> Bool {
        a == b || graph.producer(of: a, "Cast").map { graph.nodes[$0].inputs[0] == b } == true
            || graph.producer(of: b, "Cast").map { graph.nodes[$0].inputs[0] == a } == true
    }

    /// `value` as `Cast(original)` to a floating type at least as wide (as ONNX's function body widens to float).
    private func widening(_ value: String) -> (original: String, originalType: DataType)? {
        func width(_ type: DataType) -> Int? {
            switch type {
            case .float16, .bfloat16: 1
            case .float: 2
            case .double: 3
            default: nil
            }
        }
        guard let index = graph.producer(of: value, "Cast"), let original = graph.nodes[index].inputs.first,
            let from = graph.dataType(of: original), let fromWidth = width(from),
            let code = integer(graph.nodes[index].attributes["to"]), let to = DataType(rawValue: Int32(code)),
            let toWidth = width(to), toWidth >= fromWidth
        else { return nil }
        return (original, from)
    }

    // MARK: Tail

    /// The last point after `core` that has X's shape, following the value's sole reader while it reshapes,
    /// casts back, scales or shifts.
    func tail(after core: Normalization) -> TailPoint? {
        var point = TailPoint(value: core.normalized, layout: .grouped)
        var last: TailPoint?
        while let reader = graph.soleReader(of: point.value) {
            let node = graph.nodes[reader]
            guard node.domain.isEmpty, node.outputs.count == 1, let first = node.inputs.first else { break }
            switch node.opType {
            case "Reshape" where node.inputs.count == 2 && first == point.value
                && integer(node.attributes["allowzero"]) ?? 0 == 0:
                guard let layout = reshapedLayout(node.inputs[1], from: point.layout, x: core.grouping.source) else {
                    return last
                }
                point.layout = layout
            case "Cast" where point.uncast == nil && point.scale == nil && point.bias == nil:
                guard let cast = core.cast, integer(node.attributes["to"]) == Int(cast.originalType.rawValue) else { return last }
                point.uncast = cast.original
            case "Mul" where point.scale == nil && point.bias == nil:
                guard let term = affine(node, applyingTo: point, core) else { return last }
                point.scale = term
            case "Add" where point.bias == nil:
                guard let term = affine(node, applyingTo: point, core) else { return last }
                point.bias = term
            default:
                return last
            }
            point.nodes.insert(reader)
            point.value = node.outputs[0]
            if point.layout == .full { last = point }
        }
        return last
    }

    /// The other operand of a Mul or Add reading `point`, when it is one value per channel (or a constant per group
    /// while grouped).
    private func affine(_ node: Node, applyingTo point: TailPoint, _ core: Normalization) -> Affine? {
        guard let other = otherOperand(of: node, than: point.value) else { return nil }
        let term = Affine(value: other, layout: point.layout, rank: rank(of: point.layout, core))
        if let tensor = graph.constant(other) { return channelExtent(of: tensor.shape, rank: term.rank) != nil ? term : nil }
        return term.layout != .grouped && runtimeLength(of: term) != nil ? term : nil
    }

    /// The layout a Reshape of a `layout` tensor to `target` gives, when it is X's shape or its `[N, C, S]` view.
    private func reshapedLayout(_ target: String, from layout: Layout, x: String) -> Layout? {
        if let index = graph.producer(of: target, "Shape") {
            let node = graph.nodes[index]
            let whole = node.attributes["start"] == nil && node.attributes["end"] == nil
            return whole && node.inputs.count == 1 && sameExtents(node.inputs[0], x) ? .full : nil
        }
        guard let shape = graph.constantInts(target) else { return nil }
        if shape == [0, 0, -1] && layout == .full { return .flat }
        guard let full = graph.shape(of: x), full.count >= 2 else { return nil }
        // A 0 copies the input's extent at that position, which equals the target's only where the layouts agree.
        let copied: Set<Int> = switch layout {
        case .grouped: [0]
        case .flat: [0, 1]
        case .full: Set(full.indices)
        }
        var spatial = 1
        for extent in full.dropFirst(2) {
            guard case .value(let value) = extent else { spatial = -1; break }
            spatial *= value
        }
        let flat: [Dimension] = [full[0], full[1], spatial < 0 ? .unknown : .value(spatial)]
        if fits(shape, full, copied: copied) { return .full }
        if fits(shape, flat, copied: copied) { return .flat }
        return nil
    }

    /// True when a Reshape to `shape` (0 copying an extent at the `copied` positions, one −1) gives `dimensions`.
    private func fits(_ shape: [Int], _ dimensions: [Dimension], copied: Set<Int>) -> Bool {
        guard shape.count == dimensions.count, shape.filter({ $0 == -1 }).count <= 1 else { return false }
        return zip(shape, dimensions).enumerated().allSatisfy { position, pair in
            switch pair.0 {
            case -1: true
            case 0: copied.contains(position)
            default: pair.1 == .value(pair.0)
            }
        }
    }

    // MARK: Scale and bias

    /// The channel count: X's, or else the one a per-channel γ or β shows.
    func channels(of grouping: Grouping, affine: [Affine?]) -> Int? {
        if let channels = graph.extent(of: grouping.source, axis: 1) { return channels }
        for case let term? in affine where term.layout != .grouped {
            if let length = runtimeLength(of: term) { return length }
            if let tensor = graph.constant(term.value), let extent = channelExtent(of: tensor.shape, rank: term.rank),
                extent > 1
            {
                return extent
            }
        }
        return nil
    }

    /// `term` as one value per channel (`fill` everywhere when absent), or nil when it is not one per channel.
    func perChannel(
        _ term: Affine?, channels: Int, groups: Int, fill: Double, _ elementType: DataType
    ) -> GroupNormalizationPattern.Operand? {
        guard channels > 0, channels % groups == 0 else { return nil }
        guard let term else { return Tensors.filled(fill, elementType, count: channels).map { .constant($0) } }
        if let tensor = graph.constant(term.value) {
            guard let extent = channelExtent(of: tensor.shape, rank: term.rank) else { return nil }
            let repeats: Int
            switch (term.layout, extent) {
            case (_, 1): repeats = channels
            case (.grouped, groups): repeats = channels / groups
            case (.full, channels), (.flat, channels): repeats = 1
            default: return nil
            }
            return Tensors.repeating(tensor, each: repeats).map { .constant($0) }
        }
        guard term.layout != .grouped, runtimeLength(of: term) == channels, let index = graph.producer(of: term.value) else {
            return nil
        }
        return .value(graph.nodes[index].inputs[0])
    }

    /// The extent along axis 1 of a constant of `shape` broadcast against a tensor of `rank`, when every other
    /// axis broadcasts as 1.
    private func channelExtent(of shape: [Int], rank: Int?) -> Int? {
        guard let rank, shape.count <= rank else { return nil }
        let padded = Array(repeating: 1, count: rank - shape.count) + shape
        guard padded.enumerated().allSatisfy({ $0.offset == 1 || $0.element == 1 }) else { return nil }
        return padded[1]
    }

    /// The length of the 1-D value a run-time γ or β is reshaped or unsqueezed from, when that places its
    /// entries along the channel axis.
    private func runtimeLength(of term: Affine) -> Int? {
        guard let rank = term.rank, let index = graph.producer(of: term.value) else { return nil }
        let node = graph.nodes[index]
        guard node.domain.isEmpty, let source = node.inputs.first.flatMap(graph.shape(of:)), source.count == 1,
            case .value(let length) = source[0], length > 1
        else { return nil }
        let resultRank: Int
        let position: Int
        switch node.opType {
        case "Reshape":
            guard node.inputs.count == 2, let shape = graph.constantInts(node.inputs[1]),
                let spot = shape.firstIndex(where: { $0 != 1 }), shape.filter({ $0 != 1 }).count == 1,
                shape[spot] == -1 || shape[spot] == length
            else { return nil }
            (resultRank, position) = (shape.count, spot)
        case "Unsqueeze":
            let listed: [Int]?
            if node.inputs.count == 2 {
                listed = graph.constantInts(node.inputs[1])
            } else if case .ints(let axes)? = node.attributes["axes"] {
                listed = axes
            } else {
                listed = nil
            }
            guard let listed else { return nil }
            let count = listed.count + 1
            let axes = Set(listed.map { $0 < 0 ? $0 + count : $0 })
            guard axes.count == listed.count, let spot = (0..<count).first(where: { !axes.contains($0) }) else { return nil }
            (resultRank, position) = (count, spot)
        default:
            return nil
        }
        return resultRank <= rank && position + rank - resultRank == 1 ? length : nil
    }

    /// The rank of a tensor of `layout` in the pattern of `core`.
    func rank(of layout: Layout, _ core: Normalization) -> Int? {
        switch layout {
        case .grouped: core.grouping.rank
        case .full: graph.shape(of: core.grouping.source)?.count
        case .flat: 3
        }
    }

    // MARK: Operands

    /// The Reciprocal (or other `opType`) node producing one operand of a binary `node`, and the other operand.
    private func operand(of node: Node, producedBy opType: String) -> (Int, String)? {
        guard node.inputs.count == 2 else { return nil }
        for (this, other) in [(0, 1), (1, 0)] {
            if let index = graph.producer(of: node.inputs[this], opType) { return (index, node.inputs[other]) }
        }
        return nil
    }

    /// The non-constant operand of a binary `node` and the constant one.
    private func constantOperand(of node: Node) -> (String, Tensor)? {
        guard node.inputs.count == 2 else { return nil }
        for (this, other) in [(0, 1), (1, 0)] {
            if let tensor = graph.constant(node.inputs[this]), graph.constant(node.inputs[other]) == nil {
                return (node.inputs[other], tensor)
            }
        }
        return nil
    }

    /// The operand of a binary `node` that is not `value` (which must be the other one).
    private func otherOperand(of node: Node, than value: String) -> String? {
        guard node.inputs.count == 2, node.inputs[0] != node.inputs[1] else { return nil }
        if node.inputs[0] == value { return node.inputs[1] }
        if node.inputs[1] == value { return node.inputs[0] }
        return nil
    }

    private func singleInteger(_ value: String) -> Int? {
        guard let values = graph.constantInts(value), values.count == 1 else { return nil }
        return values[0]
    }

    private func integer(_ attribute: AttributeValue?) -> Int? {
        if case .int(let value)? = attribute { return value }
        return nil
    }
}
