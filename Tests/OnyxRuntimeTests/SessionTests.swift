import Foundation
import Onyx
import XCTest

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let fixtures = packageRoot + "/Tests/Fixtures"

final class SessionTests: XCTestCase {
    func testBundledModelMatchesOnnxRuntime() throws {
        let folder = packageRoot + "/Models/digits-gn"
        let session = try Session(contentsOf: folder + "/model.onnx")
        let input = try TensorFiles.readValue(folder + "/test_data_set_0/input_0.pb")
        let expected = try XCTUnwrap(TensorFiles.readValue(folder + "/test_data_set_0/output_0.pb").tensor)
        let output = try XCTUnwrap(session.run(["input": input])["probabilities"]?.tensor)
        XCTAssertEqual(output.shape, expected.shape)
        for (got, want) in zip(output.elements(as: Float.self), expected.elements(as: Float.self)) {
            XCTAssertEqual(got, want, accuracy: 1e-4)
        }
    }

    func testModelLocalFunctionsAreInlined() throws {
        let session = try Session(contentsOf: fixtures + "/local_function.onnx")
        XCTAssertEqual(session.graph.nodes.map(\.opType), ["Add", "Add", "Add", "Add"])
        let output = try session.run(["x": .tensor(Tensor(shape: [3], elements: [Float(1), 2, 3]))])
        XCTAssertEqual(output["y"]?.tensor?.elements(as: Float.self), [9, 18, 27])
    }

    func testInputsAreValidatedByNameTypeAndShape() throws {
        let session = try Session(contentsOf: fixtures + "/add_one.onnx")
        let good = Tensor(shape: [2, 3], elements: [Float](repeating: 0, count: 6))
        XCTAssertEqual(try session.run(["x": .tensor(good)])["y"]?.tensor?.elements(as: Float.self), [Float](repeating: 1, count: 6))
        XCTAssertThrowsError(try session.run(["z": .tensor(good)])) {
            XCTAssertEqual("\($0)", "the model has no input 'z'; its inputs are 'x'")
        }
        XCTAssertThrowsError(try session.run([:])) {
            XCTAssertEqual("\($0)", "missing input 'x' of type tensor(float) [2, 3]")
        }
        XCTAssertThrowsError(try session.run(["x": .tensor(Tensor(shape: [2, 3], elements: [Int64](repeating: 0, count: 6)))])) {
            XCTAssertEqual("\($0)", "input 'x': expected tensor(float), given tensor(int64)")
        }
        XCTAssertThrowsError(try session.run(["x": .tensor(good.reshaped([3, 2]))])) {
            XCTAssertEqual("\($0)", "input 'x': expected shape [2, 3], given [3, 2]")
        }
    }

    func testEveryUnsupportedNodeIsListedAtOnce() throws {
        XCTAssertThrowsError(try Session(contentsOf: fixtures + "/unknown_ops.onnx")) { error in
            XCTAssertEqual(
                "\(error)",
                "no kernel for 2 nodes: FrobnicateTensor (domain ai.onnx, opset 21, node 'frob'); "
                    + "Twiddle (domain com.example, opset 1, node 'twiddle')")
        }
    }

    func testCyclesAreNamedByTheirNodes() throws {
        XCTAssertThrowsError(try Session(contentsOf: fixtures + "/cycle.onnx")) { error in
            XCTAssertEqual(error as? GraphError, .cycle(nodes: ["node_a", "node_b", "node_c", "node_a"]))
        }
    }

    func testScheduleFreesEachValueAfterItsLastReaderAndDropsDeadNodes() throws {
        let graph = Graph(
            name: "g",
            nodes: [
                Node(name: "dead", opType: "Relu", inputs: ["x"], outputs: ["unused"]),
                Node(name: "second", opType: "Add", inputs: ["a", "x"], outputs: ["y"]),
                Node(name: "first", opType: "Relu", inputs: ["x"], outputs: ["a"]),
            ],
            inputs: [ValueInfo(name: "x", type: nil)], outputs: [ValueInfo(name: "y", type: nil)],
            initializers: [:], valueTypes: [:], opsets: ["": 21])
        let schedule = try Schedule(graph: graph)
        XCTAssertEqual(schedule.nodes.map(\.name), ["first", "second"])
        XCTAssertEqual(schedule.releasedAfter, [[], ["a", "x"]])
    }

