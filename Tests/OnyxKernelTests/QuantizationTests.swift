import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the integer/quantized MatMul and Conv.
final class QuantizationTests: XCTestCase {
    func testQuantizeRoundsHalfToEvenAndSaturates() throws {
        let x = Tensor(shape: [6], elements: [Float(0), 2, 3, 5, -300, 1000])
        let y = try run(
            "QuantizeLinear", [.tensor(x), .tensor(Tensor(scalar: Float(2))), .tensor(Tensor(scalar: UInt8(128)))])
        XCTAssertEqual(y, Tensor(shape: [6], elements: [UInt8(128), 129, 130, 130, 0, 255]))
        let int8 = try run(
            "QuantizeLinear", [.tensor(x), .tensor(Tensor(scalar: Float(2))), .tensor(Tensor(scalar: Int8(-1)))])
        XCTAssertEqual(int8, Tensor(shape: [6], elements: [Int8(-1), 0, 1, 1, -128, 127]))
    }

    func testQuantizePerAxisAndBlocked() throws {
        let x = Tensor(shape: [2, 4], elements: [Float(2), 4, 6, 8, 10, 20, 30, 40])
        let perAxis = try run(
            "QuantizeLinear", [.tensor(x), .tensor(Tensor(shape: [2], elements: [Float(2), 10]))],
            attributes: ["axis": .int(0)])
        XCTAssertEqual(perAxis, Tensor(shape: [2, 4], elements: [UInt8(1), 2, 3, 4, 1, 2, 3, 4]))
        // Blocks of 3 along axis 1: columns 0-2 use the first scale of their row, column 3 the second.
        let blocked = try run(
            "QuantizeLinear", [.tensor(x), .tensor(Tensor(shape: [2, 2], elements: [Float(2), 1, 10, 4]))],
            attributes: ["axis": .int(1), "block_size": .int(3), "output_dtype": .int(Int(DataType.int16.rawValue))])
        XCTAssertEqual(blocked, Tensor(shape: [2, 4], elements: [Int16(1), 2, 3, 8, 1, 2, 3, 10]))
        XCTAssertThrowsError(
            try run("QuantizeLinear", [.tensor(x), .tensor(Tensor(shape: [3], elements: [Float(1), 1, 1]))]))
        XCTAssertThrowsError(
            try run(
                "QuantizeLinear", [.tensor(x), .tensor(Tensor(shape: [2, 1], elements: [Float(1), 1]))],
                attributes: ["axis": .int(1), "block_size": .int(3)]))
    }

    func testQuantizeToSmallTypes() throws {
        let x = Tensor(shape: [4], elements: [Float(-20), -3.5, 2.5, 600])
        let int4 = try run(
            "QuantizeLinear", [.tensor(x), .tensor(Tensor(scalar: Float(1))), .tensor(Tensor(scalar: Int4(value: 0)))])
        XCTAssertEqual(int4.elements(as: Int4.self).map(\.value), [-8, -4, 2, 7])
        let float8 = try run(
            "QuantizeLinear",
            [.tensor(x), .tensor(Tensor(scalar: Float(1))), .tensor(Tensor(scalar: Float8E4M3FN(bits: 0)))])
        XCTAssertEqual(float8.elements(as: Float8E4M3FN.self).map(\.doubleValue), [-20, -3.5, 2.5, 448])
        let overflowing = try run(
            "QuantizeLinear",
            [.tensor(x), .tensor(Tensor(scalar: Float(1))), .tensor(Tensor(scalar: Float8E4M3FN(bits: 0)))],
            attributes: ["saturate": .int(0)])
        XCTAssertTrue(overflowing.elements(as: Float8E4M3FN.self)[3].doubleValue.isNaN)
        let e5m2 = try run(
            "QuantizeLinear",
            [
                .tensor(Tensor(scalar: Float(-1e6))), .tensor(Tensor(scalar: Float(1))),
                .tensor(Tensor(scalar: Float8E5M2(bits: 0))),
            ],
            attributes: ["saturate": .int(0)])
        XCTAssertEqual(e5m2.elements(as: Float8E5M2.self)[0].doubleValue, -.infinity)
    }

