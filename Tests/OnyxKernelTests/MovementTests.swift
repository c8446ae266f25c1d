import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

final class MovementTests: XCTestCase {
    // MARK: - Shared copy machinery

    func testStridedRegionTransposesInTilesLikeANaiveLoop() {
        // 37 × 70 is not a multiple of the tile, so partial tiles are exercised too.
        let (rows, columns) = (37, 70)
        let source = (0..<(rows * columns)).map { UInt32($0) }
        var destination = [UInt32](repeating: 0, count: source.count)
        let region = StridedRegion(transposing: [rows, columns], permutation: [1, 0])
        source.withUnsafeBufferPointer { from in
            destination.withUnsafeMutableBufferPointer { to in region.copy(from: from, to: to) }
        }
        for row in 0..<rows {
            for column in 0..<columns {
                XCTAssertEqual(destination[column * rows + row], source[row * columns + column])
            }
        }
    }

    func testStridedRegionReadsBackwardsAndBroadcasts() {
        let source = ["a", "b", "c"]
        var destination = [String](repeating: "", count: 6)
        let region = StridedRegion(
            extents: [2, 3], sourceStrides: [0, -1], sourceOffset: 2, destinationStrides: [3, 1])
        source.withUnsafeBufferPointer { from in
            destination.withUnsafeMutableBufferPointer { to in region.copy(from: from, to: to) }
        }
        XCTAssertEqual(destination, ["c", "b", "a", "c", "b", "a"])
    }

    func testTransposeMovesEveryElementSize() throws {
        let permutation: [String: AttributeValue] = ["perm": .ints([1, 0])]
        let cases: [Tensor] = [
            Tensor(shape: [2, 3], elements: [UInt8](0..<6)),
            Tensor(shape: [2, 3], elements: (0..<6).map { Float16(Float($0)) }),
            Tensor(shape: [2, 3], elements: (0..<6).map { Float($0) }),
            Tensor(shape: [2, 3], elements: (0..<6).map { Double($0) }),
            Tensor(shape: [2, 3], elements: (0..<6).map { Complex128(real: Double($0), imaginary: -Double($0)) }),
            Tensor(shape: [2, 3], elements: (0..<6).map { "s\($0)" }),
        ]
        for input in cases {
            let output = try run("Transpose", permutation, [input])[0]
            XCTAssertEqual(output.shape, [3, 2])
            func check<T: TensorElement>(_: T.Type) {
                let values = input.elements(as: T.self)
                XCTAssertEqual(output.elements(as: T.self), [0, 3, 1, 4, 2, 5].map { values[$0] }, "\(input.dataType)")
            }
            check(input.dataType.elementType)
        }
    }

    func testTransposeDefaultsToReversedAxesAndRejectsABadPermutation() throws {
        let input = Tensor(shape: [2, 1, 3], elements: (0..<6).map { Int64($0) })
        XCTAssertEqual(
            try run("Transpose", [:], [input])[0], Tensor(shape: [3, 1, 2], elements: [Int64]([0, 3, 1, 4, 2, 5])))
        XCTAssertThrowsError(try run("Transpose", ["perm": .ints([0, 0, 1])], [input]))
    }

    // MARK: - Views

    func testReshapeResolvesZeroAndMinusOne() throws {
        let input = Tensor(shape: [2, 3, 4], elements: [Float](repeating: 1, count: 24))
        XCTAssertEqual(try run("Reshape", [:], [input, ints([0, -1])])[0].shape, [2, 12])
        XCTAssertEqual(try run("Reshape", opset: 1, ["shape": .ints([4, 0, -1])], [input])[0].shape, [4, 3, 2])
        let empty = Tensor(shape: [0, 3], elements: [Float]())
        XCTAssertEqual(try run("Reshape", ["allowzero": .int(1)], [empty, ints([3, 0])])[0].shape, [3, 0])
    }

