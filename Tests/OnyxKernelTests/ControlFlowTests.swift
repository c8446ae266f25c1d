import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// If, Loop and Scan, with bodies emulated by the context's subgraph runner.
final class ControlFlowTests: XCTestCase {
    func testIfRunsTheChosenBranch() throws {
        let node = controlNode("If", opset: 19, graphs: ["then_branch": (0, 1), "else_branch": (0, 1)])
        let context = KernelContext { name, inputs in
            XCTAssertTrue(inputs.isEmpty)
            return [.tensor(Tensor(scalar: Float(name == "then_branch" ? 1 : 2)))]
        }
        for (condition, expected) in [(true, Float(1)), (false, 2)] {
            let outputs = try registry.evaluate(node, inputs: [.tensor(Tensor(scalar: condition))], context: context)
            XCTAssertEqual(outputs.first?.tensor, Tensor(scalar: expected))
        }
    }

    func testIfRejectsAConditionThatIsNotOneBool() {
        let node = controlNode("If", opset: 11, graphs: ["then_branch": (0, 1), "else_branch": (0, 1)])
        let context = KernelContext { _, _ in [.tensor(Tensor(scalar: Float(0)))] }
        for bad in [Tensor(shape: [2], elements: [true, false]), Tensor(scalar: Float(1))] {
            XCTAssertThrowsError(try registry.evaluate(node, inputs: [.tensor(bad)], context: context))
        }
    }

    func testLoopCarriesValuesAndStacksScanOutputs() throws {
        // body(i, cond, y) = (cond, y + i, y + i)
        let node = controlNode("Loop", opset: 11, graphs: ["body": (3, 3)], outputs: 2)
        let context = KernelContext { _, inputs in
            let iteration = Float(inputs[0].tensor!.elements(as: Int64.self)[0])
            let next = Tensor(shape: [1], elements: inputs[2].tensor!.elements(as: Float.self).map { $0 + iteration })
            return [inputs[1], .tensor(next), .tensor(next)]
        }
        let outputs = try registry.evaluate(
            node,
            inputs: [
                .tensor(Tensor(scalar: Int64(4))), .tensor(Tensor(scalar: true)),
                .tensor(Tensor(shape: [1], elements: [Float(10)])),
            ],
            context: context)
        XCTAssertEqual(outputs[0].tensor, Tensor(shape: [1], elements: [Float(16)]))
        XCTAssertEqual(outputs[1].tensor, Tensor(shape: [4, 1], elements: [Float(10), 11, 13, 16]))
    }

    func testLoopStopsWhenTheBodyClearsTheCondition() throws {
        // body(i, cond, n) = (i < 2, n + 1): runs for i = 0, 1, 2 without a trip count.
        let node = controlNode("Loop", opset: 16, graphs: ["body": (3, 2)])
        let context = KernelContext { _, inputs in
            let iteration = inputs[0].tensor!.elements(as: Int64.self)[0]
            let count = inputs[2].tensor!.elements(as: Int64.self)[0]
            return [.tensor(Tensor(scalar: iteration < 2)), .tensor(Tensor(scalar: count + 1))]
        }
        let outputs = try registry.evaluate(
            node, inputs: [nil, .tensor(Tensor(scalar: true)), .tensor(Tensor(scalar: Int64(0)))], context: context)
        XCTAssertEqual(outputs[0].tensor, Tensor(scalar: Int64(3)))
    }

    func testLoopWithoutIterationsGivesAnEmptyScanOutputOfTheDeclaredType() throws {
        let declared = ValueType.tensor(.float, shape: [.value(2)])
        let node = controlNode("Loop", opset: 13, graphs: ["body": (2, 2)], outputs: 1, outputType: declared)
        let context = KernelContext { _, _ in
            XCTFail("the body must not run")
            return []
        }
        let outputs = try registry.evaluate(node, inputs: [.tensor(Tensor(scalar: Int64(0))), nil], context: context)
        XCTAssertEqual(outputs[0].tensor, Tensor(zeros: .float, shape: [0, 2]))
    }

    func testLoopCarriesSequences() throws {
        // body(i, cond, s) = (cond, s with i appended)
        let node = controlNode("Loop", opset: 13, graphs: ["body": (3, 2)])
        let context = KernelContext { _, inputs in
            guard case .sequence(let elements, let type) = inputs[2] else {
                throw KernelError.invalidInput("not a sequence")
            }
            return [inputs[1], .sequence(elements + [inputs[0]], elementType: type)]
        }
        let empty = Value.sequence([], elementType: .tensor(.int64, shape: nil))
        let outputs = try registry.evaluate(
            node, inputs: [.tensor(Tensor(scalar: Int64(2))), nil, empty], context: context)
        guard case .sequence(let elements, _) = outputs[0] else { return XCTFail("expected a sequence") }
        XCTAssertEqual(elements.map(\.tensor), [Tensor(scalar: Int64(0)), Tensor(scalar: Int64(1))])
    }