    func testQuantizeRejectsAConflictingOutputType() {
        XCTAssertThrowsError(
            try run(
                "QuantizeLinear",
                [
                    .tensor(Tensor(scalar: Float(1))), .tensor(Tensor(scalar: Float(1))),
                    .tensor(Tensor(scalar: UInt8(0))),
                ],
                attributes: ["output_dtype": .int(Int(DataType.int8.rawValue))]))
    }

    func testDequantizePerAxisBlockedAndToFloat16() throws {
        let x = Tensor(shape: [2, 3], elements: [UInt8(0), 3, 128, 10, 20, 255])
        let perAxis = try run(
            "DequantizeLinear",
            [
                .tensor(x), .tensor(Tensor(shape: [3], elements: [Float(1), 0.5, 2])),
                .tensor(Tensor(shape: [3], elements: [UInt8(0), 1, 128])),
            ])
        XCTAssertEqual(perAxis, Tensor(shape: [2, 3], elements: [Float(0), 1, 0, 10, 9.5, 254]))
        let blocked = try run(
            "DequantizeLinear", [.tensor(x), .tensor(Tensor(shape: [1, 3], elements: [Float(1), 2, 3]))],
            attributes: ["axis": .int(0), "block_size": .int(2)])
        XCTAssertEqual(blocked, Tensor(shape: [2, 3], elements: [Float(0), 6, 384, 10, 40, 765]))
        let half = try run("DequantizeLinear", [.tensor(x), .tensor(Tensor(scalar: Float16(0.5)))])
        XCTAssertEqual(half.dataType, .float16)
        XCTAssertEqual(half.elements(as: Float16.self)[5], 127.5)
        XCTAssertThrowsError(
            try run(
                "DequantizeLinear", [.tensor(x), .tensor(Tensor(scalar: Float(1))), .tensor(Tensor(scalar: Int8(0)))]))
    }

    func testDynamicQuantizeLinearMatchesTheReference() throws {
        // Reference values from onnx.reference for this input.
        let x = Tensor(shape: [6], elements: [Float(0), 2, -3, -2.5, 1.34, 0.5])
        let outputs = try KernelRegistry.standard.evaluate(
            KernelNode(opType: "DynamicQuantizeLinear", opsetVersion: 11, outputCount: 3), inputs: [.tensor(x)])
        XCTAssertEqual(outputs[0].tensor, Tensor(shape: [6], elements: [UInt8(153), 255, 0, 26, 221, 179]))
        XCTAssertEqual(outputs[1].tensor, Tensor(scalar: Float(5) / 255))
        XCTAssertEqual(outputs[2].tensor, Tensor(scalar: UInt8(153)))
    }

    func testMatMulIntegerWithPerRowAndPerColumnZeroPoints() throws {
        let a = Tensor(shape: [2, 2], elements: [UInt8(1), 2, 3, 4])
        let b = Tensor(shape: [2, 2], elements: [Int8(1), -1, 2, 0])
        let product = try run(
            "MatMulInteger",
            [
                .tensor(a), .tensor(b), .tensor(Tensor(shape: [2], elements: [UInt8(1), 2])),
                .tensor(Tensor(shape: [2], elements: [Int8(0), -1])),
            ],
            opset: 10)
        // (A - [[1], [2]]) = [[0, 1], [1, 2]]; (B - [0, -1]) = [[1, 0], [2, 1]].
        XCTAssertEqual(product, Tensor(shape: [2, 2], elements: [Int32(2), 1, 5, 2]))
        let batched = try run(
            "MatMulInteger",
            [.tensor(Tensor(shape: [3, 1, 2], elements: [UInt8](repeating: 1, count: 6))), .tensor(b)], opset: 10)
        XCTAssertEqual(batched.shape, [3, 1, 2])
        XCTAssertThrowsError(
            try run(
                "MatMulInteger", [.tensor(a), .tensor(Tensor(shape: [3, 1], elements: [Int8(1), 1, 1]))], opset: 10))
    }

