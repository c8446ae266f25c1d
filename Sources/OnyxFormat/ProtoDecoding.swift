import CONNX
import Foundation
import OnyxCore

// Converts protobuf-c's C tree into the Swift values of ModelTypes.swift. Every function here reads C memory
// that the caller frees right after; nothing returned points into it. protobuf-c leaves absent strings and
// sub-messages NULL, and its booleans are Int32.

/// Decodes ONNX protobuf messages from bytes into Swift values.
public enum ProtoDecoder {
    /// Decodes a `ModelProto`. `modelDirectory` resolves external-data locations (nil refuses external data);
    /// `source` names the bytes in error messages.
    public static func model(from bytes: [UInt8], modelDirectory: URL?, source: String) throws -> ModelProto {
        let message = bytes.withUnsafeBufferPointer { buffer in
            onnx__model_proto__unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let message else { throw FormatError.corruptMessage(what: "ONNX model", source: source) }
        defer { onnx__model_proto__free_unpacked(message, nil) }
        let converter = Converter(modelDirectory: modelDirectory)
        return try converter.model(message.pointee)
    }

    /// Decodes a `TensorProto`.
    public static func tensor(from bytes: [UInt8], source: String) throws -> NamedTensor {
        let message = bytes.withUnsafeBufferPointer { onnx__tensor_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { throw FormatError.corruptMessage(what: "TensorProto", source: source) }
        defer { onnx__tensor_proto__free_unpacked(message, nil) }
        return try Converter(modelDirectory: nil).namedTensor(message.pointee)
    }

    /// Decodes a `SequenceProto` into a sequence value; returns its name too.
    public static func sequence(from bytes: [UInt8], source: String) throws -> (name: String, value: Value) {
        let message = bytes.withUnsafeBufferPointer { onnx__sequence_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { throw FormatError.corruptMessage(what: "SequenceProto", source: source) }
        defer { onnx__sequence_proto__free_unpacked(message, nil) }
        let converter = Converter(modelDirectory: nil)
        return (string(message.pointee.name), try converter.sequence(message.pointee))
    }

    /// Decodes an `OptionalProto` into an optional value; returns its name too.
    public static func optional(from bytes: [UInt8], source: String) throws -> (name: String, value: Value) {
        let message = bytes.withUnsafeBufferPointer { onnx__optional_proto__unpack(nil, $0.count, $0.baseAddress) }
        guard let message else { throw FormatError.corruptMessage(what: "OptionalProto", source: source) }
        defer { onnx__optional_proto__free_unpacked(message, nil) }
        let converter = Converter(modelDirectory: nil)
        return (string(message.pointee.name), try converter.optional(message.pointee))
    }
}

func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

private func array<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

private func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard let pointer = data.data, data.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: data.len))
}

/// Dereferences a C array of message pointers, skipping NULL entries.
private func messages<T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [T] {
    array(pointer, count).compactMap { $0?.pointee }
}

private struct Converter {
    let modelDirectory: URL?

    func model(_ proto: Onnx__ModelProto) throws -> ModelProto {
        guard let graph = proto.graph else {
            throw FormatError.corruptMessage(what: "ONNX model (it has no graph)", source: "model")
        }
        var metadata: [String: String] = [:]
        for entry in messages(proto.metadata_props, proto.n_metadata_props) {
            metadata[string(entry.key)] = string(entry.value)
        }
        return ModelProto(
            irVersion: Int(proto.ir_version),
            opsetImports: opsets(proto.opset_import, proto.n_opset_import),
            producerName: string(proto.producer_name),
            producerVersion: string(proto.producer_version),
            domain: string(proto.domain),
            modelVersion: Int(proto.model_version),
            docString: string(proto.doc_string),
            graph: try self.graph(graph.pointee),
            functions: try messages(proto.functions, proto.n_functions).map(function),
            metadata: metadata)
    }

    private func opsets(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__OperatorSetIdProto>?>?, _ count: Int) -> [OpsetImport] {
        messages(pointer, count).map { OpsetImport(domain: normalizedDomain(string($0.domain)), version: Int($0.version)) }
    }

    func graph(_ proto: Onnx__GraphProto) throws -> GraphProto {
        var initializers = try messages(proto.initializer, proto.n_initializer).map(namedTensor)
        initializers += try messages(proto.sparse_initializer, proto.n_sparse_initializer).map(sparseTensor)
        return GraphProto(
            name: string(proto.name),
            nodes: try messages(proto.node, proto.n_node).map(node),
            initializers: initializers,
            inputs: try messages(proto.input, proto.n_input).map(valueInfo),
            outputs: try messages(proto.output, proto.n_output).map(valueInfo),
            valueInfo: try messages(proto.value_info, proto.n_value_info).map(valueInfo))
    }

    private func node(_ proto: Onnx__NodeProto) throws -> NodeProto {
        NodeProto(
            name: string(proto.name),
            opType: string(proto.op_type),
            domain: normalizedDomain(string(proto.domain)),
            inputs: array(proto.input, proto.n_input).map(string),
            outputs: array(proto.output, proto.n_output).map(string),
            attributes: try messages(proto.attribute, proto.n_attribute).map(attribute))
    }

