import Foundation
import OnyxCore

/// TreeEnsemble (ai.onnx.ml 5): input [N, F] (float, double or float16) → [N, n_targets] of the same type. Each
/// tree routes a row from its root through interior nodes (`nodes_*`) to one leaf (`leaf_*`), whose weight goes
/// to its target; the trees' weights per target are aggregated (sum, average, min or max) and post-transformed.
///
/// The forest is checked once, when the kernel is made: indices in range, modes known, membership sets
/// complete, and no cycle among the interior nodes, so evaluation always ends at a leaf.
struct TreeEnsembleKernel: Kernel {
    private let branches: [Branch]
    /// Where each tree starts: a branch, or a leaf for a tree that is one leaf.
    private let roots: [Child]
    private let leafWeights: [Double]
    private let leafTargets: [Int]
    /// Every set-membership node's members, back to back (see `Branch.members`).
    private let memberValues: [Double]
    private let targetCount: Int
    private let aggregation: Aggregation
    private let postTransform: PostTransform
    /// One more than the largest feature index a branch reads.
    private let featuresNeeded: Int

    init(_ node: KernelNode) throws {
        let aggregationCode = try node.int("aggregate_function", default: 1)
        let transformCode = try node.int("post_transform", default: 0)
        guard let aggregation = Aggregation(rawValue: aggregationCode) else {
            throw KernelError.invalidAttribute("aggregate_function", "must be 0…3, got \(aggregationCode)")
        }
        guard let postTransform = PostTransform(rawValue: transformCode) else {
            throw KernelError.invalidAttribute("post_transform", "must be 0…4, got \(transformCode)")
        }
        self.aggregation = aggregation
        self.postTransform = postTransform
        let targetCount = try Self.required("n_targets", node.int)
        guard targetCount > 0 else {
            throw KernelError.invalidAttribute("n_targets", "must be positive, got \(targetCount)")
        }
        let leafWeights = try Self.numbers(node, "leaf_weights")
        let leafTargets = try Self.required("leaf_targetids", node.ints)
        guard leafTargets.count == leafWeights.count, leafTargets.allSatisfy({ (0..<targetCount).contains($0) }) else {
            throw KernelError.invalidAttribute(
                "leaf_targetids",
                "must list \(leafWeights.count) targets (one per leaf weight) in 0..<\(targetCount), "
                    + "got \(leafTargets)")
        }
        (self.targetCount, self.leafWeights, self.leafTargets) = (targetCount, leafWeights, leafTargets)
        memberValues = try node.tensor("membership_values")?.doubleValues() ?? []
        let branches = try Self.branches(node, leafCount: leafWeights.count, memberValues: memberValues)
        self.branches = branches
        featuresNeeded = (branches.map(\.feature).max() ?? -1) + 1
        roots = try Self.required("tree_roots", node.ints).map { root in
            guard branches.indices.contains(root) else {
                throw KernelError.invalidAttribute("tree_roots", "root \(root) is outside 0..<\(branches.count)")
            }
            // A tree that is a single leaf is a node whose two branches name the same leaf.
            let branch = branches[root]
            if case .leaf(let onTrue) = branch.onTrue, case .leaf(let onFalse) = branch.onFalse, onTrue == onFalse {
                return .leaf(onTrue)
            }
            return .branch(root)
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard [.float, .double, .float16].contains(input.dataType), input.rank == 2,
            input.shape[1] >= featuresNeeded, let values = input.doubleValues()
        else {
            throw KernelError.invalidInput(
                "TreeEnsemble needs float, double or float16 input [N, ≥ \(featuresNeeded) features], "
                    + "got \(input.dataType) \(input.shape)")
        }
        let (rows, features) = (input.shape[0], input.shape[1])
        _ = try Broadcast.elementCount([rows, targetCount])
        var output = [Double](repeating: 0, count: rows * targetCount)
        var reached = [Bool](repeating: false, count: targetCount)
        for row in 0..<rows {
            let sample = values[(row * features)..<((row + 1) * features)]
            let scores = row * targetCount..<(row + 1) * targetCount
            reached.withUnsafeMutableBufferPointer { $0.update(repeating: false) }
            for root in roots {
                let leaf = self.leaf(of: sample, from: root)
                let (target, weight) = (scores.lowerBound + leafTargets[leaf], leafWeights[leaf])
                let first = !reached[leafTargets[leaf]]
                reached[leafTargets[leaf]] = true
                switch aggregation {
                case .sum, .average: output[target] += weight
                case .minimum: output[target] = first ? weight : Swift.min(output[target], weight)
                case .maximum: output[target] = first ? weight : Swift.max(output[target], weight)
                }
            }
            if aggregation == .average, !roots.isEmpty {
                for target in scores { output[target] /= Double(roots.count) }
            }
            postTransform.apply(to: &output[scores])
        }
        return [.tensor(try Tensor(converting: output, to: input.dataType, shape: [rows, targetCount]))]
    }

    /// The leaf that `sample` reaches from `start`.
    private func leaf(of sample: ArraySlice<Double>, from start: Child) -> Int {
        var child = start
        while true {
            switch child {
            case .leaf(let leaf): return leaf
            case .branch(let index):
                let branch = branches[index]
                let value = sample[sample.startIndex + branch.feature]
                child = branch.takesTrueBranch(value, members: memberValues) ? branch.onTrue : branch.onFalse
            }
        }
    }

    /// The interior nodes from the `nodes_*` attributes; set-membership nodes take their sets from
    /// `memberValues` in node order, each set ended by a NaN.
    private static func branches(_ node: KernelNode, leafCount: Int, memberValues: [Double]) throws -> [Branch] {
        let splits = try numbers(node, "nodes_splits")
        let features = try required("nodes_featureids", node.ints)
        guard let modeCodes = try required("nodes_modes", node.tensor).intValues() else {
            throw KernelError.invalidAttribute("nodes_modes", "must be an integer (uint8) tensor")
        }
        let trueIDs = try required("nodes_truenodeids", node.ints)
        let falseIDs = try required("nodes_falsenodeids", node.ints)
        let trueLeafFlags = try required("nodes_trueleafs", node.ints)
        let falseLeafFlags = try required("nodes_falseleafs", node.ints)
        let missingTracksTrue =
            try node.ints("nodes_missing_value_tracks_true") ?? Array(repeating: 0, count: features.count)
        let nodeCount = features.count
        let lengths = [splits.count, modeCodes.count, trueIDs.count, falseIDs.count, trueLeafFlags.count,
            falseLeafFlags.count, missingTracksTrue.count]
        guard lengths.allSatisfy({ $0 == nodeCount }) else {
            throw KernelError.invalidAttribute(
                "nodes_featureids", "every nodes_* attribute must have \(nodeCount) entries, got \(lengths)")
        }
        func child(_ id: Int, isLeaf: Int, of index: Int, attribute: String) throws -> Child {
            let (limit, kind) = isLeaf != 0 ? (leafCount, "leaf") : (nodeCount, "node")
            guard (0..<limit).contains(id) else {
                throw KernelError.invalidAttribute(
                    attribute, "node \(index) points at \(kind) \(id), outside 0..<\(limit)")
            }
            return isLeaf != 0 ? .leaf(id) : .branch(id)
        }
        var memberSets = memberValues.split(omittingEmptySubsequences: false, whereSeparator: \.isNaN)
            .map { $0.startIndex..<$0.endIndex }.makeIterator()
        var branches = [Branch]()
        branches.reserveCapacity(nodeCount)
        for index in 0..<nodeCount {
            guard let mode = Int8(exactly: modeCodes[index]).flatMap(Mode.init(rawValue:)) else {
                throw KernelError.invalidAttribute("nodes_modes", "node \(index) has unknown mode \(modeCodes[index])")
            }
            guard features[index] >= 0 else {
                throw KernelError.invalidAttribute("nodes_featureids", "node \(index) reads feature \(features[index])")
            }
            var members = 0..<0
            if mode == .member {
                // A set counts only when a NaN ends it.
                guard let set = memberSets.next(), memberValues.indices.contains(set.upperBound) else {
                    throw KernelError.invalidAttribute(
                        "membership_values", "needs one NaN-terminated set per BRANCH_MEMBER node")
                }
                members = set
            }
            branches.append(
                Branch(
                    mode: mode, feature: features[index], threshold: splits[index], members: members,
                    missingGoesTrue: missingTracksTrue[index] != 0,
                    onTrue: try child(
                        trueIDs[index], isLeaf: trueLeafFlags[index], of: index, attribute: "nodes_truenodeids"),
                    onFalse: try child(
                        falseIDs[index], isLeaf: falseLeafFlags[index], of: index, attribute: "nodes_falsenodeids")))
        }
        guard isAcyclic(branches) else {
            throw KernelError.invalidAttribute("nodes_truenodeids", "the nodes form a cycle")
        }
        return branches
    }

    private static func required<T>(_ name: String, _ read: (String) throws -> T?) throws -> T {
        guard let value = try read(name) else { throw KernelError.invalidAttribute(name, "is required") }
        return value
    }

    /// A required numeric tensor attribute's values.
    private static func numbers(_ node: KernelNode, _ name: String) throws -> [Double] {
        guard let values = try required(name, node.tensor).doubleValues() else {
            throw KernelError.invalidAttribute(name, "must be a numeric tensor")
        }
        return values
    }

    /// True when following branch-to-branch links can never come back to a node (Kahn's topological sort).
    private static func isAcyclic(_ branches: [Branch]) -> Bool {
        var incoming = [Int](repeating: 0, count: branches.count)
        for branch in branches {
            for case .branch(let next) in [branch.onTrue, branch.onFalse] { incoming[next] += 1 }
        }
        var ready = branches.indices.filter { incoming[$0] == 0 }
        var removed = 0
        while let index = ready.popLast() {
            removed += 1
            for case .branch(let next) in [branches[index].onTrue, branches[index].onFalse] {
                incoming[next] -= 1
                if incoming[next] == 0 { ready.append(next) }
            }
        }
        return removed == branches.count
    }
}

/// Where a branch leads.
private enum Child {
    case branch(Int)
    case leaf(Int)
}

/// A node's comparison (`nodes_modes`).
private enum Mode: Int8 {
    case lessOrEqual = 0, less, greaterOrEqual, greater, equal, notEqual, member
}

/// One interior node.
private struct Branch {
    let mode: Mode
    let feature: Int
    let threshold: Double
    /// The node's range in the kernel's `memberValues` (set-membership nodes only).
    let members: Range<Int>
    /// Whether a NaN feature takes the true branch.
    let missingGoesTrue: Bool
    let onTrue: Child
    let onFalse: Child

