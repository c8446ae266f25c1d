import Foundation
import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// Attention, RotaryEmbedding, RNN/GRU/LSTM, LinearAttention, CausalConvWithState and SwiGLU on small
/// hand-computed cases.
final class RecurrentTests: XCTestCase {
    private let registry = KernelRegistry.standard

    // MARK: Attention

    func testAttentionWeighsValuesBySoftmaxOfScaledScores() throws {
        // One head, head size 1, scale 1: scores q·k = [0, ln 3], so the weights are [1/4, 3/4].
        let outputs = try run(
            "Attention", opset: 23, ["scale": .float(1)],
            [floats([1], [1, 1, 1, 1]), floats([0, Float(log(3.0))], [1, 1, 2, 1]), floats([4, 8], [1, 1, 2, 1])],
            outputs: 4)
        assertClose(outputs[0], [7])
        assertClose(outputs[3], [0, log(3.0)])
        XCTAssertEqual(outputs[1].shape, [1, 1, 2, 1])
    }

    func testAttentionCausalMaskAndFullyMaskedRows() throws {
        // Two queries over two keys: causal query 0 sees only key 0; an all-false boolean row yields zeros.
        let q = floats([1, 1], [1, 1, 2, 1])
        let k = floats([1, 1], [1, 1, 2, 1])
        let v = floats([2, 6], [1, 1, 2, 1])
        let causal = try run("Attention", opset: 23, ["is_causal": .int(1)], [q, k, v])
        assertClose(causal[0], [2, 4])
        let mask = Tensor(shape: [2, 2], elements: [false, false, true, true])
        let masked = try run("Attention", opset: 23, [:], [q, k, v, mask])
        assertClose(masked[0], [0, 4])
    }

    func testAttentionSharesKeyHeadsAcrossQueryHeadsIn3D() throws {
        // q_num_heads 2 over one KV head: both query heads read the same (single) value.
        let outputs = try run(
            "Attention", opset: 23, ["q_num_heads": .int(2), "kv_num_heads": .int(1)],
            [floats([1, -1], [1, 1, 2]), floats([3], [1, 1, 1]), floats([5], [1, 1, 1])])
        XCTAssertEqual(outputs[0].shape, [1, 1, 2])
        assertClose(outputs[0], [5, 5])
    }

    func testAttentionAppendsPastKeysAndValues() throws {
        let q = floats([0], [1, 1, 1, 1])
        let outputs = try run(
            "Attention", opset: 24, [:],
            [
                q, floats([1], [1, 1, 1, 1]), floats([6], [1, 1, 1, 1]), nil, floats([2], [1, 1, 1, 1]),
                floats([2], [1, 1, 1, 1]),
            ],
            outputs: 3)
        assertClose(outputs[0], [4])
        assertClose(outputs[1], [2, 1])
        assertClose(outputs[2], [2, 6])
    }

    func testAttentionRejectsBadInputs() {
        let q = floats([1, 2], [1, 1, 2])
        XCTAssertThrowsError(try run("Attention", opset: 23, [:], [q, q, q]))
        let q4 = floats([1], [1, 1, 1, 1])
        XCTAssertThrowsError(try run("Attention", opset: 23, [:], [q4, q4, q4, nil, q4]))
        XCTAssertThrowsError(
            try run("Attention", opset: 25, ["q_num_heads": .int(1), "kv_num_heads": .int(1)], [q4, q4, q4]))
        XCTAssertThrowsError(try run("Attention", opset: 23, ["qk_matmul_output_mode": .int(4)], [q4, q4, q4]))
    }

    // MARK: RotaryEmbedding

