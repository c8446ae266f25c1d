import OnyxCore
import OnyxFormat
import OnyxGraph
import OnyxKernels

/// A node Onyx has no kernel for.
public struct UnsupportedNode: Sendable, Equatable, CustomStringConvertible {
    public let node: String
    public let opType: String
    public let domain: String
    public let opsetVersion: Int?

    public var description: String {
        let domainName = domain.isEmpty ? "ai.onnx" : domain
        let opset = opsetVersion.map { "opset \($0)" } ?? "no opset import"
        return "\(opType) (domain \(domainName), \(opset), node '\(node)')"
    }
}

/// Why a session could not be created or run. The description is one line a user can act on.
public enum RuntimeError: Error, Sendable, CustomStringConvertible {
    /// Nodes without a kernel, all of them at once.
    case unsupportedOperators([UnsupportedNode])
    /// A kernel refused its node's attributes at plan time, or its inputs at run time.
    case kernelFailed(node: String, opType: String, domain: String, reason: String)
    /// The caller named an input the model does not have.
    case unknownInput(String, expected: [String])
    /// The caller did not supply a required input.
    case missingInput(String, expected: ValueType?)
    /// An input's element type differs from the declared one.
    case inputTypeMismatch(String, expected: String, given: String)
    /// An input's shape contradicts the declared one.
    case inputShapeMismatch(String, expected: String, given: [Int])
    /// ``Session/run(_:)`` returns tensors only, and this output is a sequence or an optional.
    case nonTensorOutput(String, given: String)

    public var description: String {
        switch self {
        case .unsupportedOperators(let nodes):
            let list = nodes.map(\.description).joined(separator: "; ")
            return "no kernel for \(nodes.count) node\(nodes.count == 1 ? "" : "s"): \(list)"
        case .kernelFailed(let node, let opType, let domain, let reason):
            return "node '\(node)' (\(opType), domain \(domain.isEmpty ? "ai.onnx" : domain)): \(reason)"
        case .unknownInput(let name, let expected):
            return "the model has no input '\(name)'; its inputs are \(expected.map { "'\($0)'" }.joined(separator: ", "))"
        case .missingInput(let name, let type):
            return "missing input '\(name)'" + (type.map { " of type \($0)" } ?? "")
        case .inputTypeMismatch(let name, let expected, let given):
            return "input '\(name)': expected \(expected), given \(given)"
        case .inputShapeMismatch(let name, let expected, let given):
            return "input '\(name)': expected shape \(expected), given \(given)"
        case .nonTensorOutput(let name, let given):
            return "output '\(name)' is \(given), not a tensor; run the session with Value feeds to get it"
        }
    }
}
