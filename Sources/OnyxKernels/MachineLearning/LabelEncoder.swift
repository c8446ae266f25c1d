import OnyxCore

/// LabelEncoder (ai.onnx.ml): maps each input element through a key → value table, elements without a key to
/// the default; the output has the input's shape and the values' type.
///
/// From version 2 the table is `keys_*` / `values_*` (lists, or from version 4 tensors) with a `default_*`
/// of the values' type. Version 1 has only `classes_strings`: strings map to their index (default
/// `default_int64`) and int64 indices map back to their string (default `default_string`).
struct LabelEncoderKernel: Kernel {
    /// The tables the node can apply, at most one per key type; the input's type picks one.
    private let tables: [LabelTable]

    /// Version 2 and later.
    init(_ node: KernelNode) throws {
        let keys = try Self.list(node, kind: "keys")
        let values = try Self.list(node, kind: "values")
        guard keys.count == values.count else {
            throw KernelError.invalidAttribute(
                "keys_*", "keys and values must pair up, got \(keys.count) keys and \(values.count) values")
        }
        tables = [try LabelTable(keys: keys, values: values, default: try Self.defaultValue(node, for: values))]
    }

    /// Version 1.
    init(classesOf node: KernelNode) throws {
        let classes = try node.strings("classes_strings") ?? []
        let indices = (0..<Int64(classes.count)).map { $0 }
        let strings = Tensor(shape: [classes.count], elements: classes)
        let numbers = Tensor(shape: [classes.count], elements: indices)
        tables = [
            try LabelTable(
                keys: strings, values: numbers,
                default: Tensor(scalar: Int64(try node.int("default_int64", default: -1)))),
            try LabelTable(
                keys: numbers, values: strings,
                default: Tensor(scalar: try node.string("default_string", default: "_Unused"))),
        ]
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard let table = tables.first(where: { $0.keyType == input.dataType }) else {
            let accepted = tables.map(\.keyType.description).joined(separator: " or ")
            throw KernelError.invalidInput(
                "LabelEncoder input must be \(accepted) like its keys, got \(input.dataType)")
        }
        return [.tensor(try table.map(input))]
    }

    /// The one `keys_*` or `values_*` attribute the node sets, as a 1-D tensor.
    private static func list(_ node: KernelNode, kind: String) throws -> Tensor {
        var found = [Tensor]()
        if let floats = try node.floats("\(kind)_floats") {
            found.append(Tensor(shape: [floats.count], elements: floats))
        }
        if let ints = try node.ints("\(kind)_int64s") {
            found.append(Tensor(shape: [ints.count], elements: ints.map { Int64($0) }))
        }
        if let strings = try node.strings("\(kind)_strings") {
            found.append(Tensor(shape: [strings.count], elements: strings))
        }
        if let tensor = try node.tensor("\(kind)_tensor") { found.append(tensor.reshaped([tensor.count])) }
        guard found.count == 1 else {
            throw KernelError.invalidAttribute("\(kind)_*", "exactly one of the \(kind) attributes must be set")
        }
        return found[0]
    }

    /// The default for `values`' type: `default_tensor` when the values are a tensor, else `default_float`,
    /// `default_int64` or `default_string`.
    private static func defaultValue(_ node: KernelNode, for values: Tensor) throws -> Tensor {
        if node.attributes["values_tensor"] != nil {
            guard let given = try node.tensor("default_tensor") else {
                // The spec's defaults for a values tensor: "_Unused", -1 or -0.0 by type.
                switch values.dataType {
                case .string: return Tensor(scalar: "_Unused")
                case .float, .double: return try Tensor(converting: [-0.0], to: values.dataType, shape: [])
                default: return try Tensor(converting: [-1], to: values.dataType, shape: [])
                }
            }
            guard given.dataType == values.dataType, given.count == 1 else {
                throw KernelError.invalidAttribute(
                    "default_tensor",
                    "must be one \(values.dataType) like values_tensor, got \(given.dataType) \(given.shape)")
            }
            return given
        }
        switch values.dataType {
        case .float: return Tensor(scalar: try node.float("default_float", default: -0.0))
        case .int64: return Tensor(scalar: Int64(try node.int("default_int64", default: -1)))
        default: return Tensor(scalar: try node.string("default_string", default: "_Unused"))
        }
    }
}

/// A key → value table; keys match as ``ElementKey``s do (by value, every NaN alike).
private struct LabelTable: Sendable {
    let keyType: DataType
    /// Position of each key's value in `values`; a repeated key keeps its last position.
    private let positions: [ElementKey: Int]
    /// The values, then the default at position `values.count - 1`.
    private let values: Tensor

    init(keys: Tensor, values: Tensor, default fallback: Tensor) throws {
        let supported: [DataType] = [.string, .int64, .int32, .int16, .float, .double]
        guard supported.contains(keys.dataType), supported.contains(values.dataType) else {
            throw KernelError.invalidAttribute(
                "keys_*", "keys and values must be string, int64, int32, int16, float or double, "
                    + "got \(keys.dataType) and \(values.dataType)")
        }
        keyType = keys.dataType
        var positions = [ElementKey: Int]()
        for (position, key) in try ElementKey.keys(of: keys).enumerated() { positions[key] = position }
        self.positions = positions
        self.values = Self.appending(fallback, to: values)
    }

    func map(_ input: Tensor) throws -> Tensor {
        let fallback = values.count - 1
        let offsets = try ElementKey.keys(of: input).map { positions[$0] ?? fallback }
        return try takeSlices(of: values, at: offsets, length: 1, shape: input.shape)
    }

    /// `values` followed by the single element of `last`, which has the same type.
    private static func appending(_ last: Tensor, to values: Tensor) -> Tensor {
        func join<T: TensorElement>(_: T.Type) -> Tensor {
            Tensor(shape: [values.count + 1], elements: values.elements(as: T.self) + last.elements(as: T.self))
        }
        return join(values.dataType.elementType)
    }
}