    func testRotaryEmbeddingRotatesHalvesAndInterleavedPairs() throws {
        // cos 0, sin 1 turns each (x1, x2) pair into (-x2, x1).
        let x = floats([1, 2, 3, 4], [1, 1, 1, 4])
        let cos = floats([1, 1, 0, 0], [2, 2])
        let sin = floats([0, 0, 1, 1], [2, 2])
        let positions = Tensor(shape: [1, 1], elements: [Int64(1)])
        assertClose(try run("RotaryEmbedding", opset: 23, [:], [x, cos, sin, positions])[0], [-3, -4, 1, 2])
        assertClose(
            try run("RotaryEmbedding", opset: 23, ["interleaved": .int(1)], [x, cos, sin, positions])[0],
            [-2, 1, -4, 3])
        let unrotated = Tensor(shape: [1, 1], elements: [Int64(0)])
        assertClose(try run("RotaryEmbedding", opset: 23, [:], [x, cos, sin, unrotated])[0], [1, 2, 3, 4])
    }

    func testRotaryEmbeddingRejectsPositionsOutsideTheCache() {
        let x = floats([1, 2], [1, 1, 1, 2])
        let cache = floats([1], [1, 1])
        let positions = Tensor(shape: [1, 1], elements: [Int64(5)])
        XCTAssertThrowsError(try run("RotaryEmbedding", opset: 23, [:], [x, cache, cache, positions]))
    }

    // MARK: RNN, GRU, LSTM

    func testRNNAppliesTanhAndHonoursSequenceLengths() throws {
        // H_t = tanh(x_t + H_{t-1}); batch entry 1 stops after one step, leaving zeros in Y.
        let x = floats([0.5, 1, 0.25, 9], [2, 2, 1])
        let lengths = Tensor(shape: [2], elements: [Int32(2), 1])
        let outputs = try run(
            "RNN", opset: 14, ["hidden_size": .int(1)],
            [x, floats([1], [1, 1, 1]), floats([1], [1, 1, 1]), nil, lengths], outputs: 2)
        let first = tanh(0.5)
        assertClose(outputs[0], [first, tanh(1), tanh(0.25 + first), 0])
        assertClose(outputs[1], [tanh(0.25 + first), tanh(1)])
    }

    func testRNNReverseAndBatchMajorLayout() throws {
        let x = floats([1, 2], [1, 2, 1])
        let outputs = try run(
            "RNN", opset: 14, ["direction": .string(Array("reverse".utf8)), "layout": .int(1)],
            [x, floats([1], [1, 1, 1]), floats([1], [1, 1, 1])], outputs: 2)
        XCTAssertEqual(outputs[0].shape, [1, 2, 1, 1])
        assertClose(outputs[0], [tanh(1 + tanh(2)), tanh(2)])
        assertClose(outputs[1], [tanh(1 + tanh(2))])
    }

    func testGRUWithZeroWeightsHalvesTheState() throws {
        // z = r = sigmoid(0) = 1/2 and the candidate is tanh(0) = 0, so H = H_prev / 2 per step.
        let zeros = floats([0, 0, 0], [1, 3, 1])
        for linearBeforeReset in [0, 1] {
            let outputs = try run(
                "GRU", opset: 14, ["linear_before_reset": .int(linearBeforeReset)],
                [floats([1, 1], [2, 1, 1]), zeros, zeros, nil, nil, floats([4], [1, 1, 1])], outputs: 2)
            assertClose(outputs[0], [2, 1])
            assertClose(outputs[1], [1])
        }
    }

    func testLSTMWithZeroWeightsAndPeepholes() throws {
        // Zero weights: i = f = o = 1/2 and the candidate is 0, so C = C_prev / 2 and H = tanh(C) / 2.
        let zeros = floats([0, 0, 0, 0], [1, 4, 1])
        let one = floats([1], [1, 1, 1])
        let outputs = try run(
            "LSTM", opset: 14, [:], [floats([3], [1, 1, 1]), zeros, zeros, nil, nil, nil, one], outputs: 3)
        assertClose(outputs[2], [0.5])
        assertClose(outputs[1], [0.5 * tanh(0.5)])
        // A peephole of 2 on the output gate (order i, o, f) sees the new C = 1/2: o = sigmoid(1).
        let peepholes = floats([0, 2, 0], [1, 3])
        let peeped = try run(
            "LSTM", opset: 14, [:], [floats([3], [1, 1, 1]), zeros, zeros, nil, nil, nil, one, peepholes], outputs: 3)
        assertClose(peeped[2], [0.5])
        assertClose(peeped[1], [tanh(0.5) / (1 + exp(-1))])
    }

