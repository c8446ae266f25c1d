import ArgumentParser
import Foundation
import Onyx

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on input tensors and print or save its outputs.",
        discussion: """
            Inputs are .npy or ONNX TensorProto .pb files. Each output is printed with its type, shape and first \
            values, and with --output-dir written to DIR/<name>.npy (characters outside [A-Za-z0-9._-] become _).

            Examples:
              infer run Models/digits-gn/model.onnx --input input=Models/digits-gn/input_0.pb
              infer run model.onnx --input x=x.npy --output-dir out --threads 2
              infer run model.onnx --input x.npy --lower GroupNormalization
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @Option(name: .customLong("input"), help: "An input as NAME=FILE (FILE is .npy or .pb); FILE alone for a one-input model.")
    var inputs: [String] = []

    @Option(help: "Folder to write each output to as <name>.npy.")
    var outputDir: String?

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @OptionGroup var graphOptions: GraphOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let session = try Session(contentsOf: model, options: graphOptions.sessionOptions(threads: threads))
        let feeds = try InputArguments.feeds(inputs, for: session)
        let outputs = try session.runOrdered(feeds)
        if let outputDir {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        }
        for (info, value) in zip(session.outputs, outputs) {
            print("\(info.name): \(value)")
            guard let outputDir else { continue }
            let path = outputDir + "/" + Self.fileName(for: info.name)
            if let tensor = value.tensor, Npy.canEncode(tensor.dataType) {
                try TensorFiles.writeNpy(tensor, to: path + ".npy")
            } else {
                try TensorFiles.writeProto(value, name: info.name, to: path + ".pb")
            }
        }
    }

    /// `name` with every character outside [A-Za-z0-9._-] replaced by `_`.
    static func fileName(for name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
    }
}

/// Turns `--input` arguments into the feeds of a session.
enum InputArguments {
    static func feeds(_ arguments: [String], for session: Session) throws -> [String: Value] {
        var feeds: [String: Value] = [:]
        let declared = session.graph.inputs
        for argument in arguments {
            let name: String
            let path: String
            if let equals = argument.firstIndex(of: "="), !FileManager.default.fileExists(atPath: argument) {
                name = String(argument[..<equals])
                path = String(argument[argument.index(after: equals)...])
            } else if session.inputs.count == 1 {
                name = session.inputs[0].name
                path = argument
            } else {
                throw CLIFailure("--input \(argument): name the input as NAME=FILE; the model's inputs are \(session.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
            }
            guard let info = declared.first(where: { $0.name == name }) else {
                throw RuntimeError.unknownInput(name, expected: session.inputs.map(\.name))
            }
            feeds[name] = try TensorFiles.readValue(path, expected: info.type)
        }
        return feeds
    }
}
