import Foundation
import XCTest

final class BenchCommandTests: XCTestCase {
    private let digits = ["bench", "Models/digits-gn/model.onnx", "--dim", "batch=2", "--runs", "5", "--warmup", "1"]

    func testJsonReportHasTheDocumentedFields() throws {
        let result = try InferProcess.run(digits + ["--json", "--threads", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "no progress output when stderr is not a terminal")
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["runs"] as? Int, 5)
        XCTAssertEqual(report["threads"] as? Int, 2)
        let median = try XCTUnwrap(report["median_ms"] as? Double)
        let p90 = try XCTUnwrap(report["p90_ms"] as? Double)
        let fastest = try XCTUnwrap(report["min_ms"] as? Double)
        XCTAssertGreaterThan(median, 0)
        XCTAssertLessThanOrEqual(fastest, median)
        XCTAssertGreaterThanOrEqual(p90, median)
        XCTAssertEqual(try XCTUnwrap(report["throughput_per_s"] as? Double), 1000 / median, accuracy: 1e-6 * 1000 / median)
        XCTAssertGreaterThan(try XCTUnwrap(report["peak_rss_mb"] as? Double), 1)
    }

    func testTextReportAndStreamingPass() throws {
        let result = try InferProcess.run(digits + ["--stream"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "Models/digits-gn/model.onnx: 5 runs on 1 thread after 1 warm-up")
        XCTAssertNotNil(lines[1].range(of: #"^median [0-9.]+ ms, p90 [0-9.]+ ms, min [0-9.]+ ms$"#, options: .regularExpression), lines[1])
        XCTAssertNotNil(lines[2].range(of: #"^throughput [0-9.]+ runs/s$"#, options: .regularExpression), lines[2])
        XCTAssertNotNil(lines[3].range(of: #"^peak RSS [0-9.]+ MB$"#, options: .regularExpression), lines[3])
        XCTAssertNotNil(lines[4].range(of: #"^streaming pass over 512 bytes: median [0-9.]+ ms, [0-9.]+ GB/s$"#, options: .regularExpression), lines[4])
    }

    func testBadArgumentsAreUsageErrors() throws {
        XCTAssertEqual(try InferProcess.run(["bench", "Models/digits-gn/model.onnx", "--runs", "0"]).status, 2)
    }
}
