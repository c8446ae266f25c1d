import OnyxCore
import OnyxFormat

// What Loop and Scan share: reading their body graph's signature, and stacking the per-iteration values of a
// scan output along a new axis.

/// The parts of a control-flow body's signature the kernels check and use.
struct BodySignature {
    let inputCount: Int
    let outputTypes: [ValueType?]

    /// Reads the node's required `body` graph attribute.
    init(_ node: KernelNode) throws {
        guard let body = try node.graph("body") else {
            throw KernelError.invalidAttribute("body", "the attribute is required")
        }
        inputCount = body.inputs.count
        outputTypes = body.outputs.map(\.type)
    }
}

/// Stacks the values a scan output took in each iteration along a new axis at `axis` (in `0...rank`, or
/// negative counting from the back of the stacked rank). When no iteration ran, the result is an empty tensor
/// of the body output's declared type (extents it does not declare count as 0).
func stackIterations(_ values: [Tensor], axis: Int, declared: ValueType?) throws -> Tensor {
    guard let first = values.first else {
        guard case .tensor(let type, let dimensions)? = declared else {
            throw KernelError.unsupported("no iteration ran, and the body does not declare its scan output's type")
        }
        var shape = (dimensions ?? []).map { dimension -> Int in
            if case .value(let extent) = dimension { return extent }
            return 0
        }
        let position = try AxisPieces.normalized(axis, rank: shape.count + 1, name: "scan output axis")
        shape.insert(0, at: position)
        return Tensor(zeros: type, shape: shape)
    }
    let position = try AxisPieces.normalized(axis, rank: first.rank + 1, name: "scan output axis")
    return try AxisPieces.stack(values, axis: position)
}

/// The single boolean a condition tensor holds.
func conditionValue(_ value: Value?, name: String) throws -> Bool {
    guard let tensor = value?.tensor, tensor.dataType == .bool, tensor.count == 1 else {
        throw KernelError.invalidInput("\(name) must be a single bool, got \(value.map { "\($0)" } ?? "nothing")")
    }
    return tensor.elements(as: Bool.self)[0]
}