    func testReshapeMismatchNamesBothShapes() {
        let input = Tensor(shape: [2, 3], elements: [Float](repeating: 0, count: 6))
        XCTAssertThrowsError(try run("Reshape", [:], [input, ints([4, 2])])) { error in
            XCTAssertTrue("\(error)".contains("[2, 3]") && "\(error)".contains("[4, 2]"), "\(error)")
        }
        XCTAssertThrowsError(try run("Reshape", [:], [input, ints([-1, -1])]))
    }

    func testFlattenSqueezeUnsqueezeShapeSize() throws {
        let input = Tensor(shape: [2, 1, 3], elements: [Int32](0..<6))
        XCTAssertEqual(try run("Flatten", ["axis": .int(-1)], [input])[0].shape, [2, 3])
        XCTAssertEqual(try run("Flatten", ["axis": .int(0)], [input])[0].shape, [1, 6])
        XCTAssertEqual(try run("Squeeze", [:], [input])[0].shape, [2, 3])
        XCTAssertEqual(try run("Squeeze", opset: 11, ["axes": .ints([-2])], [input])[0].shape, [2, 3])
        XCTAssertThrowsError(try run("Squeeze", [:], [input, ints([0])]))
        XCTAssertEqual(try run("Unsqueeze", [:], [input, ints([0, -1])])[0].shape, [1, 2, 1, 3, 1])
        XCTAssertEqual(try run("Unsqueeze", opset: 11, ["axes": .ints([1])], [input])[0].shape, [2, 1, 1, 3])
        XCTAssertEqual(
            try run("Shape", ["start": .int(-2)], [input])[0], Tensor(shape: [2], elements: [Int64]([1, 3])))
        XCTAssertEqual(try run("Size", [:], [input])[0], Tensor(scalar: Int64(6)))
    }

    func testIdentityPassesSequencesThrough() throws {
        let sequence = Value.sequence([.tensor(Tensor(scalar: Float(1)))], elementType: nil)
        let output = try KernelRegistry.standard.evaluate(
            KernelNode(opType: "Identity", opsetVersion: 21), inputs: [sequence])
        guard case .sequence(let values, _) = output[0] else { return XCTFail("expected a sequence") }
        XCTAssertEqual(values.count, 1)
    }

    // MARK: - Creation

    func testConstantAttributes() throws {
        XCTAssertEqual(
            try run("Constant", ["value_ints": .ints([1, 2])], [])[0], Tensor(shape: [2], elements: [Int64]([1, 2])))
        XCTAssertEqual(try run("Constant", ["value_float": .float(2.5)], [])[0], Tensor(scalar: Float(2.5)))
        XCTAssertEqual(try run("Constant", ["value_string": text("hi")], [])[0], Tensor(scalar: "hi"))
        XCTAssertThrowsError(try run("Constant", ["value_int": .int(1), "value_float": .float(1)], []))
    }

    func testConstantOfShapeFillsAndRefusesHugeShapes() throws {
        let value = Tensor(shape: [1], elements: [Int32(7)])
        XCTAssertEqual(
            try run("ConstantOfShape", ["value": .tensor(value)], [ints([2, 2])])[0],
            Tensor(shape: [2, 2], elements: [Int32](repeating: 7, count: 4)))
        XCTAssertEqual(try run("ConstantOfShape", [:], [ints([0])])[0], Tensor(shape: [0], elements: [Float]()))
        XCTAssertThrowsError(try run("ConstantOfShape", [:], [ints([1 << 20, 1 << 20])]))
        XCTAssertThrowsError(try run("ConstantOfShape", [:], [ints([-1])]))
    }

