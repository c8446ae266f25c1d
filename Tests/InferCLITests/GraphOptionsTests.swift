import Foundation
import XCTest

/// `--lower`, `--no-fusion` and `inspect --optimized`.
final class GraphOptionsTests: XCTestCase {
    private func histogram(_ arguments: [String]) throws -> Set<String> {
        let result = try InferProcess.run(["inspect"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        return Set(result.stdout.split(separator: "\n").map(String.init))
    }

    func testOptimizedInspectShowsTheSameFusedGraphForEverySpelling() throws {
        for spelling in ["op21", "pytorch", "nhwc-moments"] {
            let lines = try histogram(["Models/unet-gn/\(spelling)/model.onnx", "--optimized"])
            XCTAssertTrue(lines.contains("GroupNormalization(ai.onyx) 3"), "\(spelling): \(lines.sorted())")
            XCTAssertTrue(lines.isSuperset(of: ["Conv 4", "ConvTranspose 1", "Concat 1", "Sigmoid 1"]), spelling)
            XCTAssertFalse(lines.contains { $0.hasPrefix("Transpose ") || $0.hasPrefix("ReduceMean ") }, spelling)
        }
    }

    func testLoweringAndNoFusionShowInTheOptimizedHistogram() throws {
        let lowered = try histogram(["Models/unet-gn/op21/model.onnx", "--optimized", "--lower", "GroupNormalization"])
        XCTAssertTrue(lowered.contains("ReduceMean 6"), "\(lowered.sorted())")
        XCTAssertFalse(lowered.contains { $0.hasPrefix("GroupNormalization") })
        let unfused = try histogram(["Models/unet-gn/nhwc-moments/model.onnx", "--optimized", "--no-fusion"])
        XCTAssertTrue(unfused.contains("Transpose 12"), "\(unfused.sorted())")
    }

    func testUnknownLoweringIsAUsageError() throws {
        let result = try InferProcess.run(["check", "Models/unet-gn", "--lower", "Conv"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("--lower Conv: ops that can be lowered are GroupNormalization"), result.stderr)
    }
}
