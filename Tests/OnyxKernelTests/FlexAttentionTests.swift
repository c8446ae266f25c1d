import Foundation
import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// FlexAttention (ai.onnx.preview) on small hand-computed cases, with `score_mod` / `prob_mod` bodies emulated by
/// the context's subgraph runner.
final class FlexAttentionTests: XCTestCase {
    private let registry = KernelRegistry.standard

    func testWeighsValuesBySoftmaxOfScaledScores() throws {
        // One head, head size 1, scale 1: scores q·k = [0, ln 3], so the weights are [1/4, 3/4].
        let y = try run(["scale": .float(1)], [floats([1], [1, 1, 1, 1]), floats([0, logf(3)], [1, 1, 2, 1]), v48])
        XCTAssertEqual(y.shape, [1, 1, 1, 1])
        assertClose(y, [7], tolerance: 1e-3)
    }

    func testDefaultScaleIsInverseSquareRootOfHeadSize() throws {
        // Head size 4, so scale 1/2: q·k = [0, 2 ln 3] scales to [0, ln 3].
        let l = logf(3) / 2
        let y = try run(
            [:], [floats([1, 1, 1, 1], [1, 1, 1, 4]), floats([0, 0, 0, 0, l, l, l, l], [1, 1, 2, 4]), v48])
        assertClose(y, [7], tolerance: 1e-3)
    }

    func testQueryHeadsShareKeyValueHeadsInGroups() throws {
        // Four query heads over two KV heads: heads 0–1 read values [4, 8], heads 2–3 read [10, 20].
        let q = floats([0, 0, 0, 0], [1, 4, 1, 1])
        let k = floats([1, 1, 1, 1], [1, 2, 2, 1])
        let v = floats([4, 8, 10, 20], [1, 2, 2, 1])
        assertClose(try run([:], [q, k, v]), [6, 6, 15, 15], tolerance: 1e-3)
    }

    func testValueHeadSizeMayDifferFromQueryHeadSize() throws {
        let v = floats([1, 2, 3, 5, 6, 7], [1, 1, 2, 3])
        let y = try run([:], [floats([0], [1, 1, 1, 1]), floats([1, 2], [1, 1, 2, 1]), v])
        XCTAssertEqual(y.shape, [1, 1, 1, 3])
        assertClose(y, [3, 4, 5], tolerance: 1e-3)
    }

    func testScoreModRewritesScoresBeforeTheSoftmax() throws {
        // Equal scores over two keys; score_mod masks key 1 for query 0 (causal), so Y = [2, (2 + 6) / 2].
        let causal = KernelContext { name, inputs in
            guard name == "score_mod", let scores = inputs.first?.tensor, scores.shape == [1, 1, 2, 2] else {
                throw KernelError.invalidInput("unexpected subgraph call \(name)")
            }
            var values = scores.elements(as: Float.self)
            values[1] = -.infinity
            return [.tensor(Tensor(shape: scores.shape, elements: values))]
        }
        let y = try run(["score_mod": body], [ones([1, 1, 2, 1]), ones([1, 1, 2, 1]), v26], context: causal)
        assertClose(y, [2, 4], tolerance: 1e-3)
    }

    func testProbModRewritesProbabilitiesAfterTheSoftmax() throws {
        let halve = KernelContext { name, inputs in
            guard name == "prob_mod", let probs = inputs.first?.tensor else {
                throw KernelError.invalidInput("unexpected subgraph call \(name)")
            }
            return [.tensor(Tensor(shape: probs.shape, elements: probs.elements(as: Float.self).map { $0 / 2 }))]
        }
        let y = try run(["prob_mod": body], [ones([1, 1, 1, 1]), ones([1, 1, 2, 1]), v26], context: halve)
        assertClose(y, [2], tolerance: 1e-3)
    }

