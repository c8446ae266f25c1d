import CONNX
import Foundation
import OnyxCore

/// Reading and writing the files users hand to `infer`: models, `.pb` values and `.npy` tensors.
public enum TensorFiles {
    /// The bytes of a file, with a one-line error when it cannot be read.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw FormatError.unreadableFile(path: path, reason: exists ? "permission denied or not a file" : "no such file")
        }
        return [UInt8](data)
    }

    /// Loads a `.onnx` model; external data is resolved inside the model's folder.
    public static func loadModel(_ path: String) throws -> ModelProto {
        let bytes = try readBytes(path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try ProtoDecoder.model(from: bytes, modelDirectory: directory, source: path)
    }

    /// Reads a value from `.npy` or `.pb`. For `.pb`, `expected` picks the message kind (a SequenceProto read
    /// as a TensorProto would decode to garbage); a plain tensor is assumed when the type is unknown.
    public static func readValue(_ path: String, expected: ValueType? = nil) throws -> Value {
        let bytes = try readBytes(path)
        if path.hasSuffix(".npy") { return .tensor(try Npy.decode(bytes, source: path)) }
        switch expected {
        case .sequence?: return try ProtoDecoder.sequence(from: bytes, source: path).value
        case .optional?: return try ProtoDecoder.optional(from: bytes, source: path).value
        default: return .tensor(try ProtoDecoder.tensor(from: bytes, source: path).tensor)
        }
    }

    /// Writes a tensor as `.npy`.
    public static func writeNpy(_ tensor: Tensor, to path: String) throws {
        try write(try Npy.encode(tensor), to: path)
    }

    /// Writes a tensor as a `TensorProto` `.pb` named `name`.
    public static func writeTensorProto(_ tensor: Tensor, name: String, to path: String) throws {
        try write(try encodeTensorProto(tensor, name: name), to: path)
    }

    /// Serialises a tensor as a `TensorProto` (raw_data, or string_data for strings) through protobuf-c.
    public static func encodeTensorProto(_ tensor: Tensor, name: String) throws -> [UInt8] {
        var message = Onnx__TensorProto()
        onnx__tensor_proto__init(&message)
        var dims = tensor.shape.map { Int64($0) }
        let raw = tensor.rawDataForProto() ?? []
        var strings = tensor.dataType == .string ? tensor.elements(as: String.self).map { Array($0.utf8) } : []
        message.has_data_type = 1
        message.data_type = tensor.dataType.rawValue
        return name.withCString { namePointer in
            dims.withUnsafeMutableBufferPointer { dimsBuffer in
                raw.withUnsafeBufferPointer { rawBuffer in
                    withStringEntries(&strings) { entries, entryCount in
                        message.name = UnsafeMutablePointer(mutating: namePointer)
                        message.n_dims = dimsBuffer.count
                        message.dims = dimsBuffer.baseAddress
                        if tensor.dataType == .string {
                            message.n_string_data = entryCount
                            message.string_data = entries
                        } else {
                            message.has_raw_data = 1
                            message.raw_data = ProtobufCBinaryData(len: rawBuffer.count, data: UnsafeMutablePointer(mutating: rawBuffer.baseAddress))
                        }
                        let size = withUnsafePointer(to: &message) { onnx__tensor_proto__get_packed_size($0) }
                        var output = [UInt8](repeating: 0, count: size)
                        output.withUnsafeMutableBufferPointer { buffer in
                            _ = withUnsafePointer(to: &message) { onnx__tensor_proto__pack($0, buffer.baseAddress) }
                        }
                        return output
                    }
                }
            }
        }
    }

    /// Presents `strings` to C as an array of ProtobufCBinaryData (pointing into one flat copy) for `body`.
    private static func withStringEntries<R>(
        _ strings: inout [[UInt8]], _ body: (UnsafeMutablePointer<ProtobufCBinaryData>?, Int) -> R
    ) -> R {
        var flat = strings.flatMap { $0 }
        let lengths = strings.map(\.count)
        return flat.withUnsafeMutableBufferPointer { storage in
            var offset = 0
            var entries = lengths.map { length -> ProtobufCBinaryData in
                defer { offset += length }
                return ProtobufCBinaryData(len: length, data: storage.baseAddress.map { $0 + offset })
            }
            return entries.withUnsafeMutableBufferPointer { body($0.baseAddress, $0.count) }
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw FormatError.unreadableFile(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
