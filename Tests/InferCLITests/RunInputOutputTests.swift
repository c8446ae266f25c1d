import Foundation
import XCTest

/// `infer run`: .npz inputs, @random, --dim, output formats and --compare-to.
final class RunInputOutputTests: XCTestCase {
    private let symbolic = "Tests/Fixtures/symbolic.onnx"
    private let addOne = ["run", "Tests/Fixtures/add_one.onnx", "--input", "Tests/Fixtures/add_one_input.pb"]

    private func temporaryFolder() -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-cli-\(UUID())").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        return folder
    }

    func testNpzInputsStoredAndDeflated() throws {
        let stored = try InferProcess.run(["run", symbolic, "--input", "Tests/Fixtures/symbolic_inputs.npz"])
        XCTAssertEqual(stored.status, 0, stored.stderr)
        XCTAssertEqual(stored.stdout, "sum: float [2, 3]: [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]\ncount: int64 [2]: [4, 5]\n")
        // savez_compressed with positional arrays: arr_0, arr_1, arr_2 go to the inputs in order.
        let deflated = try InferProcess.run(["run", symbolic, "--input", "Tests/Fixtures/symbolic_inputs_compressed.npz"])
        XCTAssertEqual(deflated.status, 0, deflated.stderr)
        XCTAssertEqual(deflated.stdout, "sum: float [2, 3]: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\ncount: int64 [2]: [7, 8]\n")
    }

    func testRandomInputsFollowSeedDtypeAndDimensions() throws {
        let random = ["run", symbolic, "--input", "a=@random", "--input", "b=@random", "--input", "n=@random", "--dim", "batch=3"]
        let first = try InferProcess.run(random + ["--seed", "7"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let lines = first.stdout.split(separator: "\n")
        XCTAssertTrue(lines[0].hasPrefix("sum: float [3, 3]: ["), first.stdout)
        XCTAssertTrue(lines[1].hasPrefix("count: int64 [3]: ["), first.stdout)
        let counts = lines[1].split(separator: "[").last!.dropLast().split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        XCTAssertEqual(counts.count, 3)
        XCTAssertTrue(counts.allSatisfy { (0..<10).contains($0) }, "\(counts)")
        XCTAssertEqual(try InferProcess.run(random + ["--seed", "7"]).stdout, first.stdout)
        XCTAssertNotEqual(try InferProcess.run(random + ["--seed", "8"]).stdout, first.stdout)
        // A file input sets `batch` for the random ones.
        let bound = try InferProcess.run([
            "run", symbolic, "--input", "a=Tests/Fixtures/add_one_input.pb", "--input", "b=@random", "--input", "n=@random",
        ])
        XCTAssertEqual(bound.status, 0, bound.stderr)
        XCTAssertTrue(bound.stdout.contains("\ncount: int64 [2]: ["), bound.stdout)
    }

    func testDimensionErrorsAreOneLineAndActionable() throws {
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["--input", "a=@random", "--input", "b=@random", "--input", "n=@random"], 1,
             "error: input 'a': dimension 0 is 'batch'; set it with --dim batch=N\n"),
            (["--input", "Tests/Fixtures/symbolic_inputs.npz", "--dim", "batch=3"], 1,
             "error: input 'a': dimension 0 ('batch') is 2, but batch is 3 (from --dim)\n"),
            (["--input", "Tests/Fixtures/symbolic_inputs.npz", "--dim", "bacth=2"], 1,
             "error: --dim bacth: no input has a dimension named 'bacth'; the model's are batch\n"),
            (["--input", "Tests/Fixtures/symbolic_inputs.npz", "--input", "a=@random"], 1,
             "error: input 'a' is given twice\n"),
        ]
        for (arguments, status, message) in cases {
            let result = try InferProcess.run(["run", symbolic] + arguments)
            XCTAssertEqual(result.status, status, "\(arguments)")
            XCTAssertEqual(result.stderr, message, "\(arguments)")
        }
        let usage = try InferProcess.run(["run", symbolic, "--dim", "batch=two"])
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.contains("--dim batch=two: expected NAME=VALUE"), usage.stderr)
    }

    func testOutputFormatsAreReadableByNumpyAndOnnx() throws {
        let folder = temporaryFolder()
        for format in ["npy", "pb", "npz"] {
            let result = try InferProcess.run(
                ["run", symbolic, "--input", "Tests/Fixtures/symbolic_inputs.npz", "--output-dir", folder + "/" + format,
                 "--output-format", format])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let check = """
            import numpy as np, onnx.numpy_helper as h, sys
            d = sys.argv[1]
            z = np.load(d + "/npz/outputs.npz")
            pb = {n: h.to_array(h.onnx.load_tensor(f"{d}/pb/{n}.pb")) for n in ("sum", "count")}
            for name, want in (("sum", np.arange(6, dtype=np.float32).reshape(2, 3) + 0.5), ("count", np.array([4, 5]))):
                for got in (np.load(f"{d}/npy/{name}.npy"), pb[name], z[name]):
                    assert got.dtype == want.dtype and np.array_equal(got, want), (name, got)
            print("ok")
            """
        let python = try InferProcess.runTool("python3", ["-c", check, folder])
        XCTAssertEqual(python.stdout, "ok\n", python.stderr)
        let noFolder = try InferProcess.run(addOne + ["--output-format", "npz"])
        XCTAssertEqual(noFolder.status, 2)
    }

    func testCompareToMatchesWithinToleranceAndReportsEachMismatch() throws {
        let expected = "Tests/Fixtures/add_one_expected.npz"
        let match = try InferProcess.run(addOne + ["--compare-to", expected])
        XCTAssertEqual(match.status, 0, match.stderr)
        XCTAssertEqual(match.stdout, "y: float [2, 3]: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\nmatch y\n")
        let strict = try InferProcess.run(addOne + ["--compare-to", expected, "--rtol", "1e-7", "--atol", "0"])
        XCTAssertEqual(strict.status, 1)
        XCTAssertEqual(
            strict.stdout,
            "y: float [2, 3]: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\nmismatch y: 6 of 6 values differ; worst at 0: got 1.0, expected 1.0000100135803223\n")
        // A folder of ONNX test data: output_0.pb.
        let folder = try InferProcess.run([
            "run", "Models/digits-gn/model.onnx", "--input", "Models/digits-gn/test_data_set_0/input_0.pb",
            "--compare-to", "Models/digits-gn/test_data_set_0",
        ])
        XCTAssertEqual(folder.status, 0, folder.stderr)
        XCTAssertTrue(folder.stdout.hasSuffix("\nmatch probabilities\n"), folder.stdout)
        let missing = try InferProcess.run(addOne + ["--compare-to", "Tests/Fixtures/values"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(
            missing.stdout.hasSuffix("mismatch y: no expected value in Tests/Fixtures/values (looked for y.npy, y.pb, output_0.pb)\n"),
            missing.stdout)
    }
}
