import Foundation
import OnyxCore

/// Reading and writing the files users hand to `infer`: models, `.pb` values, `.npy` tensors and `.npz` archives.
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

    /// Reads every named array of a `.npz` file, in archive order.
    public static func readNpz(_ path: String) throws -> [(name: String, tensor: Tensor)] {
        try Npz.decode(try readBytes(path), source: path)
    }

    /// Writes named tensors as one uncompressed `.npz` file.
    public static func writeNpz(_ tensors: [(name: String, tensor: Tensor)], to path: String) throws {
        try write(try Npz.encode(tensors), to: path)
    }

    /// Writes a tensor as `.npy`.
    public static func writeNpy(_ tensor: Tensor, to path: String) throws {
        try write(try Npy.encode(tensor), to: path)
    }

    /// Writes a tensor, sequence or optional as the `.pb` message its kind calls for, named `name`.
    public static func writeProto(_ value: Value, name: String, to path: String) throws {
        try write(try ProtoEncoder.value(value, name: name), to: path)
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw FormatError.unreadableFile(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