    private func function(_ proto: Onnx__FunctionProto) throws -> FunctionProto {
        var attributes = array(proto.attribute, proto.n_attribute).map { Attribute(name: string($0), value: .undefined) }
        attributes += try messages(proto.attribute_proto, proto.n_attribute_proto).map(attribute)
        return FunctionProto(
            name: string(proto.name),
            domain: normalizedDomain(string(proto.domain)),
            overload: string(proto.overload),
            inputs: array(proto.input, proto.n_input).map(string),
            outputs: array(proto.output, proto.n_output).map(string),
            attributes: attributes,
            nodes: try messages(proto.node, proto.n_node).map(node),
            opsetImports: opsets(proto.opset_import, proto.n_opset_import))
    }

    private func attribute(_ proto: Onnx__AttributeProto) throws -> Attribute {
        let name = string(proto.name)
        let reference = proto.ref_attr_name.map { String(cString: $0) }
        let value: AttributeValue
        switch proto.type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: value = .float(proto.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: value = .int(Int(proto.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: value = .string(bytes(proto.s))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let tensor = proto.t else { throw missing("tensor", name) }
            value = .tensor(try namedTensor(tensor.pointee).tensor)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
            guard let graph = proto.g else { throw missing("graph", name) }
            value = .graph(try self.graph(graph.pointee))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
            guard let sparse = proto.sparse_tensor else { throw missing("sparse tensor", name) }
            value = .sparseTensor(try sparseTensor(sparse.pointee).tensor)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
            guard let type = proto.tp, let decoded = try valueType(type.pointee) else { throw missing("type", name) }
            value = .type(decoded)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: value = .floats(array(proto.floats, proto.n_floats))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: value = .ints(array(proto.ints, proto.n_ints).map { Int($0) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: value = .strings(array(proto.strings, proto.n_strings).map(bytes))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
            value = .tensors(try messages(proto.tensors, proto.n_tensors).map { try namedTensor($0).tensor })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
            value = .graphs(try messages(proto.graphs, proto.n_graphs).map(graph))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
            value = .sparseTensors(try messages(proto.sparse_tensors, proto.n_sparse_tensors).map { try sparseTensor($0).tensor })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
            value = .types(try messages(proto.type_protos, proto.n_type_protos).compactMap(valueType))
        default:
            value = .undefined
        }
        return Attribute(name: name, value: value, referencedAttribute: reference)
    }

    private func missing(_ kind: String, _ attribute: String) -> FormatError {
        .corruptMessage(what: "\(kind) attribute '\(attribute)'", source: "model")
    }

    private func valueInfo(_ proto: Onnx__ValueInfoProto) throws -> ValueInfo {
        ValueInfo(name: string(proto.name), type: try proto.type.flatMap { try valueType($0.pointee) })
    }

    func valueType(_ proto: Onnx__TypeProto) throws -> ValueType? {
        switch proto.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let tensor = proto.tensor_type?.pointee else { return nil }
            return .tensor(try dataType(tensor.elem_type, name: "type"), shape: tensor.shape.map { shape($0.pointee) })
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
            guard let tensor = proto.sparse_tensor_type?.pointee else { return nil }
            return .sparseTensor(try dataType(tensor.elem_type, name: "type"), shape: tensor.shape.map { shape($0.pointee) })
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
            guard let element = proto.sequence_type?.pointee.elem_type, let type = try valueType(element.pointee) else { return nil }
            return .sequence(type)
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
            guard let element = proto.optional_type?.pointee.elem_type, let type = try valueType(element.pointee) else { return nil }
            return .optional(type)
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
            guard let map = proto.map_type?.pointee, let value = map.value_type, let type = try valueType(value.pointee) else { return nil }
            return .map(try dataType(map.key_type, name: "map key"), type)
        default:
            return nil
        }
    }

    private func shape(_ proto: Onnx__TensorShapeProto) -> [OnyxCore.Dimension] {
        messages(proto.dim, proto.n_dim).map { dimension in
            switch dimension.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: .value(Int(dimension.dim_value))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: .symbol(string(dimension.dim_param))
            default: .unknown
            }
        }
    }

    private func dataType(_ code: Int32, name: String) throws -> DataType {
        guard let type = DataType(rawValue: code) else { throw FormatError.unknownDataType(code, tensor: name) }
        return type
    }

    func namedTensor(_ proto: Onnx__TensorProto) throws -> NamedTensor {
        let name = string(proto.name)
        let type = try dataType(proto.data_type, name: name)
        let dims = array(proto.dims, proto.n_dims).map { Int($0) }
        let payload: TensorPayload
        if proto.has_data_location != 0 && proto.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            payload = .raw(try externalData(proto, name: name))
        } else if proto.has_raw_data != 0 {
            payload = .raw(bytes(proto.raw_data))
        } else if proto.n_float_data > 0 {
            payload = .float(array(proto.float_data, proto.n_float_data))
        } else if proto.n_double_data > 0 {
            payload = .double(array(proto.double_data, proto.n_double_data))
        } else if proto.n_int64_data > 0 {
            payload = .int64(array(proto.int64_data, proto.n_int64_data))
        } else if proto.n_uint64_data > 0 {
            payload = .uint64(array(proto.uint64_data, proto.n_uint64_data))
        } else if proto.n_string_data > 0 || type == .string {
            payload = .strings(array(proto.string_data, proto.n_string_data).map(bytes))
        } else if proto.n_int32_data > 0 {
            payload = .int32(array(proto.int32_data, proto.n_int32_data))
        } else {
            payload = .raw([])
        }
        return NamedTensor(name: name, tensor: try Tensor.decoded(name: name, dataType: type, dims: dims, payload: payload))
    }

    /// A sparse tensor densified: `values` scattered at `indices` (flat [NNZ] or coordinate [NNZ, rank]) into zeros.
    private func sparseTensor(_ proto: Onnx__SparseTensorProto) throws -> NamedTensor {
        guard let valuesProto = proto.values else { throw FormatError.corruptMessage(what: "sparse tensor without values", source: "model") }
        let values = try namedTensor(valuesProto.pointee)
        let dims = array(proto.dims, proto.n_dims).map { Int($0) }
        guard let count = checkedElementCount(dims) else { throw FormatError.invalidShape(tensor: values.name, dims: dims) }
        let indices = try proto.indices.map { try namedTensor($0.pointee).tensor.intValues() ?? [] } ?? []
        let valueCount = values.tensor.count
        let flat: [Int]
        if indices.count == valueCount {
            flat = indices
        } else if indices.count == valueCount * dims.count {
            flat = (0..<valueCount).map { entry in
                (0..<dims.count).reduce(0) { $0 * dims[$1] + indices[entry * dims.count + $1] }
            }
        } else {
            throw FormatError.dataSizeMismatch(tensor: values.name, expected: valueCount, got: indices.count)
        }
        guard flat.allSatisfy({ (0..<count).contains($0) }) else {
            throw FormatError.invalidShape(tensor: values.name, dims: dims)
        }
        func scatter<T: TensorElement>(_: T.Type) -> Tensor {
            var dense = [T](repeating: T.zero, count: count)
            for (position, value) in zip(flat, values.tensor.elements(as: T.self)) { dense[position] = value }
            return Tensor(shape: dims, elements: dense)
        }
        return NamedTensor(name: values.name, tensor: scatter(values.tensor.dataType.elementType))
    }

    private func externalData(_ proto: Onnx__TensorProto, name: String) throws -> [UInt8] {
        var location = ""
        var offset = 0
        var length: Int?
        for entry in messages(proto.external_data, proto.n_external_data) {
            let value = string(entry.value)
            switch string(entry.key) {
            case "location": location = value
            case "offset": offset = Int(value) ?? -1
            case "length": length = Int(value) ?? -1
            default: break
            }
        }
        guard let directory = modelDirectory else {
            throw FormatError.externalDataUnreadable(tensor: name, reason: "no model folder to resolve '\(location)' against")
        }
        let file = try ExternalData.confinedURL(location, in: directory, tensor: name)
        return try ExternalData.read(file, offset: offset, length: length, tensor: name)
    }

    func sequence(_ proto: Onnx__SequenceProto) throws -> Value {
        var values: [Value] = try messages(proto.tensor_values, proto.n_tensor_values).map { .tensor(try namedTensor($0).tensor) }
        values += try messages(proto.sparse_tensor_values, proto.n_sparse_tensor_values).map { .tensor(try sparseTensor($0).tensor) }
        values += try messages(proto.sequence_values, proto.n_sequence_values).map(sequence)
        values += try messages(proto.optional_values, proto.n_optional_values).map(optional)
        let elementType: ValueType? = values.first.flatMap(Self.type(of:))
        return .sequence(values, elementType: elementType)
    }

    func optional(_ proto: Onnx__OptionalProto) throws -> Value {
        if let tensor = proto.tensor_value { return .optional(.tensor(try namedTensor(tensor.pointee).tensor), type: nil) }
        if let sparse = proto.sparse_tensor_value { return .optional(.tensor(try sparseTensor(sparse.pointee).tensor), type: nil) }
        if let sequence = proto.sequence_value { return .optional(try self.sequence(sequence.pointee), type: nil) }
        if let optional = proto.optional_value { return .optional(try self.optional(optional.pointee), type: nil) }
        return .optional(nil, type: nil)
    }

    private static func type(of value: Value) -> ValueType? {
        switch value {
        case .tensor(let tensor): .tensor(tensor.dataType, shape: nil)
        case .sequence(_, let element): element.map { .sequence($0) }
        case .optional(_, let type): type.map { .optional($0) }
        }
    }
}

/// "" and "ai.onnx" name the same default domain; Onyx uses "".
func normalizedDomain(_ domain: String) -> String {
    domain == "ai.onnx" ? "" : domain
}
