import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// Resize, GridSample, RoiAlign, NonMaxSuppression, AffineGrid, Col2Im and DeformConv on small hand-computed cases.
final class ImagingTests: XCTestCase {
    private let registry = KernelRegistry.standard

    // MARK: Resize

    func testResizeNearestUpsamplesWithHalfPixelCentres() throws {
        let x = floats([1, 2], [1, 1, 1, 2])
        let scales = floats([1, 1, 1, 2], [4])
        assertClose(try run("Resize", opset: 19, [:], [x, nil, scales]), [1, 1, 2, 2])
        // Resize-10 takes (X, scales) and maps coordinates asymmetrically.
        assertClose(try run("Resize", opset: 10, [:], [x, scales]), [1, 1, 2, 2])
        // Only the listed axes are resized.
        assertClose(try run("Resize", opset: 18, ["axes": .ints([-1])], [x, nil, floats([2], [1])]), [1, 1, 2, 2])
    }

    func testResizeLinearWithAlignCornersAndSizes() throws {
        let x = floats([0, 2], [1, 2])
        let sizes = Tensor(shape: [2], elements: [Int64(1), 3])
        let attributes: [String: AttributeValue] = [
            "mode": .string(Array("linear".utf8)),
            "coordinate_transformation_mode": .string(Array("align_corners".utf8)),
        ]
        let output = try run("Resize", opset: 13, attributes, [x, nil, nil, sizes])
        XCTAssertEqual(output.shape, [1, 3])
        assertClose(output, [0, 1, 2])
    }

    func testResizeRoundsIntegerResultsHalfToEven() throws {
        let x = Tensor(shape: [2], elements: [UInt8(0), 3])
        let attributes: [String: AttributeValue] = [
            "mode": .string(Array("linear".utf8)), "coordinate_transformation_mode": .string(Array("asymmetric".utf8)),
        ]
        let output = try run("Resize", opset: 19, attributes, [x, nil, floats([2], [1])])
        XCTAssertEqual(output, Tensor(shape: [4], elements: [UInt8(0), 2, 3, 3]))
    }

    func testResizeNeedsExactlyOneOfScalesAndSizes() {
        let x = floats([1, 2], [2])
        let sizes = Tensor(shape: [1], elements: [Int64(4)])
        XCTAssertThrowsError(try run("Resize", opset: 19, [:], [x, nil, floats([2], [1]), sizes]))
        XCTAssertThrowsError(try run("Resize", opset: 19, [:], [x]))
        XCTAssertThrowsError(try run("Resize", opset: 19, [:], [x, nil, floats([-1], [1])]))
        XCTAssertThrowsError(
            try run("Resize", opset: 19, ["mode": .string(Array("area".utf8))], [x, nil, floats([2], [1])]))
    }

    // MARK: GridSample

    func testGridSampleInterpolatesAndPads() throws {
        let x = floats([1, 2, 3, 4], [1, 1, 2, 2])
        // (x, y) pairs: two corners, the centre and a point far outside.
        let grid = floats([-1, -1, 1, 1, 0, 0, -3, -3], [1, 1, 4, 2])
        let aligned: [String: AttributeValue] = ["align_corners": .int(1)]
        assertClose(try run("GridSample", opset: 20, aligned, [x, grid]), [1, 4, 2.5, 0])
        var border = aligned
        border["padding_mode"] = .string(Array("border".utf8))
        assertClose(try run("GridSample", opset: 20, border, [x, grid]), [1, 4, 2.5, 1])
        var nearest = aligned
        nearest["mode"] = .string(Array("nearest".utf8))
        assertClose(try run("GridSample", opset: 16, nearest, [x, grid]), [1, 4, 1, 0])
    }

    func testGridSampleRejectsMismatchedGridAndOldModeNames() {
        let x = floats([1, 2, 3, 4], [1, 1, 2, 2])
        XCTAssertThrowsError(try run("GridSample", opset: 20, [:], [x, floats([0, 0, 0], [1, 1, 1, 3])]))
        XCTAssertThrowsError(
            try run(
                "GridSample", opset: 20, ["mode": .string(Array("bilinear".utf8))], [x, floats([0, 0], [1, 1, 1, 2])]))
    }

    // MARK: RoiAlign

