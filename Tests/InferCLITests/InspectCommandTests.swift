import Foundation
import XCTest

final class InspectCommandTests: XCTestCase {
    func testTextDescribesTheBundledModel() throws {
        let result = try InferProcess.run(["inspect", "Models/digits-gn/model.onnx"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, """
            ir_version: 10
            producer: onyx-tools
            opsets: ai.onnx 21
            input input: tensor(float) [batch, 1, 8, 8]
            output probabilities: tensor(float) [batch, 10]
            parameters: 5226 (20.4 KiB) in 6 initializers
            nodes: 6
            Conv 1
            Flatten 1
            Gemm 1
            GroupNormalization 1
            Relu 1
            Softmax 1

            """)
    }

    func testJsonHasEveryFieldWithSymbolicDimensionsNamed() throws {
        let result = try InferProcess.run(["inspect", "Tests/Fixtures/symbolic.onnx", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(
            Set(json.keys),
            ["ir_version", "producer_name", "producer_version", "opsets", "inputs", "outputs", "parameters", "node_count", "ops", "no_kernel"])
        XCTAssertEqual(json["opsets"] as? [String: Int], ["ai.onnx": 21])
        let inputs = try XCTUnwrap(json["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["name"] as? String }, ["a", "b", "n"])
        XCTAssertEqual(inputs[2]["type"] as? String, "int64")
        XCTAssertEqual(inputs[0]["shape"] as? [AnyHashable], ["batch", 3])
        XCTAssertEqual(json["ops"] as? [String: Int], ["Add": 1, "Identity": 1])
        XCTAssertEqual(json["node_count"] as? Int, 2)
        XCTAssertEqual(json["parameters"] as? [String: Int], ["count": 0, "bytes": 0, "initializers": 0])

        let digits = try InferProcess.run(["inspect", "Models/digits-gn/model.onnx", "--json"])
        let parameters = try XCTUnwrap(
            (JSONSerialization.jsonObject(with: Data(digits.stdout.utf8)) as? [String: Any])?["parameters"] as? [String: Int])
        XCTAssertEqual(parameters, ["count": 5226, "bytes": 5226 * 4, "initializers": 6])
    }

    func testEveryNodeWithoutAKernelIsListedAtOnce() throws {
        let text = try InferProcess.run(["inspect", "Tests/Fixtures/unknown_ops.onnx"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(
            text.stdout.hasSuffix(
                "no kernel for 2 nodes: FrobnicateTensor (domain ai.onnx, opset 21, node 'frob'); "
                    + "Twiddle (domain com.example, opset 1, node 'twiddle')\n"),
            text.stdout)
        struct Report: Decodable, Equatable {
            struct Missing: Decodable, Equatable {
                let node: String
                let opType: String
                let domain: String
                let opset: Int
            }
            let noKernel: [Missing]
        }
        let json = try InferProcess.run(["inspect", "Tests/Fixtures/unknown_ops.onnx", "--json"])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        XCTAssertEqual(
            try decoder.decode(Report.self, from: Data(json.stdout.utf8)).noKernel,
            [
                .init(node: "frob", opType: "FrobnicateTensor", domain: "ai.onnx", opset: 21),
                .init(node: "twiddle", opType: "Twiddle", domain: "com.example", opset: 1),
            ])
    }
}
