import OnyxCore
import OnyxFormat

/// Replaces calls of model-local functions by their bodies, with values renamed apart and attribute
/// references resolved, so that the runtime needs no kernel for them.
struct FunctionInliner {
    let functions: [FunctionProto]
    let opsets: [String: Int]

    func inline(_ nodes: [Node]) throws -> [Node] {
        var counter = 0
        return try inline(nodes, depth: 0, counter: &counter)
    }

    private func function(for node: Node) -> FunctionProto? {
        functions.first { $0.name == node.opType && $0.domain == node.domain }
    }

    private func inline(_ nodes: [Node], depth: Int, counter: inout Int) throws -> [Node] {
        var result: [Node] = []
        for node in nodes {
            guard let function = function(for: node) else {
                result.append(node)
                continue
            }
            guard depth < 64 else { throw GraphError.recursiveFunction(function.name) }
            counter += 1
            let body = expand(function, at: node, prefix: "\(function.name)#\(counter)/")
            result += try inline(body, depth: depth + 1, counter: &counter)
        }
        return result
    }

    /// The function body with formal parameters bound to the call's values and every local value prefixed.
    private func expand(_ function: FunctionProto, at call: Node, prefix: String) -> [Node] {
        var rename: [String: String] = ["": ""]
        for (index, formal) in function.inputs.enumerated() {
            rename[formal] = index < call.inputs.count ? call.inputs[index] : ""
        }
        for (index, formal) in function.outputs.enumerated() where index < call.outputs.count {
            rename[formal] = call.outputs[index]
        }
        var defaults: [String: AttributeValue] = [:]
        for attribute in function.attributes { defaults[attribute.name] = attribute.value }
        return function.nodes.map { inner in
            var node = Node(
                name: prefix + (inner.name.isEmpty ? inner.opType : inner.name), opType: inner.opType, domain: inner.domain,
                inputs: inner.inputs.map { rename[$0] ?? prefix + $0 },
                outputs: inner.outputs.map { rename[$0] ?? prefix + $0 })
            for attribute in inner.attributes {
                if let reference = attribute.referencedAttribute {
                    // A reference the caller leaves unset takes the function's default, or is dropped.
                    if let value = call.attributes[reference] ?? defaults[reference], case .undefined = value {
                        continue
                    } else if let value = call.attributes[reference] ?? defaults[reference] {
                        node.attributes[attribute.name] = value
                    }
                } else {
                    node.attributes[attribute.name] = attribute.value
                }
            }
            return node
        }
    }
}
