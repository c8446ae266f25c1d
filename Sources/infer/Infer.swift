import ArgumentParser
import Foundation
import Onyx

/// `infer`: run, check and inspect ONNX models with Onyx.
@main
struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run and check ONNX models with Onyx.",
        discussion: """
            Exit codes: 0 success, 1 a model, input or check failure (one line on stderr says what and where), \
            2 a usage error.
            """,
        subcommands: [RunCommand.self, CheckCommand.self, InspectCommand.self])

    /// Parses the command line and maps every failure to one line on stderr and the documented exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch let error as CLIFailure {
            exit(reporting: "\(error)", code: 1)
        } catch let error where error is FormatError || error is GraphError || error is RuntimeError || error is KernelError {
            exit(reporting: "\(error)", code: 1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let usage = code == .validationFailure
            exit(reporting: fullMessage(for: error), code: usage ? 2 : code.rawValue)
        }
    }

    private static func exit(reporting message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// A failure of the CLI itself (bad input file naming, a failed check), reported as one line with exit code 1.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
