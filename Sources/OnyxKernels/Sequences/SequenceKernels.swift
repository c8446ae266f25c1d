import OnyxCore
import OnyxFormat

// The tensor-sequence operators: building, editing and reading sequences, and SequenceMap, which runs its body
// once per element.

/// The operators with nothing to parse at plan time.
enum SequenceOps {
    /// SequenceConstruct: a sequence of the input tensors, which must share one element type.
    static func construct(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let tensors = try inputs.tensors(from: 0)
        guard let first = tensors.first else { throw KernelError.missingInput(0) }
        if let other = tensors.first(where: { $0.dataType != first.dataType }) {
            throw KernelError.invalidInput(
                "sequence elements must share one type: got \(first.dataType) and \(other.dataType)")
        }
        return [.sequence(tensors.map(Value.tensor), elementType: .tensor(first.dataType, shape: nil))]
    }

    /// SequenceInsert: the sequence with the tensor inserted at `position` (default: at the back).
    static func insert(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        var (elements, elementType) = try inputs.sequenceInput(0)
        let tensor = try inputs.tensor(1)
        if let expected = sequenceTensorType(elements, elementType), expected != tensor.dataType {
            throw KernelError.invalidInput("cannot insert a \(tensor.dataType) tensor into a sequence of \(expected)")
        }
        let position = try inputs.optionalTensor(2).map { try sequencePosition($0, count: elements.count, end: true) }
        elements.insert(.tensor(tensor), at: position ?? elements.count)
        return [.sequence(elements, elementType: elementType ?? .tensor(tensor.dataType, shape: nil))]
    }

    /// SequenceAt: the element at `position`.
    static func at(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (elements, _) = try inputs.sequenceInput(0)
        return [elements[try sequencePosition(try inputs.tensor(1), count: elements.count, end: false)]]
    }

    /// SequenceErase: the sequence without the element at `position` (default: the last one).
    static func erase(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        var (elements, elementType) = try inputs.sequenceInput(0)
        guard !elements.isEmpty else { throw KernelError.invalidInput("cannot erase from an empty sequence") }
        let position = try inputs.optionalTensor(1).map { try sequencePosition($0, count: elements.count, end: false) }
        elements.remove(at: position ?? elements.count - 1)
        return [.sequence(elements, elementType: elementType)]
    }

    /// SequenceLength: the element count as an int64 scalar.
    static func length(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        [.tensor(Tensor(scalar: Int64(try inputs.sequenceInput(0).elements.count)))]
    }
}

/// SequenceEmpty: an empty sequence of tensors of the `dtype` attribute.
struct SequenceEmptyKernel: Kernel {
    private let elementType: DataType

    init(_ node: KernelNode) throws {
        let code = try node.int("dtype", default: Int(DataType.float.rawValue))
        guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)) else {
            throw KernelError.invalidAttribute("dtype", "\(code) is not an ONNX data type")
        }
        elementType = type
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        [.sequence([], elementType: .tensor(elementType, shape: nil))]
    }
}

/// SequenceMap: runs `body` once per element of the first input sequence. Further sequence inputs are walked in
/// step with it; further tensor inputs are passed whole to every run. Output `k` collects the body's output `k`.
struct SequenceMapKernel: Kernel {
    private let outputCount: Int
    /// The body's declared output types: the element types of the output sequences when they come out empty.
    private let outputTypes: [ValueType?]

    init(_ node: KernelNode) throws {
        guard let body = try node.graph("body") else {
            throw KernelError.invalidAttribute("body", "the attribute is required")
        }
        guard body.outputs.count == node.outputCount else {
            throw KernelError.invalidAttribute(
                "body", "has \(body.outputs.count) outputs, the node \(node.outputCount)")
        }
        outputCount = node.outputCount
        outputTypes = body.outputs.map(\.type)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let (first, _) = try inputs.sequenceInput(0)
        let additional = try (1..<inputs.count).map { index in
            guard let value = inputs.value(index) else { throw KernelError.missingInput(index) }
            if case .sequence(let elements, _) = value, elements.count != first.count {
                throw KernelError.invalidInput(
                    "input \(index) has \(elements.count) elements, the first sequence \(first.count)")
            }
            return value
        }
        var outputs = [[Value]](repeating: [], count: outputCount)
        for position in first.indices {
            let bodyInputs =
                [first[position]]
                + additional.map { value in
                    if case .sequence(let elements, _) = value { return elements[position] }
                    return value
                }
            let results = try context.runSubgraph("body", inputs: bodyInputs)
            guard results.count == outputCount else {
                throw KernelError.invalidInput("body returned \(results.count) values, expected \(outputCount)")
            }
            for (index, result) in results.enumerated() { outputs[index].append(result) }
        }
        return outputs.enumerated().map { index, elements in
            .sequence(elements, elementType: outputTypes[index] ?? elements.first.flatMap(inferredValueType(of:)))
        }
    }
}

extension KernelInputs {
    /// The sequence input at `index` with its element type; an optional holding a sequence is unwrapped.
    func sequenceInput(_ index: Int) throws -> (elements: [Value], elementType: ValueType?) {
        switch value(index) {
        case nil: throw KernelError.missingInput(index)
        case .sequence(let elements, let elementType)?, .optional(.sequence(let elements, let elementType)?, _)?:
            return (elements, elementType)
        case let other?: throw KernelError.invalidInput("input \(index) must be a sequence, got \(other)")
        }
    }
}

/// The declared type a run-time value has (tensor shapes are left unknown: sequence elements may differ).
func inferredValueType(of value: Value) -> ValueType? {
    switch value {
    case .tensor(let tensor): return .tensor(tensor.dataType, shape: nil)
    case .sequence(let elements, let elementType):
        return (elementType ?? elements.first.flatMap(inferredValueType(of:))).map(ValueType.sequence)
    case .optional(let inner, let type):
        return (type ?? inner.flatMap(inferredValueType(of:))).map(ValueType.optional)
    }
}

/// The element type of a tensor sequence, from its declaration or else its first element.
private func sequenceTensorType(_ elements: [Value], _ elementType: ValueType?) -> DataType? {
    if case .tensor(let type, _)? = elementType { return type }
    return elements.first?.tensor?.dataType
}

/// Reads a scalar position and resolves negative values. Valid positions are `-count..<count`, or `-count...count`
/// when `end` allows the position one past the last element (insertion).
private func sequencePosition(_ tensor: Tensor, count: Int, end: Bool) throws -> Int {
    guard tensor.count == 1, tensor.dataType == .int64 || tensor.dataType == .int32,
        let position = tensor.intValues()?.first
    else {
        throw KernelError.invalidInput("position must be one int32 or int64 value, got \(tensor)")
    }
    let upper = end ? count : count - 1
    guard position >= -count, position <= upper else {
        throw KernelError.invalidInput("position \(position) is out of range [\(-count), \(upper)]")
    }
    return position < 0 ? position + count : position
}
