import OnyxCore

/// The ops that create a tensor from attributes and shapes: Constant, ConstantOfShape, Range, EyeLike.
func registerCreationKernels(into registry: inout KernelRegistry) {
    registry.register("Constant", since: 1) { node in
        let value = try constantValue(of: node)
        return ClosureKernel { _, _ in [.tensor(value)] }
    }
    registry.register("ConstantOfShape", since: 9) { node in
        let value = try node.tensor("value") ?? Tensor(shape: [1], elements: [Float(0)])
        guard value.count == 1 else {
            throw KernelError.invalidAttribute("value", "expected one element, got shape \(value.shape)")
        }
        return ConstantOfShapeKernel(value: value)
    }
    // Range's opset-27 `stash_type` picks the precision half-type ranges are computed in (float or double);
    // Onyx always computes in Double, so one kernel serves every version.
    registry.register("Range", since: 11) { _ in RangeKernel() }
    registry.register("EyeLike", since: 9) { node in
        let dataType = try node.int("dtype").map { code -> DataType in
            guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)), type != .string else {
                throw KernelError.invalidAttribute("dtype", "\(code) is not a numeric ONNX data type")
            }
            return type
        }
        return EyeLikeKernel(dataType: dataType, diagonal: try node.int("k", default: 0))
    }
}

/// The one value a Constant node sets: `value`, `sparse_value` or one of the `value_*` attributes.
private func constantValue(of node: KernelNode) throws -> Tensor {
    let names = [
        "value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string",
        "value_strings",
    ]
    let given = names.filter { node.attributes[$0] != nil }
    guard given.count == 1, let name = given.first else {
        throw KernelError.invalidAttribute("value", "Constant needs exactly one value attribute, got \(given)")
    }
    switch name {
    case "value_float": return Tensor(scalar: try node.float(name, default: 0))
    case "value_floats":
        let values = try node.floats(name) ?? []
        return Tensor(shape: [values.count], elements: values)
    case "value_int": return Tensor(scalar: Int64(try node.int(name, default: 0)))
    case "value_ints":
        let values = (try node.ints(name) ?? []).map { Int64($0) }
        return Tensor(shape: [values.count], elements: values)
    case "value_string": return Tensor(scalar: try node.string(name, default: ""))
    case "value_strings":
        let values = try node.strings(name) ?? []
        return Tensor(shape: [values.count], elements: values)
    default:
        guard let tensor = try node.tensor(name) else { throw KernelError.invalidAttribute(name, "expected a tensor") }
        return tensor
    }
}

/// ConstantOfShape: a tensor of the shape given by input 0 filled with the `value` attribute's element.
struct ConstantOfShapeKernel: Kernel {
    let value: Tensor

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let shape = try MovementShape.ints(try inputs.tensor(0), name: "shape")
        _ = try MovementShape.elementCount(shape)
        return [.tensor(try assembleTensor(value.dataType, shape: shape, background: .element(value), copies: []))]
    }
}

/// Range: `start + i·delta` for `i` in `0..<max(ceil((limit - start) / delta), 0)`.
struct RangeKernel: Kernel {
    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (start, limit, delta) = (try inputs.tensor(0), try inputs.tensor(1), try inputs.tensor(2))
        for (name, tensor) in [("start", start), ("limit", limit), ("delta", delta)] {
            guard tensor.count == 1, tensor.dataType == start.dataType else {
                throw KernelError.invalidInput(
                    "\(name) must be one \(start.dataType) value, got \(tensor.dataType) \(tensor.shape)")
            }
        }
        switch start.dataType {
        case .int64: return [.tensor(try Self.integerRange(Int64.self, start, limit, delta))]
        case .int32: return [.tensor(try Self.integerRange(Int32.self, start, limit, delta))]
        case .int16: return [.tensor(try Self.integerRange(Int16.self, start, limit, delta))]
        case .float, .double, .float16, .bfloat16:
            return [.tensor(try start.dataType.visitNumeric(FloatingRange(start: start, limit: limit, delta: delta)))]
        default: throw KernelError.invalidInput("Range does not take \(start.dataType)")
        }
    }

    /// Exact integer arithmetic: no rounding, and no overflow since every element lies between start and limit.
    private static func integerRange<T: NumericElement & FixedWidthInteger>(
        _: T.Type, _ start: Tensor, _ limit: Tensor, _ delta: Tensor
    ) throws -> Tensor {
        let first = Int64(start.elements(as: T.self)[0])
        let (span, overflow) = Int64(limit.elements(as: T.self)[0]).subtractingReportingOverflow(first)
        let step = Int64(delta.elements(as: T.self)[0])
        guard step != 0 else { throw KernelError.invalidInput("Range delta must not be 0") }
        guard !overflow else { throw KernelError.invalidInput("Range from \(first) is too long") }
        let count = span == 0 || (span < 0) != (step < 0) ? 0 : Int((span.magnitude - 1) / step.magnitude + 1)
        _ = try MovementShape.elementCount([count], of: "Range output")
        return Tensor(shape: [count], elements: (0..<count).map { T(truncatingIfNeeded: first + Int64($0) * step) })
    }
}

private struct FloatingRange: NumericVisitor {
    let start: Tensor
    let limit: Tensor
    let delta: Tensor

    func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
        let first = start.elements(as: T.self)[0].doubleValue
        let step = delta.elements(as: T.self)[0].doubleValue
        let steps = ((limit.elements(as: T.self)[0].doubleValue - first) / step).rounded(.up)
        guard step != 0, steps.isFinite else {
            throw KernelError.invalidInput("Range from \(first) by \(step) has no finite length")
        }
        let count = steps > 0 ? Int(exactly: steps) ?? Int.max : 0
        _ = try MovementShape.elementCount([count], of: "Range output")
        return Tensor(shape: [count], elements: (0..<count).map { T(converting: first + Double($0) * step) })
    }
}

/// EyeLike: a 2-D tensor shaped like the input, ones on diagonal `k` and zeros elsewhere.
struct EyeLikeKernel: Kernel {
    /// The `dtype` attribute; the input's type when unset.
    let dataType: DataType?
    let diagonal: Int

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard input.rank == 2 else {
            throw KernelError.invalidInput("EyeLike expects a 2-D input, got shape \(input.shape)")
        }
        let (rows, columns) = (input.shape[0], input.shape[1])
        let type = dataType ?? input.dataType
        // Clamping first keeps `rows + k` from overflowing for absurd k.
        let k = min(max(diagonal, -rows), columns)
        let length = max(0, k >= 0 ? min(rows, columns - k) : min(rows + k, columns))
        let diagonalCopy = StridedRegion(
            extents: [length], sourceStrides: [0], destinationStrides: [columns + 1],
            destinationOffset: k >= 0 ? k : -k * columns)
        let output = try assembleTensor(
            type, shape: input.shape, background: .zero, sources: [try Tensor(converting: [1], to: type, shape: [])],
            copies: [RegionCopy(source: .input(0), region: diagonalCopy)])
        return [.tensor(output)]
    }
}
