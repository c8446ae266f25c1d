import Foundation
import Onyx

/// `infer run --batch`: runs every input set of a folder, reporting each on one line (see `infer run --help`).
struct BatchRun {
    let session: Session
    let folder: String
    let dimensions: [String: Int]
    let seed: UInt64
    let writer: OutputWriter?
    let compareTo: String?
    let relativeTolerance: Double
    let absoluteTolerance: Double

    /// Runs every set; true when all of them ran (and matched, with --compare-to).
    func run() throws -> Bool {
        let sets = try InputSet.all(in: folder, for: session)
        let progress = ProgressReporter(total: sets.count)
        var failed = 0
        for set in sets {
            let started = DispatchTime.now().uptimeNanoseconds
            let lines: [String]
            do {
                lines = try run(set)
            } catch {
                lines = ["fail \(set.name): \(error)"]
            }
            if lines.contains(where: { $0.hasPrefix("fail ") }) { failed += 1 }
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            progress.advance(set.name, detail: String(format: "%.1f ms", milliseconds))
            for line in lines { progress.print(line) }
        }
        progress.finish()
        print("\(sets.count - failed) passed, \(failed) failed")
        return failed == 0
    }

    /// The result lines of one set.
    private func run(_ set: InputSet) throws -> [String] {
        let feeds = try InputArguments.feeds(
            set.arguments(for: session), for: session, dimensions: dimensions, seed: seed)
        let outputs = try session.runOrdered(feeds)
        try writer?.write(Array(zip(session.outputs.map(\.name), outputs)), set: set.name)
        guard let compareTo else {
            return zip(session.outputs, outputs).map { "\(set.name) \($0.name): \($1)" }
        }
        let expected = try ExpectedOutputs(path: expectedPath(for: set, in: compareTo))
        let mismatches = expected.mismatches(
            outputs, of: session.outputs, relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
        let failures = zip(session.outputs, mismatches).compactMap { info, mismatch in
            mismatch.map { "fail \(set.name): output '\(info.name)': \($0)" }
        }
        return failures.isEmpty ? ["pass \(set.name)"] : failures
    }

    /// `root/<set>` when that folder exists, else `root/<set>.npz`.
    private func expectedPath(for set: InputSet, in root: String) throws -> String {
        let candidate = root + "/" + set.name
        if FileManager.default.isFolder(atPath: candidate) { return candidate }
        guard FileManager.default.fileExists(atPath: candidate + ".npz") else {
            throw CLIFailure("no expected outputs (looked for \(candidate)/ and \(candidate).npz)")
        }
        return candidate + ".npz"
    }
}

/// One input set of a batch folder: a subfolder, an `.npz` file, or (for a one-input model) a `.npy`/`.pb` file.
struct InputSet {
    let name: String
    private let path: String
    private let isFolder: Bool

    /// Every input set in `folder`, sorted by name.
    static func all(in folder: String, for session: Session) throws -> [InputSet] {
        let manager = FileManager.default
        guard let entries = try? manager.contentsOfDirectory(atPath: folder) else {
            throw CLIFailure("--batch \(folder): no such folder")
        }
        let oneInput = session.inputs.count == 1
        let sets = entries.sorted().compactMap { entry -> InputSet? in
            guard !entry.hasPrefix(".") else { return nil }
            let path = folder + "/" + entry
            if manager.isFolder(atPath: path) {
                return InputSet(name: entry, path: path, isFolder: true)
            }
            let stem = (entry as NSString).deletingPathExtension
            if entry.hasSuffix(".npz") || (oneInput && (entry.hasSuffix(".npy") || entry.hasSuffix(".pb"))) {
                return InputSet(name: stem, path: path, isFolder: false)
            }
            return nil
        }
        guard !sets.isEmpty else {
            throw CLIFailure(
                "--batch \(folder): no input sets (subfolders, .npz files, or for a one-input model .npy or .pb files)")
        }
        return sets
    }

    /// The `--input` arguments that make this set's feeds.
    func arguments(for session: Session) throws -> [String] {
        guard isFolder else { return [path] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let archives = files.filter { $0.hasSuffix(".npz") }.sorted()
        if !archives.isEmpty { return archives.map { path + "/" + $0 } }
        return try session.inputs.enumerated().map { index, input in
            let stem = OutputWriter.fileName(for: input.name)
            let candidates = ["\(stem).npy", "\(stem).pb", "input_\(index).pb"]
            guard let file = candidates.first(where: files.contains) else {
                throw CLIFailure("no file for input '\(input.name)' (looked for \(candidates.joined(separator: ", ")))")
            }
            return input.name + "=" + path + "/" + file
        }
    }
}