    func testRoiAlignAveragesAConstantImage() throws {
        let x = floats(Array(repeating: 5, count: 16), [1, 1, 4, 4])
        let rois = floats([0, 0, 3, 3], [1, 4])
        let indices = Tensor(shape: [1], elements: [Int64(0)])
        let attributes: [String: AttributeValue] = ["output_height": .int(2), "output_width": .int(2)]
        let output = try run("RoiAlign", opset: 16, attributes, [x, rois, indices])
        XCTAssertEqual(output.shape, [1, 1, 2, 2])
        assertClose(output, [5, 5, 5, 5])
        let badIndex = Tensor(shape: [1], elements: [Int64(3)])
        XCTAssertThrowsError(try run("RoiAlign", opset: 16, attributes, [x, rois, badIndex]))
    }

    // MARK: NonMaxSuppression

    func testNonMaxSuppressionDropsOverlappingBoxes() throws {
        let boxes = floats([0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 2, 1, 3], [1, 3, 4])
        let scores = floats([0.9, 0.8, 0.7], [1, 1, 3])
        let output = try run(
            "NonMaxSuppression", opset: 11, [:],
            [boxes, scores, Tensor(shape: [1], elements: [Int64(3)]), floats([0.5], [1])])
        XCTAssertEqual(output, Tensor(shape: [2, 3], elements: [Int64(0), 0, 0, 0, 0, 2]))
        XCTAssertThrowsError(try run("NonMaxSuppression", opset: 11, [:], [boxes, floats([1], [1, 1, 1])]))
    }

    // MARK: AffineGrid, Col2Im, DeformConv

    func testAffineGridOfTheIdentity() throws {
        let theta = floats([1, 0, 0, 0, 1, 0], [1, 2, 3])
        let size = Tensor(shape: [4], elements: [Int64(1), 1, 2, 2])
        let output = try run("AffineGrid", opset: 20, ["align_corners": .int(1)], [theta, size])
        XCTAssertEqual(output.shape, [1, 2, 2, 2])
        assertClose(output, [-1, -1, 1, -1, -1, 1, 1, 1])
        assertClose(
            try run("AffineGrid", opset: 20, [:], [theta, size]), [-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5])
    }

    func testCol2ImSumsOverlappingBlocks() throws {
        let input = floats([1, 2, 10, 20], [1, 2, 2])
        let image = Tensor(shape: [2], elements: [Int64(1), 3])
        let block = Tensor(shape: [2], elements: [Int64(1), 2])
        let output = try run("Col2Im", opset: 18, [:], [input, image, block])
        XCTAssertEqual(output.shape, [1, 1, 1, 3])
        assertClose(output, [1, 12, 20])
        XCTAssertThrowsError(try run("Col2Im", opset: 18, [:], [floats([1, 2, 3], [1, 1, 3]), image, block]))
    }

    func testDeformConvSamplesAtOffsetPositions() throws {
        let x = floats([1, 2, 3, 4], [1, 1, 2, 2])
        let w = floats([2], [1, 1, 1, 1])
        let still = floats(Array(repeating: 0, count: 8), [1, 2, 2, 2])
        assertClose(try run("DeformConv", opset: 19, [:], [x, w, still]), [2, 4, 6, 8])
        // Half a pixel to the right; the right column's second tap falls outside and reads zero.
        let shifted = floats([0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5], [1, 2, 2, 2])
        assertClose(try run("DeformConv", opset: 22, [:], [x, w, shifted]), [3, 2, 7, 4])
        XCTAssertThrowsError(try run("DeformConv", opset: 22, [:], [x, w, floats([0, 0], [1, 2, 1, 1])]))
    }

    // MARK: Helpers

    private func run(
        _ op: String, opset: Int, _ attributes: [String: AttributeValue], _ inputs: [Tensor?]
    ) throws -> Tensor {
        let node = KernelNode(
            opType: op, opsetVersion: opset, attributes: attributes, inputPresent: inputs.map { $0 != nil })
        let outputs = try registry.evaluate(node, inputs: inputs.map { $0.map { .tensor($0) } })
        guard let tensor = outputs.first?.tensor else { throw KernelError.invalidInput("\(op) returned no tensor") }
        return tensor
    }

    private func floats(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, elements: values)
    }
}