    func testLoopRejectsABodyReturningTheWrongNumberOfValues() {
        let node = controlNode("Loop", opset: 11, graphs: ["body": (3, 2)])
        let context = KernelContext { _, inputs in [inputs[1]] }
        XCTAssertThrowsError(
            try registry.evaluate(
                node, inputs: [.tensor(Tensor(scalar: Int64(1))), nil, .tensor(Tensor(scalar: Float(0)))],
                context: context))
    }

    func testScanSumsAlongReversedAxesAndStacksOnAnotherAxis() throws {
        // body(sum, x) = (sum + x, sum + x); x is scanned along axis 1, backwards; the scan output stacks on axis 1.
        let node = controlNode(
            "Scan", opset: 9, graphs: ["body": (2, 2)], outputs: 2,
            attributes: [
                "num_scan_inputs": .int(1), "scan_input_axes": .ints([1]), "scan_input_directions": .ints([1]),
                "scan_output_axes": .ints([-1]),
            ])
        let outputs = try registry.evaluate(
            node,
            inputs: [
                .tensor(Tensor(shape: [2], elements: [Float(0), 0])),
                .tensor(Tensor(shape: [2, 3], elements: [Float(1), 2, 3, 4, 5, 6])),
            ],
            context: summingBody)
        XCTAssertEqual(outputs[0].tensor, Tensor(shape: [2], elements: [Float(6), 15]))
        XCTAssertEqual(outputs[1].tensor, Tensor(shape: [2, 3], elements: [Float(3), 5, 6, 6, 11, 15]))
    }

    func testBatchedScanHonoursSequenceLengthsAndPadsWithZeros() throws {
        let node = controlNode(
            "Scan", opset: 8, graphs: ["body": (2, 2)], outputs: 2, attributes: ["num_scan_inputs": .int(1)])
        let outputs = try registry.evaluate(
            node,
            inputs: [
                .tensor(Tensor(shape: [2], elements: [Int64(3), 1])),
                .tensor(Tensor(shape: [2, 1], elements: [Float(0), 100])),
                .tensor(Tensor(shape: [2, 3, 1], elements: [Float(1), 2, 3, 4, 5, 6])),
            ],
            context: summingBody)
        XCTAssertEqual(outputs[0].tensor, Tensor(shape: [2, 1], elements: [Float(6), 104]))
        XCTAssertEqual(outputs[1].tensor, Tensor(shape: [2, 3, 1], elements: [Float(1), 3, 6, 104, 0, 0]))
    }

    func testScanRejectsScanInputsOfDifferentLengths() {
        let node = controlNode(
            "Scan", opset: 11, graphs: ["body": (2, 2)], outputs: 2, attributes: ["num_scan_inputs": .int(2)])
        let inputs: [Value?] = [
            .tensor(Tensor(shape: [2], elements: [Float(1), 2])),
            .tensor(Tensor(shape: [3], elements: [Float(1), 2, 3])),
        ]
        XCTAssertThrowsError(try registry.evaluate(node, inputs: inputs, context: summingBody))
    }

    func testScanRequiresNumScanInputs() {
        let node = controlNode("Scan", opset: 9, graphs: ["body": (2, 2)], outputs: 2)
        XCTAssertThrowsError(try registry.evaluate(node, inputs: [], context: summingBody))
    }

    // MARK: - Helpers

    private let registry = KernelRegistry.standard

    /// A body adding its two float inputs and returning the sum twice (state and scan output).
    private let summingBody = KernelContext { _, inputs in
        let sum = zip(inputs[0].tensor!.elements(as: Float.self), inputs[1].tensor!.elements(as: Float.self)).map(+)
        let tensor = Tensor(shape: inputs[0].tensor!.shape, elements: sum)
        return [.tensor(tensor), .tensor(tensor)]
    }

    /// A node whose graph attributes have the given (input count, output count); the last output declares
    /// `outputType`.
    private func controlNode(
        _ op: String, opset: Int, graphs: [String: (Int, Int)], outputs: Int = 1,
        attributes: [String: AttributeValue] = [:], outputType: ValueType? = nil
    ) -> KernelNode {
        var all = attributes
        for (name, (inputCount, outputCount)) in graphs {
            let outputs = (0..<outputCount).map {
                ValueInfo(name: "out\($0)", type: $0 == outputCount - 1 ? outputType : nil)
            }
            all[name] = .graph(
                GraphProto(
                    name: name, nodes: [], initializers: [],
                    inputs: (0..<inputCount).map { ValueInfo(name: "in\($0)", type: nil) },
                    outputs: outputs, valueInfo: []))
        }
        return KernelNode(opType: op, opsetVersion: opset, attributes: all, outputCount: outputs)
    }
}
