import Foundation
import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

final class MathTests: XCTestCase {
    private static let registry: KernelRegistry = {
        var registry = KernelRegistry()
        registerMathKernels(into: &registry)
        return registry
    }()

    /// Runs `op` on `inputs` (nil: an omitted optional input) and returns its single output tensor.
    private func run(_ op: String, opset: Int = 24, _ inputs: [Tensor?]) throws -> Tensor {
        try run(op, opset: opset, [:], inputs)
    }

    /// Runs `op` with `attributes`.
    private func run(
        _ op: String, opset: Int = 24, _ attributes: [String: AttributeValue], _ inputs: [Tensor?]
    ) throws -> Tensor {
        let node = KernelNode(opType: op, opsetVersion: opset, attributes: attributes, inputPresent: inputs.map { $0 != nil })
        let outputs = try Self.registry.evaluate(node, inputs: inputs.map { $0.map(Value.tensor) })
        return try XCTUnwrap(outputs.first?.tensor)
    }

    private func floats(_ values: [Float], _ shape: [Int]? = nil) -> Tensor {
        Tensor(shape: shape ?? [values.count], elements: values)
    }

    private func assertThrows(_ body: @autoclosure () throws -> Tensor, containing text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "\(error) does not mention \(text)", file: file, line: line)
        }
    }

    // MARK: - Broadcasting

    func testBroadcastShapes() throws {
        XCTAssertEqual(try Broadcast.shape([[2, 1, 4], [3, 1], []]), [2, 3, 4])
        XCTAssertEqual(try Broadcast.shape([[0, 1], [1, 5]]), [0, 5])
        XCTAssertThrowsError(try Broadcast.shape([[2, 3], [4]])) { error in
            XCTAssertTrue("\(error)".contains("do not broadcast"), "\(error)")
        }
        XCTAssertThrowsError(try Broadcast.shape([[-1]]))
        XCTAssertThrowsError(try Broadcast.shape([[1 << 20, 1 << 20]]))
        XCTAssertThrowsError(try BroadcastPlan([[3]], to: [1]))
    }

    func testBroadcastPlanCollapsesDimensions() throws {
        var runs: [BroadcastRun] = []
        try BroadcastPlan([[2, 3, 4], [2, 3, 4]]).forEachRun { runs.append($0) }
        XCTAssertEqual(runs.map(\.count), [24])
        runs = []
        // A column [2, 1] against a row [3]: one run per row, the column broadcast along it.
        try BroadcastPlan([[2, 1], [3]]).forEachRun { runs.append($0) }
        XCTAssertEqual(runs.map(\.count), [3, 3])
        XCTAssertEqual(runs.map(\.start.0), [0, 1])
        XCTAssertEqual(runs.map(\.step.0), [0, 0])
        XCTAssertEqual(runs.map(\.step.1), [1, 1])
        let plan = try BroadcastPlan([[2, 1, 3], [4, 1], [3]])
        let sums = plan.map(Array(0..<6), Array(0..<4).map { $0 * 10 }, [100, 200, 300]) { $0 + $1 + $2 }
        XCTAssertEqual(plan.shape, [2, 4, 3])
        XCTAssertEqual(Array(sums.prefix(6)), [100, 201, 302, 110, 211, 312])
        XCTAssertEqual(sums.last, 5 + 30 + 300)
        XCTAssertEqual(try BroadcastPlan([[0, 3], [3]]).map([Int](), [1, 2, 3]) { $0 + $1 }, [])
    }

    // MARK: - Unary

    func testUnaryFunctions() throws {
        assertClose(try run("Abs", [Tensor(shape: [3], elements: [Int8(-128), -5, 7])]), [-128, 5, 7], tolerance: 1e-6)
        assertClose(try run("Neg", [Tensor(shape: [2], elements: [Int32.min, 3])]), [Double(Int32.min), -3], tolerance: 1e-6)
        assertClose(try run("Round", [floats([0.5, 1.5, 2.5, -0.5, -2.6])]), [0, 2, 2, -0, -3], tolerance: 1e-6)
        assertClose(try run("Sign", [floats([-3, 0, 2, .nan])]), [-1, 0, 1, .nan], tolerance: 1e-6)
        assertClose(try run("Sign", [Tensor(shape: [2], elements: [UInt64.max, 0])]), [1, 0], tolerance: 1e-6)
        assertClose(try run("Reciprocal", [Tensor(shape: [2], elements: [4.0, -0.5])]), [0.25, -2], tolerance: 1e-6)
        assertClose(try run("Floor", [Tensor(shape: [2], elements: [Float16(-1.5), Float16(2.5)])]), [-2, 2], tolerance: 1e-6)
        assertClose(try run("Acosh", [floats([1, 2])]), [0, 1.3169578969248166], tolerance: 1e-6)
        XCTAssertEqual(try run("Not", [Tensor(shape: [2], elements: [true, false])]).elements(as: Bool.self), [false, true])
        XCTAssertEqual(try run("BitwiseNot", [Tensor(shape: [2], elements: [UInt8(0), 0x0F])]).elements(as: UInt8.self), [0xFF, 0xF0])
        XCTAssertEqual(try run("Erf", opset: 9, [Tensor(shape: [3], elements: [Int32(-6), 0, 6])]).elements(as: Int32.self), [-1, 0, 1])
        assertThrows(try run("Sqrt", [Tensor(shape: [1], elements: [Int32(4)])]), containing: "int32")
        assertThrows(try run("Not", [floats([1])]), containing: "float")
    }

    func testActivations() throws {
        let x = floats([-2, -0.5, 0, 0.5, 3])
        assertClose(try run("Relu", [x]), [0, 0, 0, 0.5, 3], tolerance: 1e-6)
        assertClose(try run("Relu", [Tensor(shape: [2], elements: [Int64(-4), 4])]), [0, 4], tolerance: 1e-6)
        XCTAssertTrue(try run("Relu", [floats([.nan])]).elements(as: Float.self)[0].isNaN)
        assertClose(try run("LeakyRelu", ["alpha": .float(0.1)], [x]), [-0.2, -0.05, 0, 0.5, 3], tolerance: 1e-6)
        assertClose(try run("Elu", [x]), [exp(-2) - 1, exp(-0.5) - 1, 0, 0.5, 3], tolerance: 1e-6)
        assertClose(try run("Selu", [floats([-1, 1])]), [-1.1113307378125625, 1.0507009873554805], tolerance: 1e-6)
        assertClose(try run("Celu", ["alpha": .float(2)], [floats([-1, 1])]), [2 * (exp(-0.5) - 1), 1], tolerance: 1e-6)
        assertClose(try run("HardSigmoid", [x]), [0.1, 0.4, 0.5, 0.6, 1], tolerance: 1e-6)
        assertClose(try run("HardSwish", [x]), [-2.0 / 6, -0.5 * (5.0 / 12), 0, 0.5 * (7.0 / 12), 3], tolerance: 1e-6)
        assertClose(try run("Softplus", [floats([-1, 0, 100])]), [log1p(exp(-1)), log(2), 100], tolerance: 1e-6)
        assertClose(try run("Softsign", [floats([-3, 1])]), [-0.75, 0.5], tolerance: 1e-6)
        assertClose(try run("ThresholdedRelu", ["alpha": .float(0.5)], [x]), [0, 0, 0, 0, 3], tolerance: 1e-6)
        assertClose(try run("Shrink", ["lambd": .float(1), "bias": .float(0.5)], [x]), [-1.5, 0, 0, 0, 2.5], tolerance: 1e-6)
        XCTAssertEqual(try run("Shrink", ["lambd": .float(1.5), "bias": .float(1)], [Tensor(shape: [3], elements: [Int8(-2), 1, 2])]).elements(as: Int8.self), [-1, 0, 1])
        assertClose(try run("Gelu", [floats([1])]), [0.8413447460685429], tolerance: 1e-6)
        assertClose(try run("Gelu", ["approximate": .string(Array("tanh".utf8))], [floats([1])]), [0.8411919906082768], tolerance: 1e-6)
        assertThrows(try run("Gelu", ["approximate": .string(Array("fast".utf8))], [floats([1])]), containing: "approximate")
        assertClose(try run("Mish", [floats([1])]), [0.8650983882673103], tolerance: 1e-6)
        assertClose(try run("Swish", ["alpha": .float(2)], [floats([1])]), [1 / (1 + exp(-2))], tolerance: 1e-6)
    }

    func testPredicates() throws {
        let x = floats([.infinity, -.infinity, .nan, 1])
        XCTAssertEqual(try run("IsNaN", [x]).elements(as: Bool.self), [false, false, true, false])
        XCTAssertEqual(try run("IsInf", [x]).elements(as: Bool.self), [true, true, false, false])
        XCTAssertEqual(try run("IsInf", ["detect_positive": .int(0)], [x]).elements(as: Bool.self), [false, true, false, false])
        let float8 = Tensor(shape: [2], elements: [Float8E5M2(.infinity, saturate: false), Float8E5M2(1, saturate: false)])
        XCTAssertEqual(try run("IsInf", [float8]).elements(as: Bool.self), [true, false])
        assertThrows(try run("IsNaN", [Tensor(shape: [1], elements: [Int32(1)])]), containing: "int32")
    }

    func testVectorisedFunctionsMatchTheCLibrary() {
        var inputs: [Float] = stride(from: -30, through: 30, by: 0.0137).map { Float($0) }
        inputs += [0, -0, 1e-8, -1e-6, 3e-4, 1e-3, 87, 88.7, 89, 100, -87.5, -100, -110, .infinity, -.infinity]
        let checks: [(FloatVectorFunction, (Double) -> Double, Double)] = [
            (.exp, { exp($0) }, 4e-7), (.tanh, { tanh($0) }, 4e-7), (.sigmoid, { 1 / (1 + exp(-$0)) }, 4e-7),
            (.erf, { erf($0) }, 4e-7),
        ]
        for (function, reference, tolerance) in checks {
            let results = function.apply(inputs)
            for (input, result) in zip(inputs, results) {
                let expected = reference(Double(input))
                // Relative error, with an absolute floor near float's smallest normal.
                let error = abs(Double(result) - expected) / max(abs(expected), 1e-37)
                if expected.isInfinite || Float(expected).isInfinite {
                    XCTAssertEqual(Double(result), Double(Float(expected)), "\(function)(\(input))")
                } else {
                    XCTAssertLessThanOrEqual(error, tolerance, "\(function)(\(input)) = \(result), expected \(expected)")
                }
            }
            XCTAssertTrue(function.apply([.nan])[0].isNaN, "\(function)(nan)")
        }
        XCTAssertEqual(FloatVectorFunction.relu.apply([-1, 2, -0.5]), [0, 2, 0])
    }

    // MARK: - Binary

    func testArithmeticBroadcasts() throws {
        let matrix = floats([1, 2, 3, 4, 5, 6], [2, 3])
        assertClose(try run("Add", [matrix, matrix]), [2, 4, 6, 8, 10, 12], tolerance: 1e-6)
        assertClose(try run("Sub", [matrix, floats([1], [])]), [0, 1, 2, 3, 4, 5], tolerance: 1e-6)
        assertClose(try run("Mul", [floats([10, 100], [2, 1]), matrix]), [10, 20, 30, 400, 500, 600], tolerance: 1e-6)
        assertClose(try run("Div", [floats([1], []), floats([2, 4])]), [0.5, 0.25], tolerance: 1e-6)
        let doubles = Tensor(shape: [2, 1], elements: [1.0, 2.0])
        assertClose(try run("Add", [doubles, Tensor(shape: [3], elements: [0.5, 1.5, 2.5])]), [1.5, 2.5, 3.5, 2.5, 3.5, 4.5], tolerance: 1e-6)
    }

    func testArithmeticErrors() {
        assertThrows(try run("Add", [floats([1, 2, 3]), floats([1, 2])]), containing: "do not broadcast")
        assertThrows(try run("Add", [floats([1]), Tensor(shape: [1], elements: [1.0])]), containing: "float and double")
        assertThrows(try run("Add", [Tensor(shape: [1], elements: ["a"]), Tensor(shape: [1], elements: ["b"])]), containing: "string")
        assertThrows(try run("And", [floats([1]), floats([1])]), containing: "float")
        assertThrows(try run("Div", [Tensor(shape: [1], elements: [Int32(1)]), Tensor(shape: [1], elements: [Int32(0)])]), containing: "division by zero")
        assertThrows(try run("Mod", [Tensor(shape: [1], elements: [UInt8(1)]), Tensor(shape: [1], elements: [UInt8(0)])]), containing: "division by zero")
    }

    func testIntegerArithmeticWrapsAndTruncates() throws {
        let bytes = Tensor(shape: [3], elements: [Int8(127), -128, 100])
        XCTAssertEqual(try run("Add", [bytes, Tensor(scalar: Int8(1))]).elements(as: Int8.self), [-128, -127, 101])
        XCTAssertEqual(try run("Mul", [bytes, Tensor(scalar: Int8(2))]).elements(as: Int8.self), [-2, 0, -56])
        XCTAssertEqual(try run("Sub", [Tensor(scalar: UInt16(0)), Tensor(scalar: UInt16(1))]).elements(as: UInt16.self), [UInt16.max])
        let dividends = Tensor(shape: [4], elements: [Int32(7), -7, 7, Int32.min])
        let divisors = Tensor(shape: [4], elements: [Int32(2), 2, -2, -1])
        XCTAssertEqual(try run("Div", [dividends, divisors]).elements(as: Int32.self), [3, -3, -3, Int32.min])
        XCTAssertEqual(try run("Div", [Tensor(scalar: Int64.min), Tensor(scalar: Int64(-1))]).elements(as: Int64.self), [Int64.min])
        XCTAssertEqual(try run("Div", [Tensor(scalar: UInt64.max), Tensor(scalar: UInt64(2))]).elements(as: UInt64.self), [UInt64.max / 2])
    }

    func testModulo() throws {
        let a = Tensor(shape: [4], elements: [Int32(7), -7, 7, -7])
        let b = Tensor(shape: [4], elements: [Int32(3), 3, -3, -3])
        XCTAssertEqual(try run("Mod", [a, b]).elements(as: Int32.self), [1, 2, -2, -1])
        XCTAssertEqual(try run("Mod", ["fmod": .int(1)], [a, b]).elements(as: Int32.self), [1, -1, 1, -1])
        let x = floats([7.5, -7.5, 7.5, -0.0, 0, 3, -3, .infinity, 1])
        let y = floats([2, 2, -2, 5, -5, .infinity, .infinity, 2, 0])
        let floor = try run("Mod", [x, y]).elements(as: Float.self)
        XCTAssertEqual(Array(floor.prefix(7)), [1.5, 0.5, -0.5, 0, -0, 3, .infinity])
        XCTAssertEqual(floor[4].sign, .minus)
        XCTAssertTrue(floor[7].isNaN && floor[8].isNaN)
        XCTAssertEqual(Array(try run("Mod", ["fmod": .int(1)], [x, y]).elements(as: Float.self).prefix(3)), [1.5, -1.5, 1.5])
        assertThrows(try run("Mod", ["fmod": .int(2)], [x, y]), containing: "fmod")
    }

    func testBitShifts() throws {
        let left: [String: AttributeValue] = ["direction": .string(Array("LEFT".utf8))]
        let right: [String: AttributeValue] = ["direction": .string(Array("RIGHT".utf8))]
        let values = Tensor(shape: [5], elements: [Int8(1), 64, -5, -5, 3])
        let amounts = Tensor(shape: [5], elements: [Int8(3), 1, 1, 8, -1])
        XCTAssertEqual(try run("BitShift", left, [values, amounts]).elements(as: Int8.self), [8, -128, -10, 0, 0])
        XCTAssertEqual(try run("BitShift", right, [values, amounts]).elements(as: Int8.self), [0, 32, -3, -1, 0])
        let unsigned = Tensor(shape: [3], elements: [UInt32(1), 0x8000_0000, 7])
        let shifts = Tensor(shape: [3], elements: [UInt32(31), 1, 40])
        XCTAssertEqual(try run("BitShift", left, [unsigned, shifts]).elements(as: UInt32.self), [0x8000_0000, 0, 0])
        XCTAssertEqual(try run("BitShift", right, [unsigned, shifts]).elements(as: UInt32.self), [0, 0x4000_0000, 0])
        assertThrows(try run("BitShift", [unsigned, shifts]), containing: "direction")
    }

    func testBitwiseAndLogical() throws {
        let a = Tensor(shape: [2], elements: [UInt8(0b1100), 0xFF])
        let b = Tensor(shape: [2], elements: [UInt8(0b1010), 0x0F])
        XCTAssertEqual(try run("BitwiseAnd", [a, b]).elements(as: UInt8.self), [0b1000, 0x0F])
        XCTAssertEqual(try run("BitwiseOr", [a, b]).elements(as: UInt8.self), [0b1110, 0xFF])
        XCTAssertEqual(try run("BitwiseXor", [a, b]).elements(as: UInt8.self), [0b0110, 0xF0])
        let p = Tensor(shape: [2, 2], elements: [true, true, false, false])
        let q = Tensor(shape: [2], elements: [true, false])
        XCTAssertEqual(try run("And", [p, q]).elements(as: Bool.self), [true, false, false, false])
        XCTAssertEqual(try run("Or", [p, q]).elements(as: Bool.self), [true, true, true, false])
        XCTAssertEqual(try run("Xor", [p, q]).elements(as: Bool.self), [false, true, true, false])
    }

    func testComparisons() throws {
        let a = floats([1, 2, 3, .nan])
        let b = floats([2], [])
        XCTAssertEqual(try run("Equal", [a, b]).elements(as: Bool.self), [false, true, false, false])
        XCTAssertEqual(try run("Less", [a, b]).elements(as: Bool.self), [true, false, false, false])
        XCTAssertEqual(try run("LessOrEqual", [a, b]).elements(as: Bool.self), [true, true, false, false])
        XCTAssertEqual(try run("Greater", [a, b]).elements(as: Bool.self), [false, false, true, false])
        XCTAssertEqual(try run("GreaterOrEqual", [a, b]).elements(as: Bool.self), [false, true, true, false])
        // 2^53 + 1 and 2^53 are equal as doubles but not as int64.
        let big = Tensor(shape: [1], elements: [Int64(1) << 53 + 1])
        XCTAssertEqual(try run("Greater", [big, Tensor(shape: [1], elements: [Int64(1) << 53])]).elements(as: Bool.self), [true])
        XCTAssertEqual(try run("Less", [Tensor(scalar: UInt64.max), Tensor(scalar: UInt64(1))]).elements(as: Bool.self), [false])
        let words = Tensor(shape: [2, 1], elements: ["a", "b"])
        XCTAssertEqual(try run("Equal", [words, Tensor(shape: [2], elements: ["a", "c"])]).elements(as: Bool.self), [true, false, false, false])
        XCTAssertEqual(try run("Equal", [Tensor(scalar: true), Tensor(scalar: true)]).elements(as: Bool.self), [true])
        assertThrows(try run("Less", [words, words]), containing: "string")
        assertThrows(try run("Less", [Tensor(scalar: true), Tensor(scalar: false)]), containing: "bool")
    }

    func testPow() throws {
        assertClose(try run("Pow", [floats([2, 4, -8]), floats([3, 0.5, 1.0 / 3])]), [8, 2, .nan], tolerance: 1e-6)
        let integers = Tensor(shape: [4], elements: [Int64(3), -2, 2, 7])
        let exponents = Tensor(shape: [4], elements: [Int64(39), 3, -1, 0])
        XCTAssertEqual(try run("Pow", [integers, exponents]).elements(as: Int64.self), [4_052_555_153_018_976_267, -8, 0, 1])
        XCTAssertEqual(try run("Pow", [Tensor(scalar: Int32(-1)), Tensor(scalar: Int32(-3))]).elements(as: Int32.self), [-1])
        assertThrows(try run("Pow", [Tensor(scalar: Int32(0)), Tensor(scalar: Int32(-1))]), containing: "negative power")
        // Mixed types: the result takes the base's type.
        XCTAssertEqual(try run("Pow", [Tensor(shape: [2], elements: [Int32(2), 3]), floats([0.5, 2])]).elements(as: Int32.self), [1, 9])
        assertClose(try run("Pow", [floats([2, 3]), Tensor(shape: [2], elements: [Int64(10), -1])]), [1024, 1.0 / 3], tolerance: 1e-6)
        XCTAssertEqual(try run("Pow", [Tensor(scalar: Int32(3)), Tensor(scalar: UInt8(4))]).elements(as: Int32.self), [81])
    }

    func testPRelu() throws {
        let x = floats([-1, 2, -3, 4, -5, 6], [1, 2, 3])
        assertClose(try run("PRelu", [x, floats([0.1])]), [-0.1, 2, -0.3, 4, -0.5, 6], tolerance: 1e-6)
        assertClose(try run("PRelu", [x, floats([0.1, 0.2, 0.3])]), [-0.1, 2, -0.9, 4, -1, 6], tolerance: 1e-6)
        // A 1-D slope matching only the channel dimension (the reference's fallback).
        assertClose(try run("PRelu", [x, floats([0.1, 0.2])]), [-0.1, 2, -0.3, 4, -1, 6], tolerance: 1e-6)
        XCTAssertEqual(try run("PRelu", [Tensor(shape: [2], elements: [Int32(-3), 3]), Tensor(scalar: Int32(2))]).elements(as: Int32.self), [-6, 3])
        assertThrows(try run("PRelu", [x, floats([1, 2, 3, 4])]), containing: "broadcast")
    }

    func testLegacyBroadcasting() throws {
        let a = floats(Array(repeating: 1, count: 24), [2, 3, 4])
        let b = floats([10, 20, 30])
        let sum = try run("Add", opset: 6, ["broadcast": .int(1), "axis": .int(1)], [a, b])
        XCTAssertEqual(sum.shape, [2, 3, 4])
        XCTAssertEqual(Array(sum.elements(as: Float.self).prefix(5)), [11, 11, 11, 11, 21])
        assertThrows(try run("Add", opset: 6, [a, b]), containing: "broadcast=1")
        assertThrows(try run("Mul", opset: 6, ["broadcast": .int(1), "axis": .int(2)], [a, b]), containing: "axis")
        // Opset 7 ignores the old attributes and broadcasts like numpy.
        assertThrows(try run("Add", opset: 7, ["broadcast": .int(1), "axis": .int(1)], [a, b]), containing: "do not broadcast")
    }

    // MARK: - Variadic, Clip, Where, Expand

    func testVariadic() throws {
        let a = floats([1, 5, .nan], [3])
        let b = floats([3], [1])
        let c = floats([2, 2, 2, 0, 0, 0], [2, 3])
        assertClose(try run("Sum", [a, b, c]), [6, 10, .nan, 4, 8, .nan], tolerance: 1e-6)
        assertClose(try run("Mean", [a, b]), [2, 4, .nan], tolerance: 1e-6)
        assertClose(try run("Max", [a, b]), [3, 5, .nan], tolerance: 1e-6)
        assertClose(try run("Min", [a, b, c]), [1, 2, .nan, 0, 0, .nan], tolerance: 1e-6)
        XCTAssertEqual(try run("Max", [Tensor(shape: [2], elements: [UInt64.max, 1]), Tensor(scalar: UInt64(2))]).elements(as: UInt64.self), [UInt64.max, 2])
        assertClose(try run("Sum", [a]), [1, 5, .nan], tolerance: 1e-6)
        assertThrows(try run("Sum", []), containing: "at least one")
    }

    func testClip() throws {
        let x = floats([-2, 0.5, 3, .nan])
        assertClose(try run("Clip", opset: 6, ["min": .float(-1), "max": .float(1)], [x]), [-1, 0.5, 1, .nan], tolerance: 1e-6)
        assertClose(try run("Clip", opset: 6, [x]), [-2, 0.5, 3, .nan], tolerance: 1e-6)
        assertClose(try run("Clip", opset: 13, [x, floats([0], []), nil]), [0, 0.5, 3, .nan], tolerance: 1e-6)
        assertClose(try run("Clip", opset: 13, [x, nil, floats([1], [1])]), [-2, 0.5, 1, .nan], tolerance: 1e-6)
        assertClose(try run("Clip", opset: 13, [x, floats([2], []), floats([1], [])]), [1, 1, 1, .nan], tolerance: 1e-6)
        let bytes = Tensor(shape: [3], elements: [Int8(-128), 0, 127])
        XCTAssertEqual(try run("Clip", opset: 13, [bytes, Tensor(scalar: Int8(-5)), Tensor(scalar: Int8(5))]).elements(as: Int8.self), [-5, 0, 5])
        assertThrows(try run("Clip", opset: 13, [x, floats([0, 1])]), containing: "min must hold one value")
    }

    func testWhere() throws {
        let condition = Tensor(shape: [2, 1], elements: [true, false])
        let chosen = floats([1, 2, 3])
        let other = floats([-1], [])
        let result = try run("Where", [condition, chosen, other])
        XCTAssertEqual(result.shape, [2, 3])
        XCTAssertEqual(result.elements(as: Float.self), [1, 2, 3, -1, -1, -1])
        let words = try run("Where", [Tensor(shape: [2], elements: [false, true]), Tensor(shape: [2], elements: ["a", "b"]), Tensor(scalar: "z")])
        XCTAssertEqual(words.elements(as: String.self), ["z", "b"])
        let complex = Tensor(shape: [1], elements: [Complex128(real: 1, imaginary: 2)])
        let picked = try run("Where", [Tensor(scalar: true), complex, Tensor(shape: [1], elements: [Complex128.zero])])
        XCTAssertEqual(picked.elements(as: Complex128.self), [Complex128(real: 1, imaginary: 2)])
        assertThrows(try run("Where", [chosen, chosen, chosen]), containing: "bool")
        assertThrows(try run("Where", [condition, chosen, Tensor(scalar: 1.0)]), containing: "one type")
    }

    func testExpand() throws {
        let shape = Tensor(shape: [3], elements: [Int64(2), 1, 3])
        let result = try run("Expand", [Tensor(shape: [2, 1], elements: [Int16(4), 5]), shape])
        XCTAssertEqual(result.shape, [2, 2, 3])
        XCTAssertEqual(result.elements(as: Int16.self), [4, 4, 4, 5, 5, 5, 4, 4, 4, 5, 5, 5])
        // A 1 in the requested shape keeps the input's extent.
        XCTAssertEqual(try run("Expand", [Tensor(shape: [3], elements: ["x", "y", "z"]), Tensor(shape: [2], elements: [Int64(2), 1])]).shape, [2, 3])
        assertThrows(try run("Expand", [floats([1, 2]), Tensor(shape: [1], elements: [Int64(3)])]), containing: "do not broadcast")
        assertThrows(try run("Expand", [floats([1]), Tensor(shape: [2], elements: [Int64(1 << 40), 1 << 40])]), containing: "elements")
        assertThrows(try run("Expand", [floats([1]), Tensor(shape: [1], elements: [Int64(-2)])]), containing: "negative")
    }

    // MARK: - Cast

    private func cast(_ tensor: Tensor, to type: DataType, _ attributes: [String: AttributeValue] = [:], opset: Int = 25) throws -> Tensor {
        var attributes = attributes
        attributes["to"] = .int(Int(type.rawValue))
        return try run("Cast", opset: opset, attributes, [tensor])
    }

    func testCastBetweenNumbers() throws {
        let x = floats([-2.7, 2.7, 300.5, .nan])
        XCTAssertEqual(try cast(x, to: .int32).elements(as: Int32.self), [-2, 2, 300, 0])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: [Int32(200), -1]), to: .int8).elements(as: Int8.self), [-56, -1])
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [Int64(-1)]), to: .uint64).elements(as: UInt64.self), [UInt64.max])
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [UInt64.max]), to: .int64).elements(as: Int64.self), [-1])
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [Int64(1) << 53 + 1]), to: .double).elements(as: Double.self), [9_007_199_254_740_992])
        XCTAssertEqual(try cast(floats([0, -0.0, .nan, 2]), to: .bool).elements(as: Bool.self), [false, false, true, true])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: [true, false]), to: .float16).elements(as: Float16.self), [1, 0])
        // Double to float16 rounds once: 1 + 2^-11 + 2^-30 is just above the halfway point between two float16s.
        let nearHalfway: Double = 1 + 0x1p-11 + 0x1p-30
        XCTAssertEqual(try cast(Tensor(scalar: nearHalfway), to: .float16).elements(as: Float16.self), [Float16(1 + 0x1p-10)])
        XCTAssertEqual(try cast(floats([1.5]), to: .bfloat16).elements(as: BFloat16.self), [BFloat16(1.5)])
        let same = floats([1])
        XCTAssertEqual(try cast(same, to: .float), same)
    }

    func testCastToSmallIntegersWraps() throws {
        let x = floats([-9, -8, 7, 8, 2.9, -2.9, .nan])
        XCTAssertEqual(try cast(x, to: .int4).elements(as: Int4.self).map(\.value), [7, -8, 7, -8, 2, -2, 0])
        XCTAssertEqual(try cast(x, to: .uint2).elements(as: UInt2.self).map(\.value), [3, 0, 3, 0, 2, 2, 0])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: [Int32(200), -3]), to: .int4).elements(as: Int4.self).map(\.value), [-8, -3])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: [Int4(value: -8), Int4(value: 7)]), to: .float).elements(as: Float.self), [-8, 7])
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [UInt4(value: 15)]), to: .int8).elements(as: Int8.self), [15])
    }

    func testCastToSmallFloats() throws {
        let x = floats([1e6, -1e6, .infinity, 0.3, -0.0])
        let saturated = try cast(x, to: .float8e4m3fn).elements(as: Float8E4M3FN.self).map(\.floatValue)
        XCTAssertEqual(Array(saturated.prefix(3)), [448, -448, 448])
        XCTAssertEqual(saturated[3], 0.3125)
        let plain = try cast(x, to: .float8e4m3fn, ["saturate": .int(0)]).elements(as: Float8E4M3FN.self).map(\.bits)
        XCTAssertEqual(Array(plain.prefix(3)), [0x7F, 0xFF, 0x7F])
        XCTAssertEqual(try cast(x, to: .float8e5m2, ["saturate": .int(0)]).elements(as: Float8E5M2.self).map(\.floatValue).prefix(3), [.infinity, -.infinity, .infinity])
        XCTAssertEqual(try cast(x, to: .float8e5m2fnuz).elements(as: Float8E5M2FNUZ.self).last?.bits, 0)
        XCTAssertEqual(try cast(floats([9, .nan, -0.2]), to: .float4e2m1).elements(as: Float4E2M1.self).map(\.bits), [0x7, 0x8, 0x8])
        let scales = floats([0, 0.124, 1.1, 2, 3, .infinity])
        XCTAssertEqual(try cast(scales, to: .float8e8m0).elements(as: Float8E8M0.self).map(\.bits), [0, 124, 128, 128, 129, 255])
        XCTAssertEqual(try cast(scales, to: .float8e8m0, ["round_mode": .string(Array("down".utf8))]).elements(as: Float8E8M0.self).map(\.bits), [0, 123, 127, 128, 128, 255])
        XCTAssertEqual(try cast(scales, to: .float8e8m0, ["round_mode": .string(Array("nearest".utf8))]).elements(as: Float8E8M0.self).map(\.bits), [0, 124, 127, 128, 129, 255])
        assertThrows(try cast(scales, to: .float8e8m0, ["round_mode": .string(Array("odd".utf8))]), containing: "round_mode")
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [Float8E4M3FN(bits: 0x7E)]), to: .float).elements(as: Float.self), [448])
    }

    func testCastWithStrings() throws {
        let texts = Tensor(shape: [6], elements: ["1.5", " -2 ", "1e3", "INF", "-inf", "NaN"])
        let parsed = try cast(texts, to: .float).elements(as: Float.self)
        XCTAssertEqual(Array(parsed.prefix(5)), [1.5, -2, 1000, .infinity, -.infinity])
        XCTAssertTrue(parsed[5].isNaN)
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: ["9007199254740993", "-4"]), to: .int64).elements(as: Int64.self), [9_007_199_254_740_993, -4])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: ["100.5", "-3.9"]), to: .int32).elements(as: Int32.self), [100, -3])
        assertThrows(try cast(Tensor(shape: [1], elements: ["Hello"]), to: .float), containing: "Hello")
        let values = floats([1, 0.1, 1e6, 999999, 1e-4, 0.00011, 123456792, -0.0, .nan, -.infinity, 1.5e-7])
        XCTAssertEqual(try cast(values, to: .string).elements(as: String.self), [
            "1.0", "0.1", "1e+06", "999999.0", "1e-04", "0.00011", "1.2345679e+08", "-0.0", "nan", "-inf", "1.5e-07",
        ])
        let doubles = Tensor(shape: [3], elements: [1e15, 1e16, 1.0 / 3])
        XCTAssertEqual(try cast(doubles, to: .string).elements(as: String.self), ["1000000000000000.0", "1e+16", "0.3333333333333333"])
        let halves = Tensor(shape: [3], elements: [Float16(999), Float16(1000), Float16(65504)])
        XCTAssertEqual(try cast(halves, to: .string).elements(as: String.self), ["999.0", "1e+03", "6.55e+04"])
        XCTAssertEqual(try cast(Tensor(shape: [2], elements: [true, false]), to: .string).elements(as: String.self), ["True", "False"])
        XCTAssertEqual(try cast(Tensor(shape: [1], elements: [Int8(-5)]), to: .string).elements(as: String.self), ["-5"])
    }

    func testCastAttributesAndCastLike() throws {
        let x = floats([2.5])
        XCTAssertEqual(try run("Cast", opset: 1, ["to": .string(Array("INT32".utf8))], [x]).elements(as: Int32.self), [2])
        assertThrows(try run("Cast", opset: 1, ["to": .string(Array("REAL".utf8))], [x]), containing: "REAL")
        assertThrows(try run("Cast", [x]), containing: "to")
        assertThrows(try cast(x, to: .complex64), containing: "complex64")
        let like = try run("CastLike", opset: 19, ["saturate": .int(0)], [floats([1000]), Tensor(scalar: Float8E4M3FN(bits: 0))])
        XCTAssertEqual(like.dataType, .float8e4m3fn)
        XCTAssertTrue(like.elements(as: Float8E4M3FN.self)[0].floatValue.isNaN)
    }

    /// Every float16 and every bfloat16 value (as float32) encoded to each small float, hashed, against hashes of the
    /// ONNX reference's conversion (ml_dtypes; `saturate_cast` when saturating; `to_float8e8m0`), and every code
    /// decoded. The hashes come from the Python script in the comment at the end of this file.
    func testSmallFloatsMatchTheReferenceExhaustively() {
        var inputs: [Float] = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }
        inputs += (0...UInt16.max).map { Float(bitPattern: UInt32($0) << 16) }
        func check<T: SmallFloatElement>(_: T.Type, codes: Int, saturate: UInt64, plain: UInt64, decode: UInt64) {
            XCTAssertEqual(fnv(inputs.map { T($0, saturate: true).bits }), saturate, "\(T.self) saturating encode")
            XCTAssertEqual(fnv(inputs.map { T($0, saturate: false).bits }), plain, "\(T.self) plain encode")
            let decoded = (0..<codes).flatMap { code -> [UInt8] in
                let value = T(bits: UInt8(code)).floatValue
                return withUnsafeBytes(of: (value.isNaN ? 0x7FC0_0000 : value.bitPattern).littleEndian) { Array($0) }
            }
            XCTAssertEqual(fnv(decoded), decode, "\(T.self) decode")
        }
        check(Float8E4M3FN.self, codes: 256, saturate: 0xb7830ddb879b68a5, plain: 0x6e8d91e1210c15, decode: 0xdad1d9c50f749ca5)
        check(Float8E4M3FNUZ.self, codes: 256, saturate: 0x8797350c22291be5, plain: 0xd65bd55ed1c238a5, decode: 0xf51851cb11c63018)
        check(Float8E5M2.self, codes: 256, saturate: 0xbced0e2316c17045, plain: 0x7c85355eb4d46ea5, decode: 0x6c1e56b6fb09c905)
        check(Float8E5M2FNUZ.self, codes: 256, saturate: 0xe4585f6fe7f4fd65, plain: 0x77ce2e17de254ba5, decode: 0x94ae6fc493d49818)
        check(Float4E2M1.self, codes: 16, saturate: 0x554b270890fb9265, plain: 0x554b270890fb9265, decode: 0x2403bb76b85dfea5)
        check(Float8E8M0.self, codes: 256, saturate: 0x760424ff58bdc2d5, plain: 0xe955064858960cd5, decode: 0x6d2c8b41c3f0e5a5)
        let e8m0: [(PowerOfTwoRounding, Bool, UInt64)] = [
            (.up, true, 0x760424ff58bdc2d5), (.up, false, 0xe955064858960cd5), (.down, true, 0xfd480e48ee06b59d),
            (.down, false, 0xfd480e48ee06b59d), (.nearest, true, 0x429b669f3ca29735), (.nearest, false, 0xed836e34f4220735),
        ]
        for (rounding, saturate, hash) in e8m0 {
            XCTAssertEqual(fnv(inputs.map { Float8E8M0($0, saturate: saturate, rounding: rounding).bits }), hash, "e8m0 \(rounding) \(saturate)")
        }
    }

    /// 64-bit FNV-1a.
    private func fnv(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

// The reference hashes in testSmallFloatsMatchTheReferenceExhaustively come from:
//
//   import numpy as np, ml_dtypes as md
//   from onnx import numpy_helper as nh
//   def fnv(data):
//       h = 0xcbf29ce484222325
//       for b in data: h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
//       return h
//   h16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
//   b16 = (np.arange(65536, dtype=np.uint32) << 16).view(np.float32)
//   inputs = np.concatenate([h16, b16])
//   for dt in (md.float8_e4m3fn, md.float8_e4m3fnuz, md.float8_e5m2, md.float8_e5m2fnuz, md.float4_e2m1fn):
//       saturating = inputs.astype(dt) if dt == md.float4_e2m1fn else nh.saturate_cast(inputs, dt)
//       print(hex(fnv(saturating.view(np.uint8).tobytes())), hex(fnv(inputs.astype(dt).view(np.uint8).tobytes())))
//       codes = np.arange(16 if dt == md.float4_e2m1fn else 256, dtype=np.uint8).view(dt).astype(np.float32)
//       bits = codes.view(np.uint32).copy(); bits[np.isnan(codes)] = 0x7FC00000
//       print(hex(fnv(bits.astype('<u4').tobytes())))
//   for mode in ('up', 'down', 'nearest'):
//       for saturate in (True, False):
//           print(hex(fnv(nh.to_float8e8m0(inputs, saturate, mode).view(np.uint8).tobytes())))
//   (float8e8m0 decodes like the others, with md.float8_e8m0fnu.)
