import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

final class ReductionTests: XCTestCase {
    private var registry: KernelRegistry {
        var registry = KernelRegistry()
        registerReductionKernels(into: &registry)
        return registry
    }

    private func run(
        _ op: String, opset: Int, _ attributes: [String: AttributeValue] = [:], _ inputs: [Tensor?], outputs: Int = 1
    ) throws -> [Tensor] {
        let node = KernelNode(
            opType: op, opsetVersion: opset, attributes: attributes, inputPresent: inputs.map { $0 != nil },
            outputCount: outputs)
        return try registry.evaluate(node, inputs: inputs.map { $0.map(Value.tensor) }).map { try XCTUnwrap($0.tensor) }
    }

    private func floats(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, elements: values) }
    private func int64s(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], elements: values) }

    private func assertClose(_ tensor: Tensor, _ expected: [Double], shape: [Int], accuracy: Double = 1e-5,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(tensor.shape, shape, file: file, line: line)
        let values = tensor.doubleValues() ?? []
        XCTAssertEqual(values.count, expected.count, file: file, line: line)
        for (value, target) in zip(values, expected) where !(value.isNaN && target.isNaN) && value != target {
            XCTAssertEqual(value, target, accuracy: accuracy, file: file, line: line)
        }
    }

    // MARK: - Reduce*

    func testReduceSumAxesAttributeAndInput() throws {
        let x = floats([2, 3], [1, 2, 3, 4, 5, 6])
        assertClose(try run("ReduceSum", opset: 11, ["axes": .ints([1]), "keepdims": .int(0)], [x])[0], [6, 15], shape: [2])
        assertClose(try run("ReduceSum", opset: 13, [:], [x, int64s([-2])])[0], [5, 7, 9], shape: [1, 3])
        assertClose(try run("ReduceSum", opset: 13, ["keepdims": .int(0)], [x, nil])[0], [21], shape: [])
    }

    func testNonAdjacentAxesCoalesce() throws {
        let values = (0..<24).map(Float.init)
        let result = try run("ReduceSum", opset: 18, [:], [floats([2, 3, 4], values), int64s([0, 2])])[0]
        // Element (a, b, c) holds 12a + 4b + c; the sum over a < 2, c < 4 is 32b + 48 + 12.
        assertClose(result, [60, 92, 124], shape: [1, 3, 1])
    }

    func testNoopWithEmptyAxesStillAppliesElementwisePart() throws {
        let x = floats([3], [-1, 2, 3])
        let attributes: [String: AttributeValue] = ["noop_with_empty_axes": .int(1)]
        assertClose(try run("ReduceSumSquare", opset: 18, attributes, [x, int64s([])])[0], [1, 4, 9], shape: [3])
        assertClose(try run("ReduceL1", opset: 18, attributes, [x, nil])[0], [1, 2, 3], shape: [3])
        assertClose(try run("ReduceSum", opset: 18, [:], [x, int64s([])])[0], [4], shape: [1])
    }

    func testFloatMeanOverLastAxisUsesEveryElement() throws {
        // 37 = two SIMD blocks plus a tail of 5.
        let values = (0..<74).map { Float($0) * 0.5 - 3 }
        let result = try run("ReduceMean", opset: 18, [:], [floats([2, 37], values), int64s([-1])])[0]
        let expected = [values[..<37], values[37...]].map { $0.reduce(0) { $0 + Double($1) } / 37 }
        assertClose(result, expected, shape: [2, 1])
    }

    func testEmptySetGivesIdentity() throws {
        let empty = floats([2, 0], [])
        let axes = int64s([1])
        assertClose(try run("ReduceMax", opset: 18, [:], [empty, axes])[0], [-.infinity, -.infinity], shape: [2, 1])
        assertClose(try run("ReduceMin", opset: 18, [:], [empty, axes])[0], [.infinity, .infinity], shape: [2, 1])
        assertClose(try run("ReduceProd", opset: 18, [:], [empty, axes])[0], [1, 1], shape: [2, 1])
        assertClose(try run("ReduceLogSumExp", opset: 18, [:], [empty, axes])[0], [-.infinity, -.infinity], shape: [2, 1])
        assertClose(try run("ReduceSum", opset: 13, [:], [empty, axes])[0], [0, 0], shape: [2, 1])
        let emptyInts = Tensor(shape: [0], elements: [Int32]())
        XCTAssertEqual(try run("ReduceMax", opset: 18, [:], [emptyInts, nil])[0].elements(as: Int32.self), [Int32.min])
    }

    func testExtremaPropagateNaNAndOrderBooleans() throws {
        assertClose(try run("ReduceMax", opset: 18, [:], [floats([3], [1, .nan, 2]), nil])[0], [.nan], shape: [1])
        let flags = Tensor(shape: [2, 2], elements: [false, true, false, false])
        let result = try run("ReduceMax", opset: 20, ["keepdims": .int(0)], [flags, int64s([1])])[0]
        XCTAssertEqual(result.elements(as: Bool.self), [true, false])
        XCTAssertThrowsError(try run("ReduceSum", opset: 13, [:], [flags, nil]))
    }

    func testLogSumExpIsStableForLargeInputs() throws {
        let result = try run("ReduceLogSumExp", opset: 18, [:], [floats([2], [1000, 1000]), nil])[0]
        assertClose(result, [1000 + log(2.0)], shape: [1], accuracy: 1e-3)
        assertClose(try run("ReduceLogSum", opset: 11, [:], [floats([2], [1, 2])])[0], [log(3.0)], shape: [1])
    }

    func testIntegerReductionsTruncate() throws {
        let x = Tensor(shape: [3], elements: [Int32(3), 4, 2])
        XCTAssertEqual(try run("ReduceL2", opset: 18, [:], [x, nil])[0].elements(as: Int32.self), [5])
        XCTAssertEqual(try run("ReduceMean", opset: 18, [:], [x, nil])[0].elements(as: Int32.self), [3])
        XCTAssertEqual(try run("ReduceProd", opset: 18, [:], [x, nil])[0].elements(as: Int32.self), [24])
    }

    func testReduceRejectsBadAxes() throws {
        let x = floats([2, 2], [1, 2, 3, 4])
        XCTAssertThrowsError(try run("ReduceSum", opset: 13, [:], [x, int64s([2])]))
        XCTAssertThrowsError(try run("ReduceSum", opset: 13, [:], [x, int64s([1, -1])]))
        XCTAssertThrowsError(try run("ReduceMean", opset: 18, [:], [x, floats([1], [0])]))
    }

    // MARK: - ArgMax, ArgMin, CumSum, CumProd, TopK

    func testArgExtremaSelectFirstOrLastIndex() throws {
        let x = floats([2, 3], [1, 5, 5, 7, 0, 0])
        let first = try run("ArgMax", opset: 13, ["axis": .int(1), "keepdims": .int(0)], [x])[0]
        XCTAssertEqual(first.elements(as: Int64.self), [1, 0])
        let last = try run("ArgMin", opset: 13, ["axis": .int(-1), "select_last_index": .int(1)], [x])[0]
        XCTAssertEqual(last.shape, [2, 1])
        XCTAssertEqual(last.elements(as: Int64.self), [0, 2])
        let overRows = try run("ArgMax", opset: 13, [:], [x])[0]
        XCTAssertEqual(overRows.elements(as: Int64.self), [1, 0, 0])
        XCTAssertThrowsError(try run("ArgMax", opset: 13, ["axis": .int(2)], [x]))
    }

    func testCumulativeSumAndProduct() throws {
        let x = floats([3], [1, 2, 3])
        let axis = Tensor(scalar: Int64(0))
        assertClose(try run("CumSum", opset: 14, [:], [x, axis])[0], [1, 3, 6], shape: [3])
        assertClose(
            try run("CumSum", opset: 14, ["exclusive": .int(1), "reverse": .int(1)], [x, axis])[0], [5, 3, 0], shape: [3])
        assertClose(try run("CumProd", opset: 26, ["exclusive": .int(1)], [x, axis])[0], [1, 1, 2], shape: [3])
        let matrix = Tensor(shape: [2, 2], elements: [Int32(1), 2, 3, 4])
        let columns = try run("CumSum", opset: 14, [:], [matrix, Tensor(scalar: Int32(-1))])[0]
        XCTAssertEqual(columns.elements(as: Int32.self), [1, 3, 3, 7])
        XCTAssertThrowsError(try run("CumSum", opset: 14, [:], [x, Tensor(scalar: Int64(1))]))
    }

    func testTopKKeepsIndexOrderForTies() throws {
        let x = floats([2, 4], [3, 1, 3, 2, 0, 0, 5, 0])
        let largest = try run("TopK", opset: 11, [:], [x, int64s([2])], outputs: 2)
        assertClose(largest[0], [3, 3, 5, 0], shape: [2, 2])
        XCTAssertEqual(largest[1].elements(as: Int64.self), [0, 2, 2, 0])
        let smallest = try run("TopK", opset: 11, ["largest": .int(0), "axis": .int(0)], [x, int64s([1])], outputs: 2)
        assertClose(smallest[0], [0, 0, 3, 0], shape: [1, 4])
        XCTAssertEqual(smallest[1].elements(as: Int64.self), [1, 1, 0, 1])
        let attribute = try run("TopK", opset: 1, ["k": .int(1)], [x], outputs: 2)
        XCTAssertEqual(attribute[1].elements(as: Int64.self), [0, 2])
        XCTAssertThrowsError(try run("TopK", opset: 11, [:], [x, int64s([5])], outputs: 2))
    }

    // MARK: - Einsum

    func testEinsumContractionsAndImplicitOutput() throws {
        let a = floats([2, 2], [1, 2, 3, 4])
        let b = floats([2, 2], [5, 6, 7, 8])
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("ij,jk".utf8))], [a, b])[0],
                    [19, 22, 43, 50], shape: [2, 2])
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("ba".utf8))], [a])[0],
                    [1, 3, 2, 4], shape: [2, 2])
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("ii".utf8))], [a])[0], [5], shape: [])
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("i j , i j -> ".utf8))], [a, b])[0],
                    [70], shape: [])
    }

    func testEinsumEllipsisBroadcastAndDiagonal() throws {
        let batch = floats([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("...ii->...i".utf8))], [batch])[0],
                    [1, 4, 5, 8], shape: [2, 2])
        let vector = floats([2], [1, 10])
        // The vector broadcasts over the batch: out[b, i] = Σ_j batch[b, i, j]·vector[j].
        assertClose(try run("Einsum", opset: 12, ["equation": .string(Array("...ij,j->...i".utf8))], [batch, vector])[0],
                    [21, 43, 65, 87], shape: [2, 2])
        let ints = Tensor(shape: [3], elements: [Int64(1), 2, 3])
        let dot = try run("Einsum", opset: 12, ["equation": .string(Array("i,i".utf8))], [ints, ints])[0]
        XCTAssertEqual(dot.elements(as: Int64.self), [14])
    }

    func testEinsumRejectsMismatches() throws {
        let a = floats([2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try run("Einsum", opset: 12, ["equation": .string(Array("ij,jk".utf8))], [a]))
        XCTAssertThrowsError(try run("Einsum", opset: 12, ["equation": .string(Array("ijk".utf8))], [a]))
        XCTAssertThrowsError(try run("Einsum", opset: 12, ["equation": .string(Array("ij,jk".utf8))], [a, a]))
        XCTAssertThrowsError(try run("Einsum", opset: 12, ["equation": .string(Array("ij->iz".utf8))], [a]))
        XCTAssertThrowsError(try run("Einsum", opset: 12, ["equation": .string(Array("i1".utf8))], [a]))
    }

    // MARK: - Losses

    func testNegativeLogLikelihoodWeightsAndIgnoreIndex() throws {
        let logp = floats([3, 2], [-1, -2, -3, -4, -5, -6])
        let target = int64s([1, 0, 1])
        let weight = floats([2], [1, 0.5])
        let attributes: [String: AttributeValue] = ["ignore_index": .int(0)]
        // Position 1 is ignored: (0.5·2 + 0.5·6) / (0.5 + 0.5).
        assertClose(try run("NegativeLogLikelihoodLoss", opset: 13, attributes, [logp, target, weight])[0], [4], shape: [])
        let none = try run("NegativeLogLikelihoodLoss", opset: 13, ["reduction": .string(Array("none".utf8))], [logp, target])
        assertClose(none[0], [2, 3, 6], shape: [3])
        XCTAssertThrowsError(try run("NegativeLogLikelihoodLoss", opset: 13, [:], [logp, int64s([2, 0, 1])]))
        XCTAssertThrowsError(try run("NegativeLogLikelihoodLoss", opset: 13, ["reduction": .string(Array("max".utf8))], [logp, target]))
    }

    func testSoftmaxCrossEntropyReturnsLogProbabilities() throws {
        let scores = floats([2, 3], [1, 2, 3, 4, 5, 6])
        let outputs = try run(
            "SoftmaxCrossEntropyLoss", opset: 13, [:], [scores, int64s([2, 0]), floats([3], [0.5, 1, 2])], outputs: 2)
        assertClose(outputs[0], [0.8076059644443803], shape: [])
        let row = [-2.40760596, -1.40760596, -0.40760596]
        assertClose(outputs[1], row + row, shape: [2, 3])
    }

    // MARK: - Det, windows, MelWeightMatrix

    func testDeterminantPivotsAndBatches() throws {
        let matrices = floats([2, 3, 3], [0, 1, 2, 1, 0, 3, 4, -3, 8, 1, 2, 3, 2, 4, 6, 0, 1, 1])
        assertClose(try run("Det", opset: 11, [:], [matrices])[0], [-2, 0], shape: [2])
        XCTAssertThrowsError(try run("Det", opset: 11, [:], [floats([2, 3], [1, 2, 3, 4, 5, 6])]))
    }

    func testWindows() throws {
        let size = Tensor(scalar: Int64(4))
        assertClose(try run("HannWindow", opset: 17, [:], [size])[0], [0, 0.5, 1, 0.5], shape: [4])
        assertClose(try run("HannWindow", opset: 17, ["periodic": .int(0)], [Tensor(scalar: Int32(3))])[0],
                    [0, 1, 0], shape: [3])
        assertClose(try run("HammingWindow", opset: 17, [:], [size])[0],
                    [4.0 / 46, 25.0 / 46, 1, 25.0 / 46], shape: [4])
        let blackman = try run("BlackmanWindow", opset: 17, ["output_datatype": .int(11)], [size])[0]
        XCTAssertEqual(blackman.dataType, .double)
        assertClose(blackman, [0, 0.34, 1, 0.34], shape: [4])
        XCTAssertThrowsError(try run("HannWindow", opset: 17, ["output_datatype": .int(8)], [size]))
    }

    func testMelWeightMatrixMatchesReference() throws {
        let inputs = [Tensor(scalar: Int64(4)), Tensor(scalar: Int64(8)), Tensor(scalar: Int64(8000)),
                      Tensor(scalar: Float(0)), Tensor(scalar: Float(4000))]
        let expected: [Double] = [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        assertClose(try run("MelWeightMatrix", opset: 17, [:], inputs)[0], expected, shape: [5, 4])
    }

    // MARK: - DFT, STFT

    func testDFTForwardOnesidedAndInverse() throws {
        let signal = floats([1, 3, 1], [1, 2, 3])
        let axis = int64s([1])
        assertClose(try run("DFT", opset: 20, [:], [signal, nil, axis])[0],
                    [6, 0, -1.5, 0.8660254, -1.5, -0.8660254], shape: [1, 3, 2])
        let five = floats([5, 1], [1, 2, 3, 4, 5])
        assertClose(try run("DFT", opset: 17, ["onesided": .int(1), "axis": .int(0)], [five])[0],
                    [15, 0, -2.5, 3.4409548, -2.5, 0.81229924], shape: [3, 2])
        let spectrum = floats([1, 3, 2], [10, 0, -2, 2, -2, 0])
        assertClose(try run("DFT", opset: 20, ["inverse": .int(1), "onesided": .int(1)], [spectrum])[0],
                    [1, 2, 3, 4], shape: [1, 4, 1])
        let eight = floats([8, 2], (0..<16).map(Float.init))
        let roundTrip = try run("DFT", opset: 17, ["inverse": .int(1), "axis": .int(0)],
                                [try run("DFT", opset: 17, ["axis": .int(0)], [eight])[0]])[0]
        assertClose(roundTrip, (0..<16).map(Double.init), shape: [8, 2], accuracy: 1e-4)
        XCTAssertThrowsError(try run("DFT", opset: 20, [:], [signal, nil, int64s([2])]))
        XCTAssertThrowsError(try run("DFT", opset: 20, [:], [signal, int64s([0])]))
    }

    func testSTFTFramesWindowedSignal() throws {
        let signal = floats([1, 6, 1], [1, 2, 3, 4, 5, 6])
        let outputs = try run("STFT", opset: 17, [:], [signal, Tensor(scalar: Int64(2)), floats([2], [1, -1]), nil])
        // Frames [1,2], [3,4], [5,6] weighted by [1, -1]: bins 0 and 1 are x0 − x1 and x0 + x1.
        assertClose(outputs[0], [-1, 0, 3, 0, -1, 0, 7, 0, -1, 0, 11, 0], shape: [1, 3, 2, 2])
        XCTAssertThrowsError(try run("STFT", opset: 17, [:], [signal, Tensor(scalar: Int64(0))]))
    }
}