    func testRange() throws {
        XCTAssertEqual(
            try run("Range", [:], [Tensor(scalar: Int32(10)), Tensor(scalar: Int32(4)), Tensor(scalar: Int32(-2))])[0],
            Tensor(shape: [3], elements: [Int32]([10, 8, 6])))
        XCTAssertEqual(
            try run("Range", [:], [Tensor(scalar: Float(1)), Tensor(scalar: Float(2)), Tensor(scalar: Float(0.25))])[0],
            Tensor(shape: [4], elements: [Float]([1, 1.25, 1.5, 1.75])))
        XCTAssertEqual(
            try run(
                "Range", [:], [Tensor(scalar: Int64.max - 2), Tensor(scalar: Int64.max), Tensor(scalar: Int64(1))])[0],
            Tensor(shape: [2], elements: [Int64.max - 2, Int64.max - 1]))
        XCTAssertThrowsError(
            try run("Range", [:], [Tensor(scalar: Int64(0)), Tensor(scalar: Int64.max), Tensor(scalar: Int64(1))]))
        XCTAssertThrowsError(
            try run("Range", [:], [Tensor(scalar: Float(0)), Tensor(scalar: Float(1)), Tensor(scalar: Float(0))]))
    }

    func testEyeLike() throws {
        let input = Tensor(shape: [2, 3], elements: [Float](repeating: 5, count: 6))
        XCTAssertEqual(
            try run("EyeLike", ["k": .int(1), "dtype": .int(Int(DataType.int32.rawValue))], [input])[0],
            Tensor(shape: [2, 3], elements: [Int32]([0, 1, 0, 0, 0, 1])))
        XCTAssertEqual(
            try run("EyeLike", ["k": .int(-1)], [input])[0],
            Tensor(shape: [2, 3], elements: [Float]([0, 0, 0, 1, 0, 0])))
    }

    // MARK: - Dropout

    func testDropoutInferenceCopiesAndMasksAllTrue() throws {
        let input = Tensor(shape: [3], elements: [Float]([1, 2, 3]))
        let outputs = try run("Dropout", [:], [input], outputs: 2)
        XCTAssertEqual(outputs[0], input)
        XCTAssertEqual(outputs[1], Tensor(shape: [3], elements: [true, true, true]))
        XCTAssertEqual(
            try run("Dropout", opset: 7, [:], [input], outputs: 2)[1],
            Tensor(shape: [3], elements: [Float](repeating: 1, count: 3)))
    }

    func testSeededTrainingDropoutMatchesNumpysStream() throws {
        // numpy.random.RandomState(0).uniform(0, 1, 6) = [0.549, 0.715, 0.603, 0.545, 0.424, 0.646].
        let input = Tensor(shape: [6], elements: [Float](repeating: 1, count: 6))
        let outputs = try run(
            "Dropout", ["seed": .int(0)], [input, Tensor(scalar: Float(0.5)), Tensor(scalar: true)], outputs: 2)
        XCTAssertEqual(outputs[0], Tensor(shape: [6], elements: [Float]([2, 2, 2, 2, 0, 2])))
        XCTAssertEqual(outputs[1], Tensor(shape: [6], elements: [true, true, true, true, false, true]))
        XCTAssertThrowsError(try run("Dropout", [:], [input, Tensor(scalar: Float(1)), Tensor(scalar: true)]))
    }

    // MARK: - Slicing

    func testSliceClampsAndStepsBackwards() throws {
        let input = Tensor(shape: [3, 4], elements: [Int64](0..<12))
        XCTAssertEqual(
            try run("Slice", [:], [input, ints([-1, 100]), ints([-100, -5]), ints([0, 1]), ints([-2, -1])])[0],
            Tensor(shape: [2, 4], elements: [Int64]([11, 10, 9, 8, 3, 2, 1, 0])))
        XCTAssertEqual(
            try run("Slice", opset: 1, ["starts": .ints([1]), "ends": .ints([1000]), "axes": .ints([1])], [input])[0]
                .shape,
            [3, 3])
        XCTAssertEqual(try run("Slice", [:], [input, ints([2]), ints([1]), ints([1])])[0].shape, [3, 0])
        XCTAssertThrowsError(try run("Slice", [:], [input, ints([0]), ints([1]), ints([0]), ints([0])]))
        XCTAssertEqual(
            try run("Slice", [:], [input, ints([2]), ints([-100]), ints([0]), ints([Int64.min])])[0],
            Tensor(shape: [1, 4], elements: [Int64]([8, 9, 10, 11])))
    }