    func takesTrueBranch(_ value: Double, members memberValues: [Double]) -> Bool {
        if value.isNaN && missingGoesTrue { return true }
        switch mode {
        case .lessOrEqual: return value <= threshold
        case .less: return value < threshold
        case .greaterOrEqual: return value >= threshold
        case .greater: return value > threshold
        case .equal: return value == threshold
        case .notEqual: return value != threshold
        case .member: return memberValues[members].contains(value)
        }
    }
}

/// How the trees' weights for one target combine (`aggregate_function`). A target no leaf reached scores 0
/// under min and max too, as in ONNX Runtime.
private enum Aggregation: Int {
    case average = 0, sum, minimum, maximum
}

/// The transform applied to each row of scores (`post_transform`).
private enum PostTransform: Int {
    case none = 0, softmax, logistic, softmaxZero, probit

    func apply(to scores: inout ArraySlice<Double>) {
        switch self {
        case .none: return
        case .softmax, .softmaxZero:
            let largest = scores.max() ?? 0
            var total = 0.0
            for index in scores.indices where self == .softmax || scores[index] != 0 {
                scores[index] = exp(scores[index] - largest)
                total += scores[index]
            }
            for index in scores.indices { scores[index] /= total }
        case .logistic:
            for index in scores.indices { scores[index] = 1 / (1 + exp(-scores[index])) }
        case .probit:
            for index in scores.indices { scores[index] = 2.0.squareRoot() * inverseErf(2 * scores[index] - 1) }
        }
    }
}

/// erf⁻¹(y) for y in (−1, 1): Winitzki's approximation refined by Newton steps on `erf`; ±∞ at ±1, NaN beyond.
private func inverseErf(_ y: Double) -> Double {
    guard abs(y) < 1 else { return abs(y) == 1 ? y * .infinity : .nan }
    let a = 0.147
    let logTerm = log((1 - y) * (1 + y))
    let base = 2 / (Double.pi * a) + logTerm / 2
    var x = ((base * base - logTerm / a).squareRoot() - base).squareRoot()
    if y < 0 { x = -x }
    for _ in 0..<3 {
        x -= (erf(x) - y) / (2 / Double.pi.squareRoot() * exp(-x * x))
    }
    return x
}
