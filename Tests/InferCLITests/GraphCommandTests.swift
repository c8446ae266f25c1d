import Foundation
import XCTest

final class GraphCommandTests: XCTestCase {
    func testDotOfASmallModel() throws {
        let result = try InferProcess.run(["graph", "Tests/Fixtures/add_one.onnx"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, #"""
            digraph "add_one" {
              rankdir=TB;
              node [fontname="Helvetica", fontsize=10];
              edge [fontname="Helvetica", fontsize=8, color="#555555"];
              input0 [shape=oval, style=filled, fillcolor="#dbeafe", label="x\ntensor(float) [2, 3]"];
              label="1 initializer not drawn"; labelloc=b; fontname="Helvetica"; fontsize=9;
              node0 [shape=box, style="rounded,filled", fillcolor="#f5f5f4", label="Add\nadd"];
              output0 [shape=oval, style=filled, fillcolor="#dcfce7", label="y\ntensor(float) [2, 3]"];
              input0 -> node0 [label="x\n[2, 3]"];
              node0 -> output0 [label="y\n[2, 3]"];
            }

            """#)
    }

    /// Graphviz must accept every drawing: as stored, optimized, with initializers.
    func testGraphvizRendersTheBundledModels() throws {
        let which = try InferProcess.runTool("which", ["dot"])
        guard which.status == 0 else {
            return XCTFail("Graphviz's `dot` is not installed: run tools/install-deps (apt-get install graphviz)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-graph-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let drawings: [[String]] = [
            ["Models/digits-gn/model.onnx"], ["Models/digits-gn/model.onnx", "--optimized"],
            ["Models/unet-gn/nhwc-moments/model.onnx", "--initializers"],
            ["Models/unet-gn/pytorch/model.onnx", "--optimized", "--initializers"],
        ]
        for (index, arguments) in drawings.enumerated() {
            let graph = try InferProcess.run(["graph"] + arguments)
            XCTAssertEqual(graph.status, 0, graph.stderr)
            let dotFile = "\(folder)/\(index).dot"
            try graph.stdout.write(toFile: dotFile, atomically: true, encoding: .utf8)
            let svg = try InferProcess.runTool("dot", ["-Tsvg", dotFile])
            XCTAssertEqual(svg.status, 0, "\(arguments): \(svg.stderr)")
            XCTAssertTrue(svg.stderr.isEmpty, "\(arguments): \(svg.stderr)")
            XCTAssertTrue(svg.stdout.contains("<svg"), "\(arguments)")
        }
        let optimized = try InferProcess.run(["graph", "Models/digits-gn/model.onnx", "--optimized"])
        XCTAssertTrue(optimized.stdout.contains(#"node0 -> node1 [label="conv\n[batch, 8, 8, 8]"];"#), optimized.stdout)
    }
}
