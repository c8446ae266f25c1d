import Foundation
import XCTest

final class RunCommandTests: XCTestCase {
    private let fixtures = "Tests/Fixtures"

    func testRunPrintsOutputsAndWritesSanitisedNpyFiles() throws {
        let outputDir = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-run-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: outputDir) }
        let result = try InferProcess.run([
            "run", "Models/digits-gn/model.onnx", "--input", "input=Models/digits-gn/test_data_set_0/input_0.pb", "--output-dir", outputDir,
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("probabilities: float [4, 10]: ["), result.stdout)
        let npy = try XCTUnwrap(FileManager.default.contents(atPath: outputDir + "/probabilities.npy"))
        XCTAssertEqual(Array(npy.prefix(6)), [0x93] + Array("NUMPY".utf8))
    }

    func testOutputFileNamesReplaceUnsafeCharacters() throws {
        let result = try InferProcess.run(["run", "\(fixtures)/add_one.onnx", "--input", "\(fixtures)/add_one_input.pb"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "y: float [2, 3]: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\n")
    }

    /// Each bad model or input: exactly one line on stderr naming the problem, exit status 1.
    func testBadModelsAndInputsGiveOneLineErrorsAndExitOne() throws {
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-truncated-\(UUID()).onnx").path
        let random = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-random-\(UUID()).onnx").path
        defer {
            try? FileManager.default.removeItem(atPath: truncated)
            try? FileManager.default.removeItem(atPath: random)
        }
        let model = try XCTUnwrap(FileManager.default.contents(atPath: InferProcess.packageRoot + "/Models/digits-gn/model.onnx"))
        try model.prefix(model.count / 2).write(to: URL(fileURLWithPath: truncated))
        try Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 197 &+ 11) }).write(to: URL(fileURLWithPath: random))
        let addOne = "\(fixtures)/add_one.onnx"
        let cases: [(arguments: [String], message: String)] = [
            (["run", truncated], "not a valid ONNX model"),
            (["run", random], "not a valid ONNX model"),
            (["run", "\(fixtures)/cycle.onnx"], "the graph has a cycle through nodes node_a → node_b → node_c → node_a"),
            (["run", "\(fixtures)/unknown_ops.onnx"], "FrobnicateTensor (domain ai.onnx, opset 21, node 'frob'); Twiddle (domain com.example"),
            (["run", addOne, "--input", "x=\(fixtures)/int_input.pb"], "input 'x': expected tensor(float), given tensor(int64)"),
            (["run", addOne, "--input", "x=\(fixtures)/wrong_shape_input.pb"], "input 'x': expected shape [2, 3], given [3, 2]"),
            (["run", addOne, "--input", "nope=\(fixtures)/add_one_input.pb"], "the model has no input 'nope'; its inputs are 'x'"),
            (["run", addOne], "missing input 'x' of type tensor(float) [2, 3]"),
            (["run", "\(fixtures)/external_escape.onnx"], "leaves the model's folder"),
            (["run", "no/such/model.onnx"], "cannot read no/such/model.onnx: no such file"),
        ]
        for (arguments, message) in cases {
            let result = try InferProcess.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("error: "), "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "\(arguments): \(result.stderr)")
        }
    }

    func testUsageErrorsExitTwo() throws {
        XCTAssertEqual(try InferProcess.run(["run"]).status, 2)
        XCTAssertEqual(try InferProcess.run(["run", "m.onnx", "--threads", "0"]).status, 2)
        XCTAssertEqual(try InferProcess.run(["frobnicate"]).status, 2)
        XCTAssertEqual(try InferProcess.run(["--help"]).status, 0)
    }

    func testCheckReportsEachCaseAndTotals() throws {
        let passing = try InferProcess.run(["check", "Models/digits-gn"])
        XCTAssertEqual(passing.status, 0, passing.stdout + passing.stderr)
        XCTAssertEqual(passing.stdout, "pass digits-gn\n1 passed, 0 failed\n")

        // The same model with its input given as the expected output: a shape mismatch, reported, exit 1.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-check-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let set = folder.appendingPathComponent("wrong_case/test_data_set_0")
        try FileManager.default.createDirectory(at: set, withIntermediateDirectories: true)
        let model = InferProcess.packageRoot + "/Models/digits-gn"
        try FileManager.default.copyItem(atPath: model + "/model.onnx", toPath: folder.path + "/wrong_case/model.onnx")
        try FileManager.default.copyItem(atPath: model + "/test_data_set_0/input_0.pb", toPath: set.path + "/input_0.pb")
        try FileManager.default.copyItem(atPath: model + "/test_data_set_0/input_0.pb", toPath: set.path + "/output_0.pb")
        let failing = try InferProcess.run(["check", folder.path])
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(
            failing.stdout,
            "fail wrong_case: test_data_set_0 output 'probabilities': shape [4, 10], expected [4, 1, 8, 8]\n0 passed, 1 failed\n")
    }
}
