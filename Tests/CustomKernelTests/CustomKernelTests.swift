import CustomKernel
import Foundation
import Onyx
import XCTest

/// The custom-kernel example of docs/custom-kernels.md, end to end: a model with a `com.example` op runs once
/// the example's kernels are registered, and fails with the op named when they are not.
final class CustomKernelTests: XCTestCase {
    private let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/custom_op.onnx").path

    func testModelWithCustomDomainOpRunsWithTheExampleKernels() throws {
        var registry = KernelRegistry.standard
        ExampleKernels.register(in: &registry)
        let session = try Session(contentsOf: model, options: SessionOptions(registry: registry))
        let x = Tensor(shape: [2, 3], elements: [Float]([-3, -1, -0.5, 0.25, 1, 5]))
        let outputs = try session.run(["x": x])
        // alpha = 0.5, then doubled: -3 → -1 + 0.5·(-2) = -2 → -4; 5 → 1 + 0.5·4 = 3 → 6.
        XCTAssertEqual(outputs["y"]?.shape, [2, 3])
        XCTAssertEqual(outputs["y"]?.elements(as: Float.self), [-4, -2, -1, 0.5, 2, 6])
    }

    func testWithoutTheKernelsTheOpIsNamed() {
        XCTAssertThrowsError(try Session(contentsOf: model)) { error in
            XCTAssertTrue("\(error)".contains("LeakyHardTanh (domain com.example, opset 1, node 'leaky')"), "\(error)")
        }
    }

    func testKernelRefusesBadAttributesAndTypes() throws {
        var registry = KernelRegistry()
        ExampleKernels.register(in: &registry)
        let node = KernelNode(opType: "LeakyHardTanh", domain: "com.example", opsetVersion: 1, attributes: ["alpha": .float(.nan)])
        XCTAssertThrowsError(try registry.evaluate(node, inputs: [.tensor(Tensor(scalar: Float(1)))])) { error in
            XCTAssertEqual(error as? KernelError, .invalidAttribute("alpha", "must be finite, got nan"))
        }
        let doubles = KernelNode(opType: "LeakyHardTanh", domain: "com.example", opsetVersion: 1)
        let result = try registry.evaluate(doubles, inputs: [.tensor(Tensor(shape: [2], elements: [Double(2), -0.5]))])
        let values = try XCTUnwrap(result.first?.tensor?.elements(as: Double.self))
        XCTAssertEqual(values[0], 1.01, accuracy: 1e-7, "alpha defaults to 0.01")
        XCTAssertEqual(values[1], -0.5)
        XCTAssertThrowsError(try registry.evaluate(doubles, inputs: [.tensor(Tensor(shape: [1], elements: [Int64(1)]))]))
    }
}
