import CONNX
import OnyxCore

// Builds protobuf-c message structs from Swift values and packs them. Every C allocation comes from one
// arena that is freed when the encoding is done, so no pointer outlives `ProtoEncoder`'s calls.

/// Serialises tensors, sequences and optionals as ONNX `TensorProto`, `SequenceProto` and `OptionalProto`.
public enum ProtoEncoder {
    /// A `TensorProto` (raw_data, or string_data for strings) named `name`.
    public static func tensor(_ tensor: Tensor, name: String) -> [UInt8] {
        let arena = Arena()
        let message = arena.tensorProto(tensor, name: name)
        let size = onnx__tensor_proto__get_packed_size(message)
        var output = [UInt8](repeating: 0, count: size)
        output.withUnsafeMutableBufferPointer { _ = onnx__tensor_proto__pack(message, $0.baseAddress) }
        return output
    }

    /// The value in the message its kind calls for: TensorProto, SequenceProto or OptionalProto.
    public static func value(_ value: Value, name: String) throws -> [UInt8] {
        let arena = Arena()
        switch value {
        case .tensor(let tensor):
            return self.tensor(tensor, name: name)
        case .sequence:
            let message = try arena.sequenceProto(value, name: name)
            var output = [UInt8](repeating: 0, count: onnx__sequence_proto__get_packed_size(message))
            output.withUnsafeMutableBufferPointer { _ = onnx__sequence_proto__pack(message, $0.baseAddress) }
            return output
        case .optional:
            let message = try arena.optionalProto(value, name: name)
            var output = [UInt8](repeating: 0, count: onnx__optional_proto__get_packed_size(message))
            output.withUnsafeMutableBufferPointer { _ = onnx__optional_proto__pack(message, $0.baseAddress) }
            return output
        }
    }
}

/// Owns every C allocation of one encoding and frees them together.
private final class Arena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for allocation in allocations { allocation.deallocate() }
    }

    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(1, count))
        allocations.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    func copy<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self, count: values.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: values.count).initialize(from: values)
        return pointer
    }

    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        copy(Array(string.utf8CString))
    }

    func bytes(_ values: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: values.count, data: copy(values))
    }

    func tensorProto(_ tensor: Tensor, name: String) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let message = allocate(Onnx__TensorProto.self)
        onnx__tensor_proto__init(message)
        message.pointee.name = cString(name)
        message.pointee.has_data_type = 1
        message.pointee.data_type = tensor.dataType.rawValue
        message.pointee.n_dims = tensor.rank
        message.pointee.dims = copy(tensor.shape.map { Int64($0) })
        if tensor.dataType == .string {
            let strings = tensor.elements(as: String.self)
            message.pointee.n_string_data = strings.count
            message.pointee.string_data = copy(strings.map { bytes(Array($0.utf8)) })
        } else {
            message.pointee.has_raw_data = 1
            message.pointee.raw_data = bytes(tensor.rawDataForProto() ?? [])
        }
        return message
    }

    /// SequenceProto elem_type codes (onnx-data.proto).
    private enum ElementKind: Int32 {
        case tensor = 1, sequence = 3, optional = 5
    }

    private func kind(of value: Value) -> ElementKind {
        switch value {
        case .tensor: .tensor
        case .sequence: .sequence
        case .optional: .optional
        }
    }

    func sequenceProto(_ value: Value, name: String) throws -> UnsafeMutablePointer<Onnx__SequenceProto> {
        guard case .sequence(let elements, let elementType) = value else {
            throw FormatError.unsupportedEncoding("value '\(name)' is not a sequence")
        }
        let message = allocate(Onnx__SequenceProto.self)
        onnx__sequence_proto__init(message)
        message.pointee.name = cString(name)
        let kind: ElementKind = elements.first.map(kind(of:)) ?? {
            switch elementType {
            case .sequence?: .sequence
            case .optional?: .optional
            default: .tensor
            }
        }()
        message.pointee.has_elem_type = 1
        message.pointee.elem_type = kind.rawValue
        switch kind {
        case .tensor:
            let tensors = try elements.map { element -> UnsafeMutablePointer<Onnx__TensorProto>? in
                guard let tensor = element.tensor else { throw FormatError.unsupportedEncoding("sequence '\(name)' mixes element kinds") }
                return tensorProto(tensor, name: "")
            }
            message.pointee.n_tensor_values = tensors.count
            message.pointee.tensor_values = copy(tensors)
        case .sequence:
            let sequences = try elements.map { Optional(try sequenceProto($0, name: "")) }
            message.pointee.n_sequence_values = sequences.count
            message.pointee.sequence_values = copy(sequences)
        case .optional:
            let optionals = try elements.map { Optional(try optionalProto($0, name: "")) }
            message.pointee.n_optional_values = optionals.count
            message.pointee.optional_values = copy(optionals)
        }
        return message
    }

    func optionalProto(_ value: Value, name: String) throws -> UnsafeMutablePointer<Onnx__OptionalProto> {
        guard case .optional(let contained, let type) = value else {
            throw FormatError.unsupportedEncoding("value '\(name)' is not an optional")
        }
        let message = allocate(Onnx__OptionalProto.self)
        onnx__optional_proto__init(message)
        message.pointee.name = cString(name)
        message.pointee.has_elem_type = 1
        switch contained {
        case .tensor(let tensor)?:
            message.pointee.elem_type = ElementKind.tensor.rawValue
            message.pointee.tensor_value = tensorProto(tensor, name: "")
        case .sequence?:
            message.pointee.elem_type = ElementKind.sequence.rawValue
            message.pointee.sequence_value = try sequenceProto(contained!, name: "")
        case .optional?:
            message.pointee.elem_type = ElementKind.optional.rawValue
            message.pointee.optional_value = try optionalProto(contained!, name: "")
        case nil:
            if case .sequence? = type { message.pointee.elem_type = ElementKind.sequence.rawValue } else {
                message.pointee.elem_type = ElementKind.tensor.rawValue
            }
        }
        return message
    }
}
