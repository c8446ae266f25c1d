import Foundation
import XCTest

/// `infer run --batch`: one line per input set, a closing count, progress on stderr.
final class BatchRunTests: XCTestCase {
    private let batch = [
        "run", "Tests/Fixtures/add_one.onnx", "--batch", "Tests/Fixtures/batch/inputs",
        "--compare-to", "Tests/Fixtures/batch/expected",
    ]

    func testEachSetPassesOrFailsOnItsOwnLine() throws {
        let result = try InferProcess.run(batch)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, """
            pass set_a
            pass set_b
            fail set_c: output 'y': 6 of 6 values differ; worst at 0: got 4.0, expected 3.0
            fail set_d: no file for input 'x' (looked for x.npy, x.pb, input_0.pb)
            2 passed, 2 failed

            """)
        // Piped stderr: a plain progress line per set.
        let progress = result.stderr.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        XCTAssertEqual(progress, ["[1/4] set_a", "[2/4] set_b", "[3/4] set_c", "[4/4] set_d"], result.stderr)
    }

    func testOnnxTestDataSetsRunAsABatchAndOutputsGoToOneFolderPerSet() throws {
        let digits = try InferProcess.run([
            "run", "Models/digits-gn/model.onnx", "--batch", "Models/digits-gn", "--compare-to", "Models/digits-gn",
        ])
        XCTAssertEqual(digits.status, 0, digits.stderr)
        XCTAssertEqual(digits.stdout, "pass test_data_set_0\n1 passed, 0 failed\n")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-batch-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let written = try InferProcess.run(
            ["run", "Tests/Fixtures/add_one.onnx", "--batch", "Tests/Fixtures/batch/inputs", "--output-dir", folder])
        XCTAssertEqual(written.status, 1, "set_d has no input")
        XCTAssertTrue(written.stdout.hasPrefix("set_a y: float [2, 3]: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]\n"), written.stdout)
        for set in ["set_a", "set_b", "set_c"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/\(set)/y.npy"), set)
        }
    }

    func testProgressBarOnATerminal() throws {
        // `script` gives the command a terminal; the bar is redrawn in place with carriage returns.
        let command = ([InferProcess.executable] + batch).joined(separator: " ")
        let result = try InferProcess.runTool("script", ["-qec", command, "/dev/null"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stdout.contains("\r\u{1B}[K[##############################] 4/4 set_d"), result.stdout.debugDescription)
        XCTAssertFalse(result.stdout.contains("[1/4] set_a"), "no plain progress lines on a terminal")
        XCTAssertTrue(result.stdout.contains("2 passed, 2 failed"), result.stdout)
    }

    func testBatchTakesNoInputOption() throws {
        let result = try InferProcess.run(batch + ["--input", "x=@random"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("--batch takes the inputs from its folder; leave out --input"), result.stderr)
    }
}
