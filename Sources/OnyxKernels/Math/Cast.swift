import OnyxCore

/// Registers Cast and CastLike. One registration each: `saturate` (opset 19) and `round_mode` (opset 24) read as
/// their defaults on earlier nodes, and the types added over the versions are all accepted.
func registerCastKernels(into registry: inout KernelRegistry) {
    registry.register("Cast", since: 1) { node in
        let target = try castTarget(node)
        let options = try CastOptions(node)
        return ClosureKernel { inputs, _ in [.tensor(try castTensor(inputs.tensor(0), to: target, options: options))] }
    }
    registry.register("CastLike", since: 15) { node in
        let options = try CastOptions(node)
        return ClosureKernel { inputs, _ in
            [.tensor(try castTensor(inputs.tensor(0), to: inputs.tensor(1).dataType, options: options))]
        }
    }
}

extension CastOptions {
    /// The node's `saturate` and `round_mode` attributes (spec defaults 1 and "up").
    init(_ node: KernelNode) throws {
        self.init()
        saturate = try node.int("saturate", default: 1) != 0
        let mode = try node.string("round_mode", default: "up")
        guard let rounding = PowerOfTwoRounding(rawValue: mode) else {
            throw KernelError.invalidAttribute("round_mode", "expected \"up\", \"down\" or \"nearest\", got \"\(mode)\"")
        }
        self.rounding = rounding
    }
}

/// `tensor` converted to `target` as ONNX Cast does (numpy's astype in the reference):
/// - integers to integers keep the low bits; floats to integers truncate toward zero (2- and 4-bit targets wrap);
/// - anything to bool is "nonzero" (NaN included); bool to numbers is 0 or 1;
/// - float8 targets round to nearest even and honour `saturate`; float8e8m0 follows `rounding`;
/// - strings parse as numbers ("inf", "-INF", "NaN" included) and numbers print as numpy prints them.
func castTensor(_ tensor: Tensor, to target: DataType, options: CastOptions = CastOptions()) throws -> Tensor {
    if tensor.dataType == target { return tensor }
    for type in [tensor.dataType, target] where type == .complex64 || type == .complex128 {
        throw KernelError.unsupported("Cast from \(tensor.dataType) to \(target)")
    }
    if target == .string { return Tensor(shape: tensor.shape, elements: try numpyTexts(tensor)) }
    let column = tensor.dataType == .string
        ? try CastColumn(parsing: tensor.elements(as: String.self))
        : try tensor.dataType.visitLanes(ColumnReader(tensor: tensor))
    return try target.visitNumeric(ColumnWriter(column: column, shape: tensor.shape, options: options))
}

/// The data type a Cast node converts to: `to` is an int (a TensorProto.DataType) from opset 6, a type name such
/// as "FLOAT" in opset 1.
private func castTarget(_ node: KernelNode) throws -> DataType {
    if case .string? = node.attributes["to"] {
        let name = try node.string("to") ?? ""
        guard let type = DataType.allCases.first(where: { $0.description.uppercased() == name.uppercased() }) else {
            throw KernelError.invalidAttribute("to", "unknown type name \"\(name)\"")
        }
        return type
    }
    guard let code = try node.int("to") else { throw KernelError.invalidAttribute("to", "required, not set") }
    guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)) else {
        throw KernelError.invalidAttribute("to", "\(code) is not a supported data type")
    }
    return type
}

/// A tensor's values in their lane, which holds every source type exactly.
enum CastColumn {
    case real([Double])
    case signed([Int64])
    case unsigned([UInt64])
    case logical([Bool])

    /// Strings as numbers: integers when every string is one (so that int64 values stay exact), else floats.
    init(parsing texts: [String]) throws {
        if let integers = try? texts.map({ try parseInteger($0) }) {
            self = .signed(integers)
        } else {
            self = .real(try texts.map(parseReal))
        }
    }
}

/// A tensor's values widened to their lane.
private struct ColumnReader: LaneVisitor {
    let tensor: Tensor

    func visitReal<T: LaneElement>(_: T.Type) -> CastColumn where T.Lane == Double { .real(widened(T.self)) }
    func visitSigned<T: LaneElement>(_: T.Type) -> CastColumn where T.Lane == Int64 { .signed(widened(T.self)) }
    func visitUnsigned<T: LaneElement>(_: T.Type) -> CastColumn where T.Lane == UInt64 { .unsigned(widened(T.self)) }
    func visitLogical(_: Bool.Type) -> CastColumn { .logical(tensor.elements(as: Bool.self)) }

    private func widened<T: LaneElement>(_: T.Type) -> [T.Lane] { tensor.elements(as: T.self).map(\.lane) }
}

/// A column converted to the visited type.
private struct ColumnWriter: NumericVisitor {
    let column: CastColumn
    let shape: [Int]
    let options: CastOptions

    func visit<T: LaneElement>(_: T.Type) -> Tensor {
        let values: [T]
        switch column {
        case .real(let source): values = source.map { T(castingReal: $0, options: options) }
        case .signed(let source): values = source.map { T(castingSigned: $0, options: options) }
        case .unsigned(let source): values = source.map { T(castingUnsigned: $0, options: options) }
        case .logical(let source): values = source.map { T(castingLogical: $0, options: options) }
        }
        return Tensor(shape: shape, elements: values)
    }
}