    func testRecurrentRejectsMismatchedWeights() {
        let x = floats([1], [1, 1, 1])
        XCTAssertThrowsError(try run("GRU", opset: 14, [:], [x, floats([1], [1, 1, 1]), floats([1], [1, 1, 1])]))
        XCTAssertThrowsError(
            try run("RNN", opset: 14, ["activations": .strings([Array("Cosine".utf8)])], [x, x, x]))
        let lengths = Tensor(shape: [1], elements: [Int32(3)])
        XCTAssertThrowsError(try run("RNN", opset: 14, [:], [x, x, x, nil, lengths]))
    }

    // MARK: LinearAttention, CausalConvWithState, SwiGLU

    func testLinearAttentionAccumulatesOuterProducts() throws {
        // linear rule, one head, d = 1, scale 1: S_t = S_{t-1} + k_t v_t and o_t = q_t S_t.
        let outputs = try run(
            "LinearAttention", opset: 27,
            [
                "q_num_heads": .int(1), "kv_num_heads": .int(1), "scale": .float(1),
                "update_rule": .string(Array("linear".utf8)),
            ],
            [floats([1, 2], [1, 2, 1]), floats([1, 1], [1, 2, 1]), floats([3, 4], [1, 2, 1])], outputs: 2)
        assertClose(outputs[0], [3, 14])
        assertClose(outputs[1], [7])
    }

    func testLinearAttentionRequiresDecayForGatedRules() {
        let x = floats([1], [1, 1, 1])
        XCTAssertThrowsError(
            try run("LinearAttention", opset: 27, ["q_num_heads": .int(1), "kv_num_heads": .int(1)], [x, x, x]))
    }

    func testCausalConvWithStateContinuesFromPastState() throws {
        // Kernel [1, 1] over [10 | 1, 2, 3]: outputs 11, 3, 5 and the last input becomes the new state.
        let outputs = try run(
            "CausalConvWithState", opset: 27, [:],
            [floats([1, 2, 3], [1, 1, 3]), floats([1, 1], [1, 1, 2]), nil, floats([10], [1, 1, 1])], outputs: 2)
        assertClose(outputs[0], [11, 3, 5])
        assertClose(outputs[1], [3])
        XCTAssertThrowsError(
            try run("CausalConvWithState", opset: 27, [:], [floats([1, 2], [1, 1, 2]), floats([1, 1], [2, 1, 1])]))
    }

    func testSwiGLUGatesTheValue() throws {
        let outputs = try run("SwiGLU", opset: 28, [:], [floats([0, 1], [2]), floats([5, 2], [2])])
        assertClose(outputs[0], [0, 2 / (1 + exp(-1))])
        XCTAssertThrowsError(try run("SwiGLU", opset: 28, [:], [floats([0, 1], [2]), floats([1], [1])]))
    }

    // MARK: Helpers

    private func run(
        _ op: String, opset: Int, _ attributes: [String: AttributeValue], _ inputs: [Tensor?], outputs: Int = 1
    ) throws -> [Tensor] {
        let node = KernelNode(
            opType: op, opsetVersion: opset, attributes: attributes, inputPresent: inputs.map { $0 != nil },
            outputCount: outputs)
        return try registry.evaluate(node, inputs: inputs.map { $0.map { .tensor($0) } }).compactMap(\.tensor)
    }

    private func floats(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, elements: values)
    }
}
