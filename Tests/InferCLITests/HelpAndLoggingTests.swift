import Foundation
import XCTest

/// Every subcommand documents itself with examples and the exit codes; --verbose logs through swift-log.
final class HelpAndLoggingTests: XCTestCase {
    private let subcommands = ["run", "check", "inspect", "bench", "profile", "graph"]

    func testEverySubcommandHasHelpWithExamplesAndExitCodes() throws {
        for command in subcommands {
            let result = try InferProcess.run([command, "--help"])
            XCTAssertEqual(result.status, 0, command)
            XCTAssertTrue(result.stdout.contains("Examples:\n  infer \(command) "), "\(command): \(result.stdout)")
            XCTAssertTrue(result.stdout.contains("Exit codes: 0 success; 1 a bad model or input"), command)
            XCTAssertTrue(result.stdout.contains("-v, --verbose"), command)
        }
        let root = try InferProcess.run(["--help"])
        XCTAssertEqual(root.status, 0)
        for command in subcommands {
            XCTAssertTrue(root.stdout.contains("\n  \(command) "), command)
        }
    }

    func testVerboseLogsTimingsPassesAndKernelsToStderr() throws {
        let arguments = ["run", "Tests/Fixtures/add_one.onnx", "--input", "Tests/Fixtures/add_one_input.pb"]
        let quiet = try InferProcess.run(arguments)
        XCTAssertEqual(quiet.stderr, "")
        let verbose = try InferProcess.run(arguments + ["--verbose"])
        XCTAssertEqual(verbose.status, 0, verbose.stderr)
        XCTAssertEqual(verbose.stdout, quiet.stdout)
        for expected in [
            #"debug onyx: \[Onyx\] loaded Tests/Fixtures/add_one.onnx in [0-9.]+ ms"#,
            #"constant folding: 1 → 1 nodes, 1 → 1 constants in [0-9.]+ ms"#,
            #"kernel for node 'add' \(Add, opset 21\): \w+"#,
            #"planned 1 nodes in [0-9.]+ ms"#,
        ] {
            XCTAssertNotNil(
                verbose.stderr.range(of: expected, options: .regularExpression), "\(expected) in \(verbose.stderr)")
        }
    }
}
