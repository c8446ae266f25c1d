import Foundation
import XCTest

final class ProfileCommandTests: XCTestCase {
    private let digits = ["profile", "Models/digits-gn/model.onnx", "--dim", "batch=4", "--runs", "3"]

    func testTablesListEveryOpAndNodeSortedByCost() throws {
        let result = try InferProcess.run(digits + ["--threads", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let blocks = result.stdout.components(separatedBy: "\n\n")
        XCTAssertEqual(blocks.count, 3, result.stdout)
        XCTAssertNotNil(blocks[0].range(of: #"^3 runs on 2 threads: [0-9.]+ ms per run, of which nodes [0-9.]+ ms$"#, options: .regularExpression), blocks[0])
        let ops = blocks[1].split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let unit = String(ops[0][3])
        XCTAssertTrue(["ms/run", "µs/run"].contains(unit), "\(ops[0])")
        XCTAssertEqual(ops[0], ["op", "type", "nodes", Substring(unit), "%"])
        XCTAssertEqual(
            Set(ops.dropFirst().map { String($0[0]) }),
            ["Conv", "GroupNormalization(ai.onyx)", "Relu", "Flatten", "Gemm", "Softmax"])
        let opTimes = ops.dropFirst().map { Double($0[2])! }
        XCTAssertEqual(opTimes, opTimes.sorted(by: >))
        let nodes = blocks[2].split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        XCTAssertEqual(nodes[0], ["node", "op", Substring(unit), "%"])
        XCTAssertEqual(Set(nodes.dropFirst().map { String($0[0]) }), ["conv", "group_norm", "relu", "flatten", "classifier", "softmax"])
        let shares = nodes.dropFirst().map { Double($0[3])! }
        XCTAssertEqual(shares.reduce(0, +), 100, accuracy: 0.5)

        let top = try InferProcess.run(digits + ["--top", "2"])
        XCTAssertTrue(top.stdout.hasSuffix("… 4 more nodes (--top 0 shows all)\n"), top.stdout)
    }

    func testTraceIsChromeTraceEventJson() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-trace-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let result = try InferProcess.run(digits + ["--trace", trace])
        XCTAssertEqual(result.status, 0, result.stderr)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: trace))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try XCTUnwrap(json["traceEvents"] as? [[String: Any]])
        let complete = events.filter { $0["ph"] as? String == "X" }
        XCTAssertEqual(complete.count, 3 + 3 * 6, "one event per run and per node of each run")
        for event in complete {
            for key in ["name", "cat", "ts", "dur", "pid", "tid", "args"] { XCTAssertNotNil(event[key], "\(key) in \(event)") }
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(event["dur"] as? Double), 0)
        }
        let nodes = complete.filter { $0["cat"] as? String != "session" }
        XCTAssertEqual(nodes.prefix(6).map { $0["name"] as? String }, ["conv", "group_norm", "relu", "flatten", "classifier", "softmax"])
        XCTAssertEqual((nodes[0]["args"] as? [String: Any])?["op_type"] as? String, "Conv")
        // Nodes of one run lie inside its span, one after another.
        let runs = complete.filter { $0["cat"] as? String == "session" }
        let run0 = (start: runs[0]["ts"] as! Double, end: (runs[0]["ts"] as! Double) + (runs[0]["dur"] as! Double))
        var previousEnd = run0.start
        for node in nodes.prefix(6) {
            let start = node["ts"] as! Double
            XCTAssertGreaterThanOrEqual(start + 0.01, previousEnd)
            previousEnd = start + (node["dur"] as! Double)
        }
        XCTAssertLessThanOrEqual(previousEnd, run0.end + 0.01)
    }

    func testInputsNotGivenAreRandomButNeedTheirDimensions() throws {
        let result = try InferProcess.run(["profile", "Models/digits-gn/model.onnx"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "error: input 'input': dimension 0 is 'batch'; set it with --dim batch=N\n")
    }
}
