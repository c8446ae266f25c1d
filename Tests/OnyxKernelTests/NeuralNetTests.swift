import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

final class NeuralNetTests: XCTestCase {
    // MARK: - Helpers

    private func run(
        _ op: String, opset: Int = 22, _ inputs: [Tensor?], outputs: Int = 1, threads: Int = 1
    ) throws -> [Tensor] {
        try run(op, opset: opset, [:], inputs, outputs: outputs, threads: threads)
    }

    private func run(
        _ op: String, opset: Int = 22, _ attributes: [String: AttributeValue], _ inputs: [Tensor?],
        outputs: Int = 1, threads: Int = 1
    ) throws -> [Tensor] {
        let node = KernelNode(
            opType: op, opsetVersion: opset, attributes: attributes, inputPresent: inputs.map { $0 != nil },
            outputCount: outputs)
        let values = try KernelRegistry.standard.evaluate(
            node, inputs: inputs.map { $0.map(Value.tensor) }, context: KernelContext(threads: threads))
        return values.compactMap(\.tensor)
    }

    private func floats(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, elements: values) }

    /// Row-major values 0, 1, 2, … of `shape`.
    private func ramp(_ shape: [Int]) -> Tensor {
        floats(shape, (0..<shape.reduce(1, *)).map(Float.init))
    }

    private func assertClose(
        _ tensor: Tensor, _ shape: [Int], _ expected: [Float], accuracy: Float = 1e-4, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(tensor.shape, shape, file: file, line: line)
        let actual = tensor.doubleValues() ?? []
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (a, e) in zip(actual, expected) where abs(Float(a) - e) > accuracy * max(1, abs(e)) {
            XCTFail("got \(actual), expected \(expected)", file: file, line: line)
            return
        }
    }

    private func assertThrows(_ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is KernelError, "\(error)", file: file, line: line)
        }
    }

    /// Deterministic pseudo-random values in [-1, 1).
    private func noise(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
    }

    // MARK: - GEMM engine

    func testFloatGEMMMatchesNaiveProductForEveryLayout() {
        for (m, n, k, threads) in [
            (1, 37, 50, 1), (13, 29, 7, 1), (70, 90, 300, 2), (6, 8, 1, 1), (130, 17, 260, 2), (7, 2100, 300, 2),
        ] {
            let a = noise(m * k, seed: 1)
            let b = noise(k * n, seed: 2)
            let initial = noise(m * n, seed: 3)
            var expected = initial
            for i in 0..<m {
                for j in 0..<n {
                    var sum: Float = 0
                    for p in 0..<k { sum += a[i * k + p] * b[p * n + j] }
                    expected[i * n + j] += 0.5 * sum
                }
            }
            // The same operands stored transposed, read through swapped strides.
            let aT = (0..<k * m).map { a[($0 % m) * k + $0 / m] }
            let bT = (0..<n * k).map { b[($0 % k) * n + $0 / k] }
            for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                var c = initial
                (transposeA ? aT : a).withUnsafeBufferPointer { aBuffer in
                    (transposeB ? bT : b).withUnsafeBufferPointer { bBuffer in
                        let aView = GemmOperand(rowMajor: aBuffer.baseAddress!, columns: transposeA ? m : k)
                        let bView = GemmOperand(rowMajor: bBuffer.baseAddress!, columns: transposeB ? k : n)
                        FloatGEMM.multiply(
                            m: m, n: n, k: k, alpha: 0.5, a: transposeA ? aView.transposed : aView,
                            b: transposeB ? bView.transposed : bView, c: &c, ldc: n, accumulate: true, threads: threads)
                    }
                }
                let error = zip(c, expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(error, 1e-3, "m \(m) n \(n) k \(k) transA \(transposeA) transB \(transposeB)")
            }
        }
    }

    // MARK: - MatMul and Gemm

    func testMatMulTwoDimensional() throws {
        let y = try run("MatMul", opset: 13, [ramp([2, 3]), ramp([3, 2])])[0]
        assertClose(y, [2, 2], [10, 13, 28, 40])
    }

    func testMatMulBroadcastsBatchesAndVectors() throws {
        // [2, 1, 2, 3] × [3, 3, 1]: batch dims broadcast to [2, 3].
        let y = try run("MatMul", opset: 13, [ramp([2, 1, 2, 3]), floats([3, 3, 1], [1, 1, 1, 0, 1, 0, 1, 0, 0])])[0]
        assertClose(y, [2, 3, 2, 1], [3, 12, 1, 4, 0, 3, 21, 30, 7, 10, 6, 9])
        let vector = try run("MatMul", opset: 13, [floats([3], [1, 2, 3]), ramp([3, 2])])[0]
        assertClose(vector, [2], [16, 22])
        let dot = try run("MatMul", opset: 13, [floats([3], [1, 2, 3]), floats([3], [4, 5, 6])])[0]
        assertClose(dot, [], [32])
    }

    func testMatMulIntegersAndHalfPrecision() throws {
        let ints = try run(
            "MatMul", opset: 13,
            [
                Tensor(shape: [1, 2], elements: [Int32(3), -2]), Tensor(shape: [2, 1], elements: [Int32(5), 7]),
            ])[0]
        XCTAssertEqual(ints, Tensor(shape: [1, 1], elements: [Int32(1)]))
        let halves = try run(
            "MatMul", opset: 13,
            [
                Tensor(shape: [1, 2], elements: [Float16(1.5), 2]),
                Tensor(shape: [2, 1], elements: [Float16(2), 0.25]),
            ])[0]
        XCTAssertEqual(halves, Tensor(shape: [1, 1], elements: [Float16(3.5)]))
    }

    func testMatMulRejectsMismatchedOperands() {
        assertThrows(try self.run("MatMul", opset: 13, [ramp([2, 3]), ramp([2, 3])]))
        assertThrows(try self.run("MatMul", opset: 13, [ramp([2, 2, 3]), ramp([3, 3, 1])]))
        assertThrows(
            try self.run("MatMul", opset: 13, [ramp([2, 3]), Tensor(shape: [3, 1], elements: [Int32(1), 2, 3])]))
    }

    func testGemmTransposesScalesAndBroadcastsC() throws {
        // A' = B' = [[0, 2], [1, 3]], so A'B' = [[2, 6], [3, 11]]; C = [1, -1] is added to every row.
        let y = try run(
            "Gemm", opset: 13, ["transA": .int(1), "transB": .int(1), "alpha": .float(0.5), "beta": .float(2)],
            [ramp([2, 2]), ramp([2, 2]), floats([2], [1, -1])])[0]
        assertClose(y, [2, 2], [3, 1, 3.5, 3.5])
        let noBias = try run("Gemm", opset: 13, [ramp([1, 2]), ramp([2, 3]), nil])[0]
        assertClose(noBias, [1, 3], [3, 4, 5])
    }

    func testGemmRejectsBadShapesAndFractionalIntegerAlpha() {
        assertThrows(try self.run("Gemm", opset: 13, [ramp([2, 3]), ramp([2, 3])]))
        assertThrows(try self.run("Gemm", opset: 13, [ramp([2, 2]), ramp([2, 2]), ramp([3])]))
        let ints = Tensor(shape: [1, 1], elements: [Int64(2)])
        assertThrows(try self.run("Gemm", opset: 13, ["alpha": .float(0.5)], [ints, ints]))
    }

    // MARK: - Convolution

    func testConvWithAndWithoutPadding() throws {
        // The ONNX documentation example: a 5×5 ramp convolved with a 3×3 kernel of ones.
        let x = ramp([1, 1, 5, 5])
        let w = floats([1, 1, 3, 3], Array(repeating: 1, count: 9))
        let padded = try run("Conv", ["pads": .ints([1, 1, 1, 1])], [x, w])[0]
        let expected: [Float] = [
            12, 21, 27, 33, 24,
            33, 54, 63, 72, 51,
            63, 99, 108, 117, 81,
            93, 144, 153, 162, 111,
            72, 111, 117, 123, 84,
        ]
        assertClose(padded, [1, 1, 5, 5], expected)
        let strided = try run("Conv", ["strides": .ints([2, 2])], [x, w, floats([1], [1])])[0]
        assertClose(strided, [1, 1, 2, 2], [55, 73, 145, 163])
    }

    func testConvGroupsAutoPadAndThreads() throws {
        // Two groups of one channel (depthwise): channel 0 doubled, channel 1 negated, SAME_UPPER keeps 3 wide.
        let x = floats([1, 2, 1, 3], [1, 2, 3, 4, 5, 6])
        let w = floats([2, 1, 1, 2], [2, 0, 0, -1])
        let y = try run(
            "Conv", ["group": .int(2), "auto_pad": .string(Array("SAME_UPPER".utf8))], [x, w], threads: 2)[0]
        assertClose(y, [1, 2, 1, 3], [2, 4, 6, -5, -6, 0])
    }

    func testConvMatchesDirectSumOnLargerProblem() throws {
        // 2 images, 6 channels in 2 groups, 4 filters, 3×3 dilated by 2 with stride 2 and padding 1.
        let (images, channels, filters, size) = (2, 6, 4, 9)
        let x = noise(images * channels * size * size, seed: 5)
        let w = noise(filters * 3 * 9, seed: 6)
        let y = try run(
            "Conv",
            ["group": .int(2), "dilations": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])],
            [floats([images, channels, size, size], x), floats([filters, 3, 3, 3], w)], threads: 2)[0]
        let out = (size + 2 - 5) / 2 + 1
        var expected = [Float]()
        for image in 0..<images {
            for filter in 0..<filters {
                for oy in 0..<out {
                    for ox in 0..<out {
                        var sum: Float = 0
                        for c in 0..<3 {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let iy = oy * 2 + ky * 2 - 1
                                    let ix = ox * 2 + kx * 2 - 1
                                    guard (0..<size).contains(iy), (0..<size).contains(ix) else { continue }
                                    let channel = filter / 2 * 3 + c
                                    sum +=
                                        x[((image * channels + channel) * size + iy) * size + ix]
                                        * w[((filter * 3 + c) * 3 + ky) * 3 + kx]
                                }
                            }
                        }
                        expected.append(sum)
                    }
                }
            }
        }
        assertClose(y, [images, filters, out, out], expected, accuracy: 1e-3)
    }

    func testConvRejectsChannelMismatch() {
        assertThrows(try self.run("Conv", [ramp([1, 3, 4, 4]), ramp([1, 2, 3, 3])]))
        assertThrows(try self.run("Conv", [ramp([1, 1, 2, 2]), ramp([1, 1, 3, 3])]))
        assertThrows(try self.run("Conv", ["group": .int(0)], [ramp([1, 1, 4, 4]), ramp([1, 1, 3, 3])]))
    }

    func testConvTransposeStridesPadsAndOutputShape() throws {
        // 1-D: x = [1, 2], kernel [1, 1, 1], stride 2: taps at 0..2 and 2..4 overlap at 2.
        let x = floats([1, 1, 2], [1, 2])
        let w = floats([1, 1, 3], [1, 1, 1])
        assertClose(try run("ConvTranspose", ["strides": .ints([2])], [x, w])[0], [1, 1, 5], [1, 1, 3, 2, 2])
        assertClose(
            try run("ConvTranspose", ["strides": .ints([2]), "pads": .ints([1, 1])], [x, w, floats([1], [10])])[0],
            [1, 1, 3], [11, 13, 12])
        assertClose(
            try run("ConvTranspose", ["strides": .ints([2]), "output_shape": .ints([6])], [x, w])[0],
            [1, 1, 6], [1, 1, 3, 2, 2, 0])
    }

    // MARK: - Pooling

    func testMaxPoolWithIndicesAndCeilMode() throws {
        let x = ramp([1, 1, 3, 3])
        let results = try run(
            "MaxPool", opset: 12, ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)], [x],
            outputs: 2)
        assertClose(results[0], [1, 1, 2, 2], [4, 5, 7, 8])
        XCTAssertEqual(results[1], Tensor(shape: [1, 1, 2, 2], elements: [Int64(4), 5, 7, 8]))
        let columnMajor = try run(
            "MaxPool", opset: 12, ["kernel_shape": .ints([2, 2]), "storage_order": .int(1)], [x], outputs: 2)
        XCTAssertEqual(columnMajor[1], Tensor(shape: [1, 1, 2, 2], elements: [Int64(4), 7, 5, 8]))
    }

    func testAveragePoolCountsPaddingOnlyWhenAsked() throws {
        let x = floats([1, 1, 2, 2], [1, 2, 3, 4])
        let attributes: [String: AttributeValue] = ["kernel_shape": .ints([2, 2]), "pads": .ints([1, 1, 0, 0])]
        assertClose(try run("AveragePool", attributes, [x])[0], [1, 1, 2, 2], [1, 1.5, 2, 2.5])
        var including = attributes
        including["count_include_pad"] = .int(1)
        assertClose(try run("AveragePool", including, [x])[0], [1, 1, 2, 2], [0.25, 0.75, 1, 2.5])
    }

    func testLpPoolAndGlobalPools() throws {
        let x = floats([1, 2, 2], [3, 4, -1, 1])
        assertClose(try run("LpPool", ["kernel_shape": .ints([2])], [x])[0], [1, 2, 1], [5, Float(2).squareRoot()])
        assertClose(try run("GlobalAveragePool", [x])[0], [1, 2, 1], [3.5, 0])
        assertClose(try run("GlobalMaxPool", [x])[0], [1, 2, 1], [4, 1])
        assertClose(try run("GlobalLpPool", ["p": .int(1)], [x])[0], [1, 2, 1], [7, 2])
    }

    func testMaxUnpoolScattersAtIndices() throws {
        let y = try run(
            "MaxUnpool", opset: 11, ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])],
            [floats([1, 1, 1, 2], [5, 6]), Tensor(shape: [1, 1, 1, 2], elements: [Int64(4), 3])])[0]
        assertClose(y, [1, 1, 2, 4], [0, 0, 0, 6, 5, 0, 0, 0])
        assertThrows(
            try self.run(
                "MaxUnpool", opset: 11, ["kernel_shape": .ints([2, 2])],
                [floats([1, 1, 1, 1], [5]), Tensor(shape: [1, 1, 1, 1], elements: [Int64(9)])]))
    }

    func testPoolingRejectsMissingKernelAndOversizedWindow() {
        assertThrows(try self.run("MaxPool", [ramp([1, 1, 4, 4])]))
        assertThrows(try self.run("AveragePool", ["kernel_shape": .ints([5, 5])], [ramp([1, 1, 4, 4])]))
    }

    // MARK: - Normalisation

    func testBatchNormalizationInferenceAndTraining() throws {
        let x = floats([2, 1, 2], [1, 2, 3, 4])
        let inference = try run(
            "BatchNormalization", opset: 15, ["epsilon": .float(0)],
            [x, floats([1], [2]), floats([1], [1]), floats([1], [2]), floats([1], [4])])[0]
        assertClose(inference, [2, 1, 2], [0, 1, 2, 3])
        let training = try run(
            "BatchNormalization", opset: 15, ["epsilon": .float(0), "training_mode": .int(1), "momentum": .float(0.5)],
            [x, floats([1], [1]), floats([1], [0]), floats([1], [0]), floats([1], [1])], outputs: 3)
        let deviation = Float(1.25).squareRoot()
        assertClose(training[0], [2, 1, 2], [-1.5, -0.5, 0.5, 1.5].map { $0 / deviation })
        assertClose(training[1], [1], [1.25])
        assertClose(training[2], [1], [1.125])
    }

    func testInstanceAndGroupNormalization() throws {
        let x = floats([1, 2, 2], [1, 3, 10, 30])
        assertClose(
            try run("InstanceNormalization", ["epsilon": .float(0)], [x, floats([2], [1, 2]), floats([2], [0, 1])])[0],
            [1, 2, 2], [-1, 1, -1, 3])
        // One group over both channels: mean 11, variance 131.5.
        let deviation = Float(131.5).squareRoot()
        let normalized = [1, 3, 10, 30].map { (Float($0) - 11) / deviation }
        let perGroup = try run(
            "GroupNormalization", opset: 18, ["num_groups": .int(1), "epsilon": .float(0)],
            [x, floats([1], [2]), floats([1], [1])])[0]
        assertClose(perGroup, [1, 2, 2], normalized.map { $0 * 2 + 1 })
        let perChannel = try run(
            "GroupNormalization", opset: 21, ["num_groups": .int(1), "epsilon": .float(0)],
            [x, floats([2], [1, 2]), floats([2], [0, 1])])[0]
        assertClose(
            perChannel, [1, 2, 2], [normalized[0], normalized[1], normalized[2] * 2 + 1, normalized[3] * 2 + 1])
        assertThrows(
            try self.run(
                "GroupNormalization", opset: 21, ["num_groups": .int(3)],
                [x, floats([2], [1, 1]), floats([2], [0, 0])]))
    }

    func testLayerAndRMSNormalization() throws {
        let x = floats([2, 2], [1, 3, 2, 2])
        let layer = try run(
            "LayerNormalization", opset: 17, ["epsilon": .float(0)], [x, floats([2], [1, 2]), floats([2], [0, 1])],
            outputs: 3)
        XCTAssertEqual(layer[0].shape, [2, 2])
        XCTAssertEqual(Array(layer[0].elements(as: Float.self).prefix(2)), [-1, 3])
        XCTAssertTrue(layer[0].elements(as: Float.self)[2].isNaN)  // zero variance with epsilon 0
        assertClose(layer[1], [2, 1], [2, 2])
        assertClose(
            try run(
                "RMSNormalization", opset: 23, ["epsilon": .float(0)], [floats([1, 2], [3, 4]), floats([2], [1, 2])])[
                    0],
            [1, 2], [3 / Float(12.5).squareRoot(), 8 / Float(12.5).squareRoot()])
        assertThrows(try self.run("LayerNormalization", opset: 17, ["axis": .int(2)], [x, floats([2], [1, 1])]))
    }

    func testLpMeanVarianceAndLocalResponseNormalization() throws {
        assertClose(
            try run("LpNormalization", ["p": .int(1)], [floats([2, 2], [1, -3, 0, 0])])[0], [2, 2], [0.25, -0.75, 0, 0])
        assertClose(try run("LpNormalization", ["axis": .int(0)], [floats([2, 1], [3, 4])])[0], [2, 1], [0.6, 0.8])
        assertClose(
            try run("MeanVarianceNormalization", opset: 13, ["axes": .ints([1])], [floats([1, 2], [1, 3])])[0], [1, 2],
            [-1, 1])
        // size 2: channel c sums c−0 … c+1.
        let lrn = try run(
            "LRN", ["size": .int(2), "alpha": .float(2), "beta": .float(1), "bias": .float(1)],
            [floats([1, 2, 1], [1, 2])])[0]
        assertClose(lrn, [1, 2, 1], [1.0 / 6, 2.0 / 5])
        assertThrows(try self.run("LpNormalization", ["p": .int(3)], [floats([1], [1])]))
    }

    // MARK: - Softmax family

    func testSoftmaxAxisSemanticsChangeAtOpset13() throws {
        let x = floats([2, 2], [0, 0, 0, 0])
        assertClose(try run("Softmax", opset: 11, ["axis": .int(0)], [x])[0], [2, 2], [0.25, 0.25, 0.25, 0.25])
        assertClose(try run("Softmax", opset: 13, ["axis": .int(0)], [x])[0], [2, 2], [0.5, 0.5, 0.5, 0.5])
        let logits = floats([3], [1000, 1001, 1002])
        let log = try run("LogSoftmax", opset: 13, [logits])[0]
        let shift = Float(log1p(exp(-1.0) + exp(-2.0)))
        assertClose(log, [3], [-2 - shift, -1 - shift, -shift])
        assertClose(
            try run("Hardmax", opset: 13, [floats([2, 3], [1, 3, 3, 0, -1, -2])])[0], [2, 3], [0, 1, 0, 1, 0, 0])
    }

    func testEmptyTensorsAndAbsurdAttributes() throws {
        let empty = try run("Conv", [floats([0, 1, 3, 3], []), ramp([2, 1, 2, 2])])[0]
        XCTAssertEqual(empty.shape, [0, 2, 2, 2])
        assertClose(try run("GlobalAveragePool", [floats([1, 2, 0], [])])[0], [1, 2, 1], [0, 0])
        assertThrows(
            try self.run("MaxPool", ["kernel_shape": .ints([2]), "dilations": .ints([1 << 40])], [ramp([1, 1, 4])]))
        assertThrows(
            try self.run("ConvTranspose", ["output_padding": .ints([-1])], [ramp([1, 1, 2]), ramp([1, 1, 2])]))
    }

    func testFloatingOpsRejectIntegerInputs() {
        let ints = Tensor(shape: [1, 2], elements: [Int32(1), 2])
        assertThrows(try self.run("Softmax", opset: 13, [ints]))
        assertThrows(try self.run("LayerNormalization", opset: 17, [ints, ints]))
        assertThrows(try self.run("GlobalAveragePool", [Tensor(shape: [1, 1, 1], elements: [Int64(1)])]))
    }
}