    func testFullyMaskedRowAttendsNothing() throws {
        let maskAll = KernelContext { _, inputs in
            let shape = inputs[0].tensor?.shape ?? []
            return [.tensor(Tensor(shape: shape, elements: [Float](repeating: -.infinity, count: 2)))]
        }
        let y = try run(["score_mod": body], [ones([1, 1, 1, 1]), ones([1, 1, 2, 1]), v26], context: maskAll)
        assertClose(y, [0], tolerance: 1e-3)
    }

    func testHalfInputsGiveFloatScoresToModifiersAndHalfOutput() throws {
        let checksType = KernelContext { _, inputs in
            guard let scores = inputs.first?.tensor, scores.dataType == .float else {
                throw KernelError.invalidInput("score_mod should see float scores")
            }
            return inputs
        }
        let half = { (values: [Float], shape: [Int]) in Tensor(shape: shape, elements: values.map { Float16($0) }) }
        let y = try run(
            ["scale": .float(1), "score_mod": body],
            [half([1], [1, 1, 1, 1]), half([0, logf(3)], [1, 1, 2, 1]), half([4, 8], [1, 1, 2, 1])],
            context: checksType)
        XCTAssertEqual(y.dataType, .float16)
        assertClose(y, [7], tolerance: 1e-3)
    }

    func testDoubleInputsComputeInDouble() throws {
        let q = Tensor(shape: [1, 1, 1, 1], elements: [1.0])
        let k = Tensor(shape: [1, 1, 2, 1], elements: [0, log(3.0)])
        let v = Tensor(shape: [1, 1, 2, 1], elements: [4.0, 8.0])
        let y = try run(["scale": .float(1)], [q, k, v])
        XCTAssertEqual(y.dataType, .double)
        assertClose(y, [7], tolerance: 1e-12)
    }

    func testRejectsBadInputsAndAttributes() {
        let one = ones([1, 1, 1, 1])
        XCTAssertThrowsError(try run([:], [floats([1], [1, 1, 1]), one, one]), "rank 3")
        XCTAssertThrowsError(try run([:], [ones([1, 1, 1, 2]), one, one]), "head sizes differ")
        XCTAssertThrowsError(try run([:], [ones([1, 3, 1, 1]), ones([1, 2, 1, 1]), ones([1, 2, 1, 1])]), "GQA")
        XCTAssertThrowsError(try run([:], [one, ones([1, 1, 2, 1]), one]), "K and V lengths differ")
        XCTAssertThrowsError(try run([:], [one, one, Tensor(shape: [1, 1, 1, 1], elements: [1.0])]), "mixed types")
        XCTAssertThrowsError(try run(["softmax_precision": .int(6)], [one, one, one]), "int32 precision")
        let reshaping = KernelContext { _, _ in [.tensor(Tensor(shape: [1], elements: [Float(0)]))] }
        XCTAssertThrowsError(try run(["score_mod": body], [one, one, one], context: reshaping), "shape changed")
    }

    // MARK: Helpers

    /// A graph attribute: its presence is what the kernel reads; the test context stands in for running it.
    private let body = AttributeValue.graph(
        GraphProto(name: "body", nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: []))
    private let v48 = Tensor(shape: [1, 1, 2, 1], elements: [Float(4), 8])
    private let v26 = Tensor(shape: [1, 1, 2, 1], elements: [Float(2), 6])

    private func run(
        _ attributes: [String: AttributeValue], _ inputs: [Tensor], context: KernelContext = KernelContext()
    ) throws -> Tensor {
        let node = KernelNode(
            opType: "FlexAttention", domain: "ai.onnx.preview", opsetVersion: 1, attributes: attributes,
            inputPresent: inputs.map { _ in true })
        let outputs = try registry.evaluate(node, inputs: inputs.map { .tensor($0) }, context: context)
        guard outputs.count == 1, let y = outputs[0].tensor else { throw KernelError.invalidInput("expected one Y") }
        return y
    }

    private func floats(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, elements: values)
    }

    private func ones(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, elements: [Float](repeating: 1, count: shape.reduce(1, *)))
    }
}
