import OnyxCore

/// Reads and writes numpy `.npz` files: zip archives of `.npy` members, one per named array, stored
/// (`numpy.savez`) or deflated (`numpy.savez_compressed`).
public enum Npz {
    /// The arrays in a `.npz` file's bytes, in archive order, named as numpy names them (the member name without
    /// `.npy`; `arr_0`, `arr_1`… for arrays `savez` got positionally). `source` names the file in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> [(name: String, tensor: Tensor)] {
        let entries = try ZipArchive.entries(bytes, source: source)
        return try entries.map { entry in
            let name = entry.name.hasSuffix(".npy") ? String(entry.name.dropLast(4)) : entry.name
            return (name, try Npy.decode(entry.data, source: "\(source):\(entry.name)"))
        }
    }

    /// A `.npz` file holding `tensors` uncompressed, each as `<name>.npy`.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)]) throws -> [UInt8] {
        try ZipArchive.archive(tensors.map { ZipArchive.Entry(name: $0.name + ".npy", data: try Npy.encode($0.tensor)) })
    }
}