    func testSplitBySizesAndIntoUnevenParts() throws {
        let input = Tensor(shape: [5], elements: [Int32](0..<5))
        XCTAssertEqual(
            try run("Split", ["num_outputs": .int(2)], [input], outputs: 2),
            [Tensor(shape: [3], elements: [Int32]([0, 1, 2])), Tensor(shape: [2], elements: [Int32]([3, 4]))])
        XCTAssertEqual(try run("Split", [:], [input, ints([1, 4])], outputs: 2).map(\.shape), [[1], [4]])
        XCTAssertEqual(
            try run("Split", opset: 11, ["split": .ints([4, 1])], [input], outputs: 2).map(\.shape), [[4], [1]])
        XCTAssertThrowsError(try run("Split", [:], [input, ints([1, 1])], outputs: 2))
        XCTAssertThrowsError(try run("Split", [:], [input, ints([1, 1, 3])], outputs: 2))
    }

    func testConcatJoinsAlongAxisAndChecksShapes() throws {
        let a = Tensor(shape: [2, 1], elements: ["a", "b"])
        let b = Tensor(shape: [2, 2], elements: ["c", "d", "e", "f"])
        XCTAssertEqual(
            try run("Concat", ["axis": .int(-1)], [a, b])[0],
            Tensor(shape: [2, 3], elements: ["a", "c", "d", "b", "e", "f"]))
        XCTAssertThrowsError(try run("Concat", ["axis": .int(0)], [a, b]))
        XCTAssertThrowsError(
            try run("Concat", ["axis": .int(1)], [a, Tensor(shape: [2, 1], elements: [Float]([1, 2]))]))
    }

    func testReverseSequence() throws {
        let input = Tensor(shape: [4, 2], elements: [Float]([0, 1, 2, 3, 4, 5, 6, 7]))
        XCTAssertEqual(
            try run("ReverseSequence", ["batch_axis": .int(1), "time_axis": .int(0)], [input, ints([3, 1])])[0],
            Tensor(shape: [4, 2], elements: [Float]([4, 1, 2, 3, 0, 5, 6, 7])))
        XCTAssertThrowsError(try run("ReverseSequence", [:], [input, ints([5, 1])]))
    }

    // MARK: - Padding and replication

    func testPadModesMatchNumpy() throws {
        let input = Tensor(shape: [2, 3], elements: [Int32](0..<6))
        let pads = ints([1, 2, 0, 3])
        let expected: [String: [Int32]] = [
            "reflect": [5, 4, 3, 4, 5, 4, 3, 4, 2, 1, 0, 1, 2, 1, 0, 1, 5, 4, 3, 4, 5, 4, 3, 4],
            "edge": [0, 0, 0, 1, 2, 2, 2, 2, 0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5, 5, 5, 5],
            "wrap": [4, 5, 3, 4, 5, 3, 4, 5, 1, 2, 0, 1, 2, 0, 1, 2, 4, 5, 3, 4, 5, 3, 4, 5],
        ]
        for (mode, values) in expected {
            let output = try run("Pad", ["mode": text(mode)], [input, pads])[0]
            XCTAssertEqual(output, Tensor(shape: [3, 8], elements: values), mode)
        }
    }

    func testPadCropsWithNegativePadsAndUsesAxesAndConstant() throws {
        let input = Tensor(shape: [2, 3], elements: [Int32](0..<6))
        XCTAssertEqual(
            try run("Pad", [:], [input, ints([-1, 1]), Tensor(scalar: Int32(9)), ints([1])])[0],
            Tensor(shape: [2, 3], elements: [Int32]([1, 2, 9, 4, 5, 9])))
        XCTAssertEqual(
            try run("Pad", opset: 2, ["pads": .ints([0, 1, 0, 0]), "value": .float(7)], [input])[0],
            Tensor(shape: [2, 4], elements: [Int32]([7, 0, 1, 2, 7, 3, 4, 5])))
        XCTAssertThrowsError(try run("Pad", [:], [input, ints([0, -4, 0, 0])]))
        XCTAssertThrowsError(try run("Pad", [:], [input, ints([0, 1 << 40, 0, 0])]))
    }