    func testUndefinedValuesAndDuplicateOutputsAreRefused() throws {
        func graph(_ nodes: [Node]) -> Graph {
            Graph(name: "g", nodes: nodes, inputs: [ValueInfo(name: "x", type: nil)], outputs: [ValueInfo(name: "y", type: nil)],
                  initializers: [:], valueTypes: [:], opsets: ["": 21])
        }
        XCTAssertThrowsError(try Schedule(graph: graph([Node(name: "n", opType: "Add", inputs: ["x", "ghost"], outputs: ["y"])]))) {
            XCTAssertEqual($0 as? GraphError, .undefinedValue(node: "n", value: "ghost"))
        }
        let twice = [Node(name: "p", opType: "Relu", inputs: ["x"], outputs: ["y"]), Node(name: "q", opType: "Relu", inputs: ["x"], outputs: ["y"])]
        XCTAssertThrowsError(try Schedule(graph: graph(twice))) {
            XCTAssertEqual($0 as? GraphError, .duplicateDefinition(value: "y", producers: ["p", "q"]))
        }
    }
}

final class ShapeInferenceTests: XCTestCase {
    func testTypesAndShapesFlowThroughTheBundledModel() throws {
        let model = try TensorFiles.loadModel(packageRoot + "/Models/digits-gn/model.onnx")
        let graph = ShapeInference.infer(try Graph(model: model))
        let batch = Dimension.symbol("batch")
        XCTAssertEqual(graph.valueTypes["conv"], .tensor(.float, shape: [batch, .value(8), .value(8), .value(8)]))
        XCTAssertEqual(graph.valueTypes["gn"], .tensor(.float, shape: [batch, .value(8), .value(8), .value(8)]))
        XCTAssertEqual(graph.valueTypes["flat"], .tensor(.float, shape: [.unknown, .value(512)]))
        XCTAssertEqual(graph.valueTypes["logits"], .tensor(.float, shape: [.unknown, .value(10)]))
    }

    func testBroadcastingCastAndShapeRules() throws {
        let graph = Graph(
            name: "g",
            nodes: [
                Node(name: "add", opType: "Add", inputs: ["a", "b"], outputs: ["sum"]),
                Node(name: "less", opType: "Less", inputs: ["sum", "b"], outputs: ["mask"]),
                Node(name: "cast", opType: "Cast", inputs: ["mask"], outputs: ["ints"], attributes: ["to": .int(7)]),
                Node(name: "shape", opType: "Shape", inputs: ["ints"], outputs: ["dims"]),
                Node(name: "mm", opType: "MatMul", inputs: ["a", "m"], outputs: ["product"]),
            ],
            inputs: [
                ValueInfo(name: "a", type: .tensor(.float, shape: [.symbol("n"), .value(1), .value(4)])),
                ValueInfo(name: "b", type: .tensor(.float, shape: [.value(3), .value(1)])),
                ValueInfo(name: "m", type: .tensor(.float, shape: [.value(4), .value(5)])),
            ],
            outputs: [], initializers: [:], valueTypes: [:], opsets: ["": 21])
        var declared = graph
        for input in graph.inputs { declared.valueTypes[input.name] = input.type }
        let inferred = ShapeInference.infer(declared)
        let n = Dimension.symbol("n")
        XCTAssertEqual(inferred.valueTypes["sum"], .tensor(.float, shape: [n, .value(3), .value(4)]))
        XCTAssertEqual(inferred.valueTypes["mask"], .tensor(.bool, shape: [n, .value(3), .value(4)]))
        XCTAssertEqual(inferred.valueTypes["ints"], .tensor(.int64, shape: [n, .value(3), .value(4)]))
        XCTAssertEqual(inferred.valueTypes["dims"], .tensor(.int64, shape: [.value(3)]))
        XCTAssertEqual(inferred.valueTypes["product"], .tensor(.float, shape: [n, .value(1), .value(5)]))
    }
}
