import ArgumentParser
import Foundation
import Onyx

/// The file format `infer run --output-dir` writes outputs in.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// One `<name>.npy` per output (`.pb` for values numpy has no type for: sequences, optionals, bfloat16…).
    case npy
    /// One ONNX `<name>.pb` per output: TensorProto, SequenceProto or OptionalProto.
    case pb
    /// All outputs in one `.npz` (tensors only).
    case npz
}

/// Writes a run's outputs to a folder.
struct OutputWriter {
    let folder: String
    let format: OutputFormat

    /// Writes `outputs` in graph order. For npy and pb, into `folder`, or `folder/<set>/` for a batch input set;
    /// for npz, to `folder/outputs.npz`, or `folder/<set>.npz`.
    func write(_ outputs: [(name: String, value: Value)], set: String? = nil) throws {
        if format == .npz {
            let tensors = try outputs.map { output -> (name: String, tensor: Tensor) in
                guard let tensor = output.value.tensor else {
                    throw CLIFailure(
                        "output '\(output.name)' is not a tensor, and .npz holds tensors only; use --output-format pb")
                }
                return (output.name, tensor)
            }
            try create(folder)
            try TensorFiles.writeNpz(tensors, to: folder + "/" + Self.fileName(for: set ?? "outputs") + ".npz")
            return
        }
        let target = set.map { folder + "/" + Self.fileName(for: $0) } ?? folder
        try create(target)
        for (name, value) in outputs {
            let path = target + "/" + Self.fileName(for: name)
            if format == .npy, let tensor = value.tensor, Npy.canEncode(tensor.dataType) {
                try TensorFiles.writeNpy(tensor, to: path + ".npy")
            } else {
                try TensorFiles.writeProto(value, name: name, to: path + ".pb")
            }
        }
    }

    private func create(_ folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CLIFailure("cannot create \(folder): \(error.localizedDescription)")
        }
    }

    /// `name` with every character outside [A-Za-z0-9._-] replaced by `_`.
    static func fileName(for name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
    }
}

/// The expected outputs `--compare-to` names: a folder holding `<name>.npy`, `<name>.pb` or `output_N.pb` per
/// output (N in graph order, as in ONNX test data sets), or an `.npz` holding them by name (or as `arr_N`).
struct ExpectedOutputs {
    let path: String
    private let archive: [(name: String, tensor: Tensor)]?

    init(path: String) throws {
        self.path = path
        if path.hasSuffix(".npz") {
            archive = try TensorFiles.readNpz(path)
        } else if FileManager.default.isFolder(atPath: path) {
            archive = nil
        } else {
            throw CLIFailure("--compare-to \(path): no such folder or .npz file")
        }
    }

    /// Compares each output with its expected value: nil where it matches, else the reason (a missing expected
    /// value included).
    func mismatches(
        _ outputs: [Value], of infos: [ValueInfo], relativeTolerance: Double, absoluteTolerance: Double
    ) -> [String?] {
        zip(infos, outputs).enumerated().map { index, pair in
            let (info, actual) = pair
            do {
                let expected = try value(for: info, index: index)
                return Conformance.compare(
                    actual, expected, relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
            } catch {
                return "\(error)"
            }
        }
    }

    private func value(for info: ValueInfo, index: Int) throws -> Value {
        if let archive {
            guard
                let entry = archive.first(where: { $0.name == info.name })
                    ?? archive.first(where: { $0.name == "arr_\(index)" })
            else { throw CLIFailure("\(path) holds no array '\(info.name)' (nor arr_\(index))") }
            return .tensor(entry.tensor)
        }
        let stem = OutputWriter.fileName(for: info.name)
        let candidates = ["\(stem).npy", "\(stem).pb", "output_\(index).pb"]
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: path + "/" + $0) }) else {
            throw CLIFailure("no expected value in \(path) (looked for \(candidates.joined(separator: ", ")))")
        }
        return try TensorFiles.readValue(path + "/" + file, expected: info.type)
    }
}