    func testCenterCropPad() throws {
        let input = Tensor(shape: [3, 2], elements: (0..<6).map { Float($0) })
        XCTAssertEqual(
            try run("CenterCropPad", [:], [input, ints([2, 4])])[0],
            Tensor(shape: [2, 4], elements: [Float]([0, 0, 1, 0, 0, 2, 3, 0])))
    }

    func testTileRepeatsEveryAxisAndRefusesHugeOutputs() throws {
        let input = Tensor(shape: [1, 2], elements: ["x", "y"])
        XCTAssertEqual(
            try run("Tile", [:], [input, ints([3, 2])])[0],
            Tensor(shape: [3, 4], elements: Array(repeating: ["x", "y", "x", "y"], count: 3).flatMap { $0 }))
        XCTAssertEqual(
            try run("Tile", opset: 1, [:], [input, ints([2]).reshaped([]), ints([1]).reshaped([])])[0].shape, [1, 4])
        XCTAssertEqual(try run("Tile", [:], [input, ints([0, 5])])[0].shape, [0, 10])
        XCTAssertThrowsError(try run("Tile", [:], [input, ints([1 << 30, 1 << 30])]))
    }

    func testUpsampleNearest() throws {
        let input = Tensor(shape: [1, 2], elements: [Float]([1, 2]))
        XCTAssertEqual(
            try run("Upsample", opset: 9, [:], [input, Tensor(shape: [2], elements: [Float]([2, 1.5]))])[0],
            Tensor(shape: [2, 3], elements: [Float]([1, 1, 2, 1, 1, 2])))
        XCTAssertThrowsError(try run("Upsample", opset: 9, ["mode": text("linear")], [input, input]))
    }

    // MARK: - Gather and scatter

    func testGatherWrapsNegativeIndicesAndRejectsOutOfRange() throws {
        let data = Tensor(shape: [3, 2], elements: [Float]([0, 1, 2, 3, 4, 5]))
        XCTAssertEqual(
            try run("Gather", ["axis": .int(1)], [data, Tensor(shape: [1, 2], elements: [Int32]([-1, 0]))])[0],
            Tensor(shape: [3, 1, 2], elements: [Float]([1, 0, 3, 2, 5, 4])))
        XCTAssertThrowsError(try run("Gather", [:], [data, ints([3])]))
        XCTAssertThrowsError(try run("Gather", [:], [data, ints([-4])]))
        XCTAssertThrowsError(
            try run("Gather", [:], [data, Tensor(shape: [1], elements: [Float](repeating: 0, count: 1))]))
    }

    func testGatherElementsAndGatherNDWithBatchDims() throws {
        let data = Tensor(shape: [2, 2], elements: [Int64]([1, 2, 3, 4]))
        XCTAssertEqual(
            try run("GatherElements", ["axis": .int(1)], [data, ints([0, 0, 1, 0]).reshaped([2, 2])])[0],
            Tensor(shape: [2, 2], elements: [Int64]([1, 1, 4, 3])))
        XCTAssertThrowsError(try run("GatherElements", [:], [data, ints([2, 0]).reshaped([1, 2])]))
        let cube = Tensor(shape: [2, 2, 2], elements: [Int64](0..<8))
        XCTAssertEqual(
            try run("GatherND", ["batch_dims": .int(1)], [cube, ints([1, 0]).reshaped([2, 1])])[0],
            Tensor(shape: [2, 2], elements: [Int64]([2, 3, 4, 5])))
        XCTAssertThrowsError(try run("GatherND", [:], [cube, ints([0, 2]).reshaped([1, 2])]))
    }

