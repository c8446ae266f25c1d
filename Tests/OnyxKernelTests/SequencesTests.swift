import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// The sequence and optional operators.
final class SequencesTests: XCTestCase {
    func testSequenceEmptyKeepsItsElementType() throws {
        let float = try run("SequenceEmpty", [])
        guard case .sequence(let elements, let type) = float else { return XCTFail("expected a sequence") }
        XCTAssertTrue(elements.isEmpty)
        XCTAssertEqual(type, .tensor(.float, shape: nil))
        guard case .sequence(_, let int32Type) = try run("SequenceEmpty", [], attributes: ["dtype": .int(6)]) else {
            return XCTFail("expected a sequence")
        }
        XCTAssertEqual(int32Type, .tensor(.int32, shape: nil))
        XCTAssertThrowsError(try run("SequenceEmpty", [], attributes: ["dtype": .int(99)]))
    }

    func testInsertAtEraseAndLength() throws {
        let built = try run("SequenceConstruct", [.tensor(scalar(1)), .tensor(scalar(2))])
        let inserted = try run("SequenceInsert", [built, .tensor(scalar(9)), .tensor(Tensor(scalar: Int64(-1)))])
        XCTAssertEqual(tensors(inserted), [scalar(1), scalar(9), scalar(2)])
        let appended = try run("SequenceInsert", [built, .tensor(scalar(7))])
        XCTAssertEqual(tensors(appended), [scalar(1), scalar(2), scalar(7)])
        XCTAssertEqual(try run("SequenceAt", [inserted, .tensor(Tensor(scalar: Int32(-3)))]).tensor, scalar(1))
        XCTAssertEqual(
            tensors(try run("SequenceErase", [inserted, .tensor(Tensor(scalar: Int64(1)))])), [scalar(1), scalar(2)])
        XCTAssertEqual(tensors(try run("SequenceErase", [inserted])), [scalar(1), scalar(9)])
        XCTAssertEqual(try run("SequenceLength", [inserted]).tensor, Tensor(scalar: Int64(3)))
    }

    func testPositionsOutOfRangeAndMismatchedTypesAreRejected() throws {
        let built = try run("SequenceConstruct", [.tensor(scalar(1))])
        XCTAssertThrowsError(try run("SequenceAt", [built, .tensor(Tensor(scalar: Int64(1)))]))
        XCTAssertThrowsError(try run("SequenceInsert", [built, .tensor(scalar(2)), .tensor(Tensor(scalar: Int64(2)))]))
        XCTAssertThrowsError(try run("SequenceInsert", [built, .tensor(Tensor(scalar: Int64(2)))]))
        XCTAssertThrowsError(try run("SequenceErase", [.sequence([], elementType: nil)]))
        XCTAssertThrowsError(try run("SequenceConstruct", [.tensor(scalar(1)), .tensor(Tensor(scalar: Int64(1)))]))
    }

    func testSplitToSequenceByScalarByListAndIntoSlices() throws {
        let input = Tensor(shape: [5, 2], elements: (0..<10).map(Float.init))
        let chunks = tensors(try run("SplitToSequence", [.tensor(input), .tensor(Tensor(scalar: Int64(2)))]))
        XCTAssertEqual(chunks.map(\.shape), [[2, 2], [2, 2], [1, 2]])
        XCTAssertEqual(chunks[2].elements(as: Float.self), [8, 9])
        let listed = tensors(
            try run(
                "SplitToSequence", [.tensor(input), .tensor(Tensor(shape: [2], elements: [Int64(1), 1]))],
                attributes: ["axis": .int(-1)]))
        XCTAssertEqual(listed[1], Tensor(shape: [5, 1], elements: [Float(1), 3, 5, 7, 9]))
        let slices = tensors(
            try run("SplitToSequence", [.tensor(input)], attributes: ["axis": .int(1), "keepdims": .int(0)]))
        XCTAssertEqual(slices[0], Tensor(shape: [5], elements: [Float(0), 2, 4, 6, 8]))
        XCTAssertThrowsError(
            try run("SplitToSequence", [.tensor(input), .tensor(Tensor(shape: [2], elements: [Int64(1), 1]))]))
    }

