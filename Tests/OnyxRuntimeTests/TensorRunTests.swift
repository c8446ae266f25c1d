import Foundation
import Onyx
import XCTest

/// `Session.run` with tensors in and out.
final class TensorRunTests: XCTestCase {
    func testTensorsInTensorsOut() throws {
        let session = try Session(contentsOf: fixtures + "/add_one.onnx")
        let outputs = try session.run(["x": Tensor(shape: [2, 3], elements: [Float](repeating: 2, count: 6))])
        XCTAssertEqual(Array(outputs.keys), ["y"])
        XCTAssertEqual(outputs["y"]?.shape, [2, 3])
        XCTAssertEqual(outputs["y"]?.elements(as: Float.self), [Float](repeating: 3, count: 6))
        XCTAssertThrowsError(try session.run(["x": Tensor(shape: [6], elements: [Float](repeating: 2, count: 6))])) {
            XCTAssertEqual("\($0)", "input 'x': expected shape [2, 3], given [6]")
        }
    }

    func testNonTensorOutputIsRefusedClearly() throws {
        let session = try Session(contentsOf: fixtures + "/sequence_output.onnx")
        XCTAssertThrowsError(try session.run(["x": Tensor(shape: [2], elements: [Float(1), 2])])) {
            XCTAssertEqual("\($0)", "output 's' is a sequence, not a tensor; run the session with Value feeds to get it")
        }
        let values = try session.run(["x": .tensor(Tensor(shape: [2], elements: [Float(1), 2]))])
        guard case .sequence(let elements, _)? = values["s"] else { return XCTFail("expected a sequence") }
        XCTAssertEqual(elements.count, 2)
    }
}