    func testScatterElementsReductionsAndDuplicates() throws {
        let data = Tensor(shape: [1, 4], elements: [Float](repeating: 1, count: 4))
        let indices = ints([1, 1, -1]).reshaped([1, 3])
        let updates = Tensor(shape: [1, 3], elements: [Float]([2, 3, 4]))
        XCTAssertEqual(
            try run("ScatterElements", ["axis": .int(1), "reduction": text("add")], [data, indices, updates])[0],
            Tensor(shape: [1, 4], elements: [Float]([1, 6, 1, 5])))
        XCTAssertEqual(
            try run("ScatterElements", ["axis": .int(1)], [data, indices, updates])[0],
            Tensor(shape: [1, 4], elements: [Float]([1, 3, 1, 4])))
        XCTAssertThrowsError(
            try run("ScatterElements", ["axis": .int(1)], [data, ints([4]).reshaped([1, 1]), updates]))
    }

    func testScatterNDCombinesInt64Exactly() throws {
        let big = Int64(1) << 60
        let data = Tensor(shape: [2, 2], elements: [big, 1, 2, 3])
        let indices = ints([0, 0]).reshaped([2, 1])
        let updates = Tensor(shape: [2, 2], elements: [Int64]([1, 1, 2, 2]))
        XCTAssertEqual(
            try run("ScatterND", ["reduction": text("add")], [data, indices, updates])[0],
            Tensor(shape: [2, 2], elements: [big + 3, 4, 2, 3]))
        XCTAssertEqual(
            try run(
                "ScatterND", [:],
                [data, ints([1]).reshaped([1, 1]), Tensor(shape: [1, 2], elements: [Int64]([8, 9]))])[0],
            Tensor(shape: [2, 2], elements: [big, 1, 8, 9]))
    }

    func testTensorScatterWrapsInCircularMode() throws {
        let cache = Tensor(shape: [2, 3, 1], elements: [Float](repeating: 0, count: 6))
        let update = Tensor(shape: [2, 2, 1], elements: [Float]([1, 2, 3, 4]))
        XCTAssertEqual(
            try run("TensorScatter", ["mode": text("circular")], [cache, update, ints([2, 0])])[0],
            Tensor(shape: [2, 3, 1], elements: [Float]([2, 0, 1, 3, 4, 0])))
        XCTAssertThrowsError(try run("TensorScatter", [:], [cache, update, ints([2, 0])]))
    }

    func testOneHot() throws {
        let output = try run(
            "OneHot", ["axis": .int(0)],
            [ints([0, -1, 5]), Tensor(scalar: Float(3)), Tensor(shape: [2], elements: ["off", "on"])])[0]
        XCTAssertEqual(
            output, Tensor(shape: [3, 3], elements: ["on", "off", "off", "off", "off", "off", "off", "on", "off"]))
    }

    // MARK: - Selection

    func testCompressNonZeroAndTrilu() throws {
        let data = Tensor(shape: [2, 2], elements: [Float]([0, 1, 2, 0]))
        XCTAssertEqual(
            try run("Compress", ["axis": .int(1)], [data, Tensor(shape: [1], elements: [false])])[0].shape, [2, 0])
        XCTAssertEqual(
            try run("Compress", [:], [data, Tensor(shape: [3], elements: [false, true, true])])[0],
            Tensor(shape: [2], elements: [Float]([1, 2])))
        XCTAssertThrowsError(
            try run("Compress", ["axis": .int(0)], [data, Tensor(shape: [3], elements: [false, false, true])]))
        XCTAssertEqual(try run("NonZero", [:], [data])[0], Tensor(shape: [2, 2], elements: [Int64]([0, 1, 1, 0])))
        let matrix = Tensor(shape: [3, 4], elements: [Int32](0..<12))
        XCTAssertEqual(
            try run("Trilu", [:], [matrix, Tensor(scalar: Int64(1))])[0],
            Tensor(shape: [3, 4], elements: [Int32]([0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11])))
        XCTAssertEqual(
            try run("Trilu", ["upper": .int(0)], [matrix, Tensor(scalar: Int64(-1))])[0],
            Tensor(shape: [3, 4], elements: [Int32]([0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0])))
    }