    func testConcatFromSequenceJoinsOrStacks() throws {
        let strings = try run(
            "SequenceConstruct",
            [
                .tensor(Tensor(shape: [1, 2], elements: ["a", "b"])),
                .tensor(Tensor(shape: [1, 2], elements: ["c", "d"])),
            ])
        XCTAssertEqual(
            try run("ConcatFromSequence", [strings], attributes: ["axis": .int(1)]).tensor,
            Tensor(shape: [1, 4], elements: ["a", "b", "c", "d"]))
        XCTAssertEqual(
            try run("ConcatFromSequence", [strings], attributes: ["axis": .int(-1), "new_axis": .int(1)]).tensor,
            Tensor(shape: [1, 2, 2], elements: ["a", "c", "b", "d"]))
        XCTAssertThrowsError(try run("ConcatFromSequence", [strings]))
        XCTAssertThrowsError(
            try run("ConcatFromSequence", [.sequence([], elementType: nil)], attributes: ["axis": .int(0)]))
    }

    func testSequenceMapWalksSequencesAndRepeatsTensors() throws {
        let body = GraphProto(
            name: "body", nodes: [], initializers: [],
            inputs: [ValueInfo(name: "x", type: nil), ValueInfo(name: "y", type: nil)],
            outputs: [ValueInfo(name: "sum", type: .tensor(.float, shape: nil))], valueInfo: [])
        let node = KernelNode(opType: "SequenceMap", opsetVersion: 17, attributes: ["body": .graph(body)])
        let context = KernelContext { _, inputs in
            [
                .tensor(
                    Tensor(
                        scalar: inputs[0].tensor!.elements(as: Float.self)[0]
                            + inputs[1].tensor!.elements(as: Float.self)[0]))
            ]
        }
        let sequence = try run("SequenceConstruct", [.tensor(scalar(1)), .tensor(scalar(2))])
        let outputs = try KernelRegistry.standard.evaluate(
            node, inputs: [sequence, .tensor(scalar(10))], context: context)
        XCTAssertEqual(tensors(outputs[0]), [scalar(11), scalar(12)])
        let paired = try KernelRegistry.standard.evaluate(node, inputs: [sequence, sequence], context: context)
        XCTAssertEqual(tensors(paired[0]), [scalar(2), scalar(4)])
        let short = try run("SequenceConstruct", [.tensor(scalar(1))])
        XCTAssertThrowsError(try KernelRegistry.standard.evaluate(node, inputs: [sequence, short], context: context))
    }

    func testOptionalWrapsAndUnwraps() throws {
        let empty = try run("Optional", [], attributes: ["type": .type(.tensor(.float, shape: nil))])
        XCTAssertEqual(try run("OptionalHasElement", [empty]).tensor, Tensor(scalar: false))
        XCTAssertEqual(try run("OptionalHasElement", [nil], opset: 18).tensor, Tensor(scalar: false))
        XCTAssertThrowsError(try run("OptionalGetElement", [empty]))
        XCTAssertThrowsError(try run("Optional", []))
        let full = try run("Optional", [.tensor(scalar(3))])
        XCTAssertEqual(try run("OptionalHasElement", [full]).tensor, Tensor(scalar: true))
        XCTAssertEqual(try run("OptionalGetElement", [full]).tensor, scalar(3))
        XCTAssertEqual(try run("OptionalGetElement", [.tensor(scalar(4))], opset: 18).tensor, scalar(4))
    }

    // MARK: - Helpers

    private func run(
        _ op: String, _ inputs: [Value?], attributes: [String: AttributeValue] = [:], opset: Int = 17
    ) throws -> Value {
        let node = KernelNode(opType: op, opsetVersion: opset, attributes: attributes)
        return try KernelRegistry.standard.evaluate(node, inputs: inputs)[0]
    }

    private func scalar(_ value: Float) -> Tensor { Tensor(scalar: value) }

    private func tensors(_ value: Value) -> [Tensor] {
        guard case .sequence(let elements, _) = value else { return [] }
        return elements.compactMap(\.tensor)
    }
}