    func testQLinearMatMulRequantizes() throws {
        let a = Tensor(shape: [1, 2], elements: [UInt8(130), 132])
        let b = Tensor(shape: [2, 1], elements: [UInt8(2), 4])
        let y = try run(
            "QLinearMatMul",
            [
                .tensor(a), .tensor(Tensor(scalar: Float(0.5))), .tensor(Tensor(scalar: UInt8(128))),
                .tensor(b), .tensor(Tensor(scalar: Float(0.25))), .tensor(Tensor(scalar: UInt8(0))),
                .tensor(Tensor(scalar: Float(0.5))), .tensor(Tensor(scalar: UInt8(10))),
            ],
            opset: 21)
        // (2·2 + 4·4) · 0.5 · 0.25 / 0.5 = 5, plus the zero point 10.
        XCTAssertEqual(y, Tensor(shape: [1, 1], elements: [UInt8(15)]))
    }

    func testConvIntegerPadsAndAppliesPerChannelZeroPoints() throws {
        let x = Tensor(shape: [1, 1, 2, 2], elements: [UInt8(2), 3, 4, 5])
        let w = Tensor(shape: [2, 1, 1, 1], elements: [UInt8(1), 3])
        let y = try run(
            "ConvInteger",
            [
                .tensor(x), .tensor(w), .tensor(Tensor(scalar: UInt8(1))),
                .tensor(Tensor(shape: [2], elements: [UInt8(0), 1])),
            ],
            attributes: ["pads": .ints([0, 1, 0, 0])], opset: 10)
        // Output channel 0: (x - 1) · 1; channel 1: (x - 1) · 2; one padded column on the left gives 0.
        XCTAssertEqual(y, Tensor(shape: [1, 2, 2, 3], elements: [Int32(0), 1, 2, 0, 3, 4, 0, 2, 4, 0, 6, 8]))
        XCTAssertThrowsError(
            try run(
                "ConvInteger", [.tensor(x), .tensor(Tensor(shape: [1, 2, 1, 1], elements: [UInt8(1), 1]))], opset: 10))
    }

    func testQLinearConvWithBiasAndSamePadding() throws {
        let x = Tensor(shape: [1, 1, 1, 3], elements: [UInt8(1), 2, 3])
        let w = Tensor(shape: [1, 1, 1, 3], elements: [UInt8(1), 1, 1])
        let one = Tensor(scalar: Float(1))
        let y = try run(
            "QLinearConv",
            [
                .tensor(x), .tensor(one), .tensor(Tensor(scalar: UInt8(0))), .tensor(w), .tensor(one),
                .tensor(Tensor(scalar: UInt8(0))), .tensor(Tensor(scalar: Float(2))), .tensor(Tensor(scalar: UInt8(0))),
                .tensor(Tensor(shape: [1], elements: [Int32(1)])),
            ],
            attributes: ["auto_pad": .string(Array("SAME_UPPER".utf8))], opset: 10)
        // Sums 3, 6, 5 plus bias 1, halved and rounded half to even: 2, 4 (3.5), 3.
        XCTAssertEqual(y, Tensor(shape: [1, 1, 1, 3], elements: [UInt8(2), 4, 3]))
    }

    // MARK: - Helpers

    private func run(
        _ op: String, _ inputs: [Value?], attributes: [String: AttributeValue] = [:], opset: Int = 25
    ) throws -> Tensor {
        let node = KernelNode(opType: op, opsetVersion: opset, attributes: attributes)
        guard let tensor = try KernelRegistry.standard.evaluate(node, inputs: inputs).first?.tensor else {
            throw KernelError.invalidInput("\(op) returned no tensor")
        }
        return tensor
    }
}