    func testUniqueSortedUnsortedAndAlongAxis() throws {
        let flat = Tensor(shape: [6], elements: [Int32]([2, 1, 1, 3, 4, 3]))
        let unsorted = try run("Unique", ["sorted": .int(0)], [flat], outputs: 4)
        XCTAssertEqual(unsorted[0], Tensor(shape: [4], elements: [Int32]([2, 1, 3, 4])))
        XCTAssertEqual(unsorted[1], Tensor(shape: [4], elements: [Int64]([0, 1, 3, 4])))
        XCTAssertEqual(unsorted[2], Tensor(shape: [6], elements: [Int64]([0, 1, 1, 2, 3, 2])))
        XCTAssertEqual(unsorted[3], Tensor(shape: [4], elements: [Int64]([1, 2, 2, 1])))
        let rows = Tensor(shape: [3, 3], elements: [Float]([1, 0, 0, 1, 0, 0, 2, 3, 4]))
        let sorted = try run("Unique", ["axis": .int(0)], [rows], outputs: 4)
        XCTAssertEqual(sorted[0], Tensor(shape: [2, 3], elements: [Float]([1, 0, 0, 2, 3, 4])))
        XCTAssertEqual(sorted[2], Tensor(shape: [3], elements: [Int64]([0, 0, 1])))
        XCTAssertEqual(sorted[3], Tensor(shape: [2], elements: [Int64]([2, 1])))
    }

    // MARK: - Depth and space

    func testDepthToSpaceInvertsSpaceToDepthInBothModes() throws {
        let input = Tensor(shape: [1, 8, 2, 3], elements: (0..<48).map { Float($0) })
        for mode in ["DCR", "CRD"] {
            let attributes: [String: AttributeValue] = ["blocksize": .int(2), "mode": text(mode)]
            let space = try run("DepthToSpace", attributes, [input])[0]
            XCTAssertEqual(space.shape, [1, 2, 4, 6])
            XCTAssertEqual(try run("SpaceToDepth", attributes, [space])[0], input, mode)
        }
        let dcr = try run("DepthToSpace", ["blocksize": .int(2)], [input])[0].elements(as: Float.self)
        // DCR: output row 0 interleaves channels 0 and 2 (depth 2, column offsets 0 and 1); numpy gives
        // [0, 12, 1, 13, 2, 14, 24, 36] for the first eight.
        XCTAssertEqual(Array(dcr.prefix(8)), [0, 12, 1, 13, 2, 14, 24, 36])
        XCTAssertThrowsError(try run("DepthToSpace", ["blocksize": .int(3)], [input]))
        XCTAssertThrowsError(try run("SpaceToDepth", ["blocksize": .int(1 << 40)], [input]))
    }

    // MARK: - Helpers

    private func run(
        _ op: String, opset: Int = 24, _ attributes: [String: AttributeValue], _ inputs: [Tensor], outputs: Int = 1
    ) throws -> [Tensor] {
        let node = KernelNode(
            opType: op, opsetVersion: opset, attributes: attributes,
            inputPresent: Array(repeating: true, count: inputs.count), outputCount: outputs)
        return try KernelRegistry.standard.evaluate(node, inputs: inputs.map { .tensor($0) }).map { value in
            guard let tensor = value.tensor else { throw KernelError.invalidInput("expected a tensor output") }
            return tensor
        }
    }

    private func text(_ value: String) -> AttributeValue {
        .string(Array(value.utf8))
    }

    private func ints(_ values: [Int64]) -> Tensor {
        Tensor(shape: [values.count], elements: values)
    }
}
