import ArgumentParser
import Foundation
import Onyx

/// `infer`: run, check, inspect, benchmark, profile and draw ONNX models with Onyx.
@main
struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run, check, inspect, benchmark, profile and draw ONNX models with Onyx.",
        discussion: """
            \(exitCodesHelp) `infer help SUBCOMMAND` (or `infer SUBCOMMAND --help`) shows a subcommand's options \
            and examples.

            Examples:
              infer run model.onnx --input x=x.npy --output-dir out
              infer inspect model.onnx --json
              infer bench model.onnx --threads 2 --json
              infer profile model.onnx --runs 20 --trace trace.json
              infer graph model.onnx | dot -Tsvg > model.svg
              infer check .conformance/node
            """,
        subcommands: [
            RunCommand.self, CheckCommand.self, InspectCommand.self, BenchCommand.self, ProfileCommand.self,
            GraphCommand.self,
        ])

    /// Parses the command line and maps every failure to one line on stderr and the documented exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            LoggingOptions.bootstrap(verbose: (command as? any LoggingCommand)?.logging.verbose ?? false)
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch let error as CLIFailure {
            exit(reporting: "\(error)", code: 1)
        } catch let error
            where error is FormatError || error is GraphError || error is RuntimeError || error is KernelError
            || error is PluginError
        {
            exit(reporting: "\(error)", code: 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            // ArgumentParser's message already starts with "Error:" and ends with the usage line.
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    private static func exit(reporting message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// The exit codes every subcommand documents.
let exitCodesHelp = """
    Exit codes: 0 success; 1 a bad model or input, a failed comparison or check (one line on stderr says what \
    and where); 2 a usage error.
    """

/// A failure of the CLI itself (bad input file naming, a failed check), reported as one line with exit code 1.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
