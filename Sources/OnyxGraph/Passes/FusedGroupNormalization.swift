import OnyxCore
import OnyxFormat

/// Onyx's own GroupNormalization (op `GroupNormalization`, domain `ai.onyx`, version 1), which fusion creates
/// and a kernel implements.
///
/// Inputs `X`, `scale` and `bias`, output `Y`. `scale` and `bias` hold one entry per channel (shape `[C]`) and may
/// be computed at run time. With `channels_last` = 0, `X` and `Y` are `[N, C, spatial…]`; with 1 they are
/// `[N, spatial…, C]`. `Y = activation((X − mean) / sqrt(variance + epsilon) · scale + bias)`, with mean and
/// variance over each sample's `C / num_groups` channels of a group and all spatial positions, accumulated in at
/// least float32; `activation` is `""` (none) or `"silu"` (`y · sigmoid(y)`).
public struct FusedGroupNormalization: Sendable, Equatable {
    public static let domain = "ai.onyx"
    public static let opType = "GroupNormalization"
    public static let version = 1

    /// `num_groups`.
    public var groups: Int
    public var epsilon: Float
    /// `channels_last` = 1.
    public var channelsLast: Bool
    /// `activation` = "silu".
    public var silu: Bool

    public init(groups: Int, epsilon: Float, channelsLast: Bool = false, silu: Bool = false) {
        self.groups = groups
        self.epsilon = epsilon
        self.channelsLast = channelsLast
        self.silu = silu
    }

    /// True when `node` is this op.
    public static func matches(_ node: Node) -> Bool {
        node.opType == opType && node.domain == domain
    }

    /// The attributes of `node`; nil when it is another op or its attributes are malformed.
    public init?(_ node: Node) {
        guard Self.matches(node), let read = try? GroupNormalizationNode(node, onnxOpset: nil) else { return nil }
        self = read.attributes
    }

    /// A node applying this op to `inputs` (X, scale, bias).
    public func node(name: String, inputs: [String], output: String) -> Node {
        var attributes: [String: AttributeValue] = ["num_groups": .int(groups), "epsilon": .float(epsilon)]
        if channelsLast { attributes["channels_last"] = .int(1) }
        if silu { attributes["activation"] = .string(Array("silu".utf8)) }
        return Node(
            name: name, opType: Self.opType, domain: Self.domain, inputs: inputs, outputs: [output], attributes: attributes)
    }
}

/// A GroupNormalization node of the ONNX domain (opset 18: scale and bias per group; 21: per channel) or of
/// Onyx's, with its attributes read and defaulted.
struct GroupNormalizationNode {
    var attributes: FusedGroupNormalization
    /// Scale and bias hold one entry per group rather than per channel (ONNX opsets 18 to 20).
    var perGroupAffine: Bool

    /// Reads `node`, an ONNX one under `onnxOpset`; nil when it is no GroupNormalization. Throws a reason when it
    /// is one Onyx cannot read.
    init?(_ node: Node, onnxOpset: Int?) throws(GroupNormalizationNodeError) {
        let onnx = node.opType == "GroupNormalization" && node.domain.isEmpty
        guard onnx || FusedGroupNormalization.matches(node) else { return nil }
        guard node.inputs.count == 3, !node.inputs.contains(""), node.outputs.count == 1 else {
            throw .init(reason: "expects inputs X, scale, bias and one output")
        }
        guard case .int(let groups)? = node.attributes["num_groups"], groups > 0 else {
            throw .init(reason: "needs a positive integer attribute num_groups")
        }
        var epsilon: Float = 1e-5
        switch node.attributes["epsilon"] {
        case nil: break
        case .float(let value)?: epsilon = value
        default: throw .init(reason: "epsilon must be a float")
        }
        attributes = FusedGroupNormalization(groups: groups, epsilon: epsilon)
        if onnx {
            guard let opset = onnxOpset, opset >= 18 else {
                throw .init(reason: "GroupNormalization needs ONNX opset 18 or later")
            }
            perGroupAffine = opset < 21
            return
        }
        perGroupAffine = false
        switch node.attributes["channels_last"] {
        case nil, .int(0)?: break
        case .int(1)?: attributes.channelsLast = true
        default: throw .init(reason: "channels_last must be 0 or 1")
        }
        switch node.attributes["activation"]?.stringValue {
        case nil, ""?: break
        case "silu"?: attributes.silu = true
        case let other?: throw .init(reason: "activation '\(other)' is not one of \"\", \"silu\"")
        }
    }
}

/// Why a GroupNormalization node cannot be read.
struct GroupNormalizationNodeError: Error {
    let reason: String
}
