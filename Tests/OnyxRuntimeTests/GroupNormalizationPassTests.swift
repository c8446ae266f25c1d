import Foundation
import Onyx
import XCTest

/// Builds small graphs node by node for pass tests.
private struct GraphBuilder {
    var nodes: [Node] = []
    var initializers: [String: Tensor] = [:]
    var inputs: [ValueInfo] = []
    private var counter = 0

    init(input: String = "x", shape: [Int]) {
        addInput(input, shape: shape)
    }

    mutating func addInput(_ name: String, shape: [Int]) {
        inputs.append(ValueInfo(name: name, type: .tensor(.float, shape: shape.map { .value($0) })))
    }

    private mutating func fresh(_ hint: String) -> String {
        counter += 1
        return "\(hint)\(counter)"
    }

    @discardableResult
    mutating func op(_ opType: String, _ inputs: [String], _ attributes: [String: AttributeValue] = [:], domain: String = "")
        -> String
    {
        let output = fresh(opType.lowercased())
        nodes.append(
            Node(name: output, opType: opType, domain: domain, inputs: inputs, outputs: [output], attributes: attributes))
        return output
    }

    mutating func floats(_ values: [Float], shape: [Int]? = nil) -> String {
        let name = fresh("f")
        initializers[name] = Tensor(shape: shape ?? [values.count], elements: values)
        return name
    }

    mutating func ints(_ values: [Int]) -> String {
        let name = fresh("i")
        initializers[name] = Tensor(shape: [values.count], elements: values.map { Int64($0) })
        return name
    }

    /// A `Constant` node holding `values`, as an unfolded function body has them.
    mutating func constantNode(_ values: [Int]) -> String {
        op("Constant", [], ["value": .tensor(Tensor(shape: [values.count], elements: values.map { Int64($0) }))])
    }

    func graph(outputs: [String], opset: Int) -> Graph {
        var types: [String: ValueType] = [:]
        for input in inputs { types[input.name] = input.type }
        return Graph(
            name: "test", nodes: nodes, inputs: inputs, outputs: outputs.map { ValueInfo(name: $0, type: nil) },
            initializers: initializers, valueTypes: types, opsets: ["": opset])
    }
}

private let gamma: [Float] = [1.5, 0.5, 2, 1, 0.25, 3]
private let beta: [Float] = [0.1, -0.2, 0.3, -0.4, 0.5, -0.6]

/// The fused nodes of `graph`.
private func fused(_ graph: Graph) -> [Node] {
    graph.nodes.filter(FusedGroupNormalization.matches)
}

private func floats(_ graph: Graph, _ value: String) -> [Float]? {
    graph.initializers[value]?.elements(as: Float.self)
}

final class GroupNormalizationFusionTests: XCTestCase {
    func testOpset21OperatorAndSiLUBecomeOneFusedNode() throws {
        var b = GraphBuilder(shape: [1, 6, 4, 4])
        b.addInput("scale", shape: [6])
        b.addInput("bias", shape: [6])
        let y = b.op("GroupNormalization", ["x", "scale", "bias"], ["num_groups": .int(3), "epsilon": .float(1e-3)])
        let out = b.op("Mul", [b.op("Sigmoid", [y]), y])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [out], opset: 21))
        XCTAssertEqual(graph.nodes.count, 1)
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(node.inputs, ["x", "scale", "bias"])
        XCTAssertEqual(node.outputs, [out])
        XCTAssertEqual(FusedGroupNormalization(node), FusedGroupNormalization(groups: 3, epsilon: 1e-3, silu: true))
        XCTAssertEqual(graph.opsets["ai.onyx"], 1)
    }

    func testDoubleStashTypeKeepsTheOnnxOperator() {
        var b = GraphBuilder(shape: [1, 6, 4, 4])
        b.addInput("scale", shape: [6])
        b.addInput("bias", shape: [6])
        let y = b.op("GroupNormalization", ["x", "scale", "bias"], ["num_groups": .int(3), "stash_type": .int(11)])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [y], opset: 21))
        XCTAssertEqual(graph.nodes.map(\.opType), ["GroupNormalization"])
        XCTAssertTrue(fused(graph).isEmpty)
    }

    func testOpset18ConstantPerGroupScaleIsExpandedPerChannel() throws {
        var b = GraphBuilder(shape: [2, 6, 3])
        let y = b.op("GroupNormalization", ["x", b.floats([2, 3, 4]), b.floats([0, 1, 2])], ["num_groups": .int(3)])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [y], opset: 18))
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(floats(graph, node.inputs[1]), [2, 2, 3, 3, 4, 4])
        XCTAssertEqual(floats(graph, node.inputs[2]), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(FusedGroupNormalization(node), FusedGroupNormalization(groups: 3, epsilon: 1e-5))
        XCTAssertEqual(graph.initializers.count, 2, "the per-group constants are dropped")
    }

    func testOpset18RuntimePerGroupScaleStaysTheOnnxOperator() {
        var b = GraphBuilder(shape: [2, 6, 3])
        b.addInput("scale", shape: [3])
        let y = b.op("GroupNormalization", ["x", "scale", b.floats([0, 1, 2])], ["num_groups": .int(3)])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [y], opset: 18))
        XCTAssertEqual(graph.nodes.map(\.opType), ["GroupNormalization"])
        XCTAssertTrue(fused(graph).isEmpty)
    }

    /// PyTorch's export: Reshape → InstanceNormalization → Reshape(Shape(x)) → Mul γ → Add β → SiLU.
    private func pytorch(
        gammaShape: [Int] = [6, 1, 1], groupShape: [Int] = [0, 3, -1], instanceScale: [Float] = [1, 1, 1],
        sigmoidFirst: Bool = false, alsoRead: ((inout GraphBuilder, [String: String]) -> String)? = nil
    ) -> Graph {
        var b = GraphBuilder(shape: [1, 6, 2, 2])
        let grouped = b.op("Reshape", ["x", b.ints(groupShape)])
        let normalized = b.op(
            "InstanceNormalization", [grouped, b.floats(instanceScale), b.floats([0, 0, 0])], ["epsilon": .float(1e-4)])
        let back = b.op("Reshape", [normalized, b.op("Shape", ["x"])])
        let scaled = b.op("Mul", [back, b.floats(gamma, shape: gammaShape)])
        let shifted = b.op("Add", [b.floats(beta, shape: [1, 6, 1, 1]), scaled])
        let gate = b.op("Sigmoid", [shifted])
        let out = b.op("Mul", sigmoidFirst ? [gate, shifted] : [shifted, gate])
        let values = ["grouped": grouped, "normalized": normalized, "back": back, "scaled": scaled, "shifted": shifted]
        let extra = alsoRead.map { [$0(&b, values)] } ?? []
        return b.graph(outputs: [out] + extra, opset: 17)
    }

    func testPyTorchExportFusesWithSiLUInEitherOperandOrder() throws {
        for sigmoidFirst in [false, true] {
            let graph = GroupNormalizationFusion.apply(to: pytorch(sigmoidFirst: sigmoidFirst))
            XCTAssertEqual(graph.nodes.count, 1, "sigmoid first: \(sigmoidFirst)")
            let node = try XCTUnwrap(fused(graph).first)
            XCTAssertEqual(node.inputs[0], "x")
            XCTAssertEqual(floats(graph, node.inputs[1]), gamma)
            XCTAssertEqual(floats(graph, node.inputs[2]), beta)
            XCTAssertEqual(FusedGroupNormalization(node), FusedGroupNormalization(groups: 3, epsilon: 1e-4, silu: true))
            XCTAssertEqual(Set(graph.initializers.keys), Set(node.inputs.dropFirst()), "old constants are dropped")
        }
    }

    func testRuntimeGammaUnsqueezedPerChannelIsPassedThrough() throws {
        var b = GraphBuilder(shape: [1, 6, 2, 2])
        b.addInput("weight", shape: [6])
        let grouped = b.op("Reshape", ["x", b.ints([0, 2, -1])])
        let normalized = b.op("InstanceNormalization", [grouped, b.floats([1, 1]), b.floats([0, 0])])
        let back = b.op("Reshape", [normalized, b.op("Shape", ["x"])])
        let y = b.op("Mul", [back, b.op("Unsqueeze", ["weight", b.ints([1, 2])])])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [y], opset: 17))
        XCTAssertEqual(graph.nodes.count, 1)
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(node.inputs[1], "weight")
        XCTAssertEqual(floats(graph, node.inputs[2]), [Float](repeating: 0, count: 6))
        XCTAssertEqual(FusedGroupNormalization(node), FusedGroupNormalization(groups: 2, epsilon: 1e-5))
    }

    /// ONNX's function body of GroupNormalization-21 (or -18, which scales per group before reshaping back) as
    /// constant folding leaves it: Cast(Constant ε) folded; scale and bias folded too when `constantAffine`.
    private func functionBody(opset: Int, constantAffine: ([Float], [Float])? = nil) -> Graph {
        var b = GraphBuilder(shape: [3, 4, 2, 2])
        let epsilon = b.floats([1e-5])
        let xu = opset >= 21 ? b.op("Cast", ["x"], ["to": .int(1)]) : "x"
        let xShape = b.op("Shape", [xu])
        let groups = b.constantNode([2])
        let groupSize = b.op("Div", [b.op("Shape", ["x"], ["start": .int(1), "end": .int(2)]), groups])
        let newShape = b.op(
            "Concat",
            [
                b.op("Shape", ["x"], ["start": .int(0), "end": .int(1)]), groups, groupSize,
                b.op("Shape", ["x"], ["start": .int(2)]),
            ],
            ["axis": .int(0)])
        let shape3D = b.constantNode([0, 0, -1])
        let x3D = b.op("Reshape", [b.op("Reshape", [xu, newShape]), shape3D])
        let axes = b.constantNode([2])
        let mean = b.op("ReduceMean", [x3D, axes])
        let meanOfSquare = b.op("ReduceMean", [b.op("Mul", [x3D, x3D]), axes])
        let variance = b.op("Sub", [meanOfSquare, b.op("Mul", [mean, mean])])
        let deviationScale = b.op("Sqrt", [b.op("Add", [variance, epsilon])])
        var normalized = b.op("Div", [b.op("Sub", [x3D, mean]), deviationScale])
        if opset >= 21 {
            normalized = b.op("Cast", [b.op("Reshape", [b.op("Reshape", [normalized, xShape]), shape3D])], ["to": .int(1)])
        }
        let scale: String
        let bias: String
        if let (scaleValues, biasValues) = constantAffine {
            scale = b.floats(scaleValues, shape: [1, scaleValues.count, 1])
            bias = b.floats(biasValues, shape: [1, biasValues.count, 1])
        } else {
            let channels = opset >= 21 ? 4 : 2
            b.addInput("scale", shape: [channels])
            b.addInput("bias", shape: [channels])
            let scaleShape = b.constantNode([1, -1, 1])
            scale = b.op("Reshape", [b.op("Cast", ["scale"], ["to": .int(1)]), scaleShape])
            bias = b.op("Reshape", [b.op("Cast", ["bias"], ["to": .int(1)]), scaleShape])
        }
        let y = b.op("Reshape", [b.op("Add", [b.op("Mul", [scale, normalized]), bias]), xShape])
        return b.graph(outputs: [y], opset: opset)
    }

    func testOnnxFunctionBodyOfOpset21Fuses() throws {
        let graph = GroupNormalizationFusion.apply(to: functionBody(opset: 21))
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(graph.nodes.count, 3, "the fused node and the Casts of scale and bias: \(graph.nodes.map(\.opType))")
        XCTAssertEqual(node.inputs[0], "x", "the Cast to float and back is absorbed")
        XCTAssertEqual(FusedGroupNormalization(node)?.groups, 2)
        for (position, name) in [(1, "scale"), (2, "bias")] {
            let cast = try XCTUnwrap(graph.nodes.first { $0.outputs == [node.inputs[position]] })
            XCTAssertEqual(cast.inputs, [name])
        }
    }

    func testOnnxFunctionBodyOfOpset18NeedsConstantPerGroupScale() throws {
        XCTAssertTrue(fused(GroupNormalizationFusion.apply(to: functionBody(opset: 18))).isEmpty, "run-time per-group scale")
        let graph = GroupNormalizationFusion.apply(to: functionBody(opset: 18, constantAffine: ([2, 3], [-1, 1])))
        XCTAssertEqual(graph.nodes.count, 1, "\(graph.nodes.map(\.opType))")
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(floats(graph, node.inputs[1]), [2, 2, 3, 3])
        XCTAssertEqual(floats(graph, node.inputs[2]), [-1, -1, 1, 1])
    }

    /// The founding note's group_norm on an NHWC tensor [1, 2, 2, 6] with 3 groups, in opset 13 (axes attributes).
    private func moments(
        square: String = "Pow", axes: [Int] = [2, 3, 4], epsilonAfterRoot: Bool = false, reciprocal: Bool = false,
        expectedSquares: Bool = false, transposes: Bool = true
    ) -> Graph {
        var b = GraphBuilder(shape: transposes ? [1, 2, 2, 6] : [1, 6, 2, 2])
        let nchw = transposes ? b.op("Transpose", ["x"], ["perm": .ints([0, 3, 1, 2])]) : "x"
        let grouped = b.op("Reshape", [nchw, b.ints([1, 3, 2, 2, 2])])
        let reduce: [String: AttributeValue] = ["axes": .ints(axes), "keepdims": .int(1)]
        let mean = b.op("ReduceMean", [grouped], reduce)
        let deviation = b.op("Sub", [grouped, mean])
        func squared(_ value: String) -> String {
            square == "Pow" ? b.op("Pow", [value, b.floats([2], shape: [])]) : b.op("Mul", [value, value])
        }
        let variance = expectedSquares
            ? b.op("Sub", [b.op("ReduceMean", [squared(grouped)], reduce), squared(mean)])
            : b.op("ReduceMean", [squared(deviation)], reduce)
        let epsilon = b.floats([1e-8], shape: [])
        let root = epsilonAfterRoot
            ? b.op("Add", [b.op("Sqrt", [variance]), epsilon]) : b.op("Sqrt", [b.op("Add", [epsilon, variance])])
        let normalized = reciprocal
            ? b.op("Mul", [b.op("Reciprocal", [root]), deviation]) : b.op("Div", [deviation, root])
        let back = b.op("Reshape", [normalized, b.ints([1, 6, 2, 2])])
        let y = b.op("Add", [b.op("Mul", [b.floats(gamma, shape: [1, 6, 1, 1]), back]), b.floats(beta, shape: [1, 6, 1, 1])])
        let out = transposes ? b.op("Transpose", [y], ["perm": .ints([0, 2, 3, 1])]) : y
        return b.graph(outputs: [out], opset: 13)
    }

    func testFoundingNoteMomentsFormBecomesChannelsLast() throws {
        let graph = GroupNormalizationFusion.apply(to: moments())
        XCTAssertEqual(graph.nodes.count, 1, "\(graph.nodes.map(\.opType))")
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(node.inputs[0], "x")
        XCTAssertEqual(FusedGroupNormalization(node), FusedGroupNormalization(groups: 3, epsilon: 1e-8, channelsLast: true))
        XCTAssertEqual(floats(graph, node.inputs[1]), gamma)
        XCTAssertEqual(floats(graph, node.inputs[2]), beta)
    }

    func testMomentsVariantsFuse() {
        let variants: [(String, Graph)] = [
            ("Mul square", moments(square: "Mul")),
            ("E[x²] − E[x]²", moments(expectedSquares: true)),
            ("reciprocal", moments(reciprocal: true)),
            ("negative axes", moments(axes: [-1, -3, -2])),
            ("channels-first", moments(transposes: false)),
        ]
        for (name, graph) in variants {
            let result = GroupNormalizationFusion.apply(to: graph)
            XCTAssertEqual(result.nodes.count, 1, "\(name): \(result.nodes.map(\.opType))")
            XCTAssertEqual(fused(result).count, 1, name)
        }
    }

    // MARK: Patterns that must not fuse

    func testWrongAxesOrEpsilonPlacementDoNotFuse() {
        for (name, graph) in [("axes 3, 4", moments(axes: [3, 4])), ("ε after Sqrt", moments(epsilonAfterRoot: true))] {
            let result = GroupNormalizationFusion.apply(to: graph)
            XCTAssertTrue(fused(result).isEmpty, name)
            XCTAssertEqual(result.nodes.count, graph.nodes.count, name)
        }
    }

    func testIntermediateReadElsewhereBlocksFusion() {
        for value in ["grouped", "normalized"] {
            let graph = pytorch(alsoRead: { b, values in b.op("Relu", [values[value]!]) })
            XCTAssertTrue(fused(GroupNormalizationFusion.apply(to: graph)).isEmpty, value)
        }
        let asOutput = pytorch(alsoRead: { _, values in values["normalized"]! })
        XCTAssertTrue(fused(GroupNormalizationFusion.apply(to: asOutput)).isEmpty, "graph output")
    }

    func testValueReadAfterTheNormalizationEndsThePatternThere() throws {
        // `back` is read elsewhere: the fused node produces it, and γ, β and SiLU stay outside.
        let graph = GroupNormalizationFusion.apply(to: pytorch(alsoRead: { b, values in b.op("Relu", [values["back"]!]) }))
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(floats(graph, node.inputs[1]), [Float](repeating: 1, count: 6))
        XCTAssertEqual(graph.nodes.map(\.opType), ["GroupNormalization", "Mul", "Add", "Sigmoid", "Mul", "Relu"])
    }

    func testGammaThatIsNotPerChannelStaysOutside() throws {
        // γ of shape [6] broadcasts along W, not C: the normalisation fuses, the Mul (and what follows) stays.
        let graph = GroupNormalizationFusion.apply(to: pytorch(gammaShape: [6]))
        let node = try XCTUnwrap(fused(graph).first)
        XCTAssertEqual(floats(graph, node.inputs[1]), [Float](repeating: 1, count: 6))
        XCTAssertEqual(floats(graph, node.inputs[2]), [Float](repeating: 0, count: 6))
        XCTAssertEqual(graph.nodes.map(\.opType), ["GroupNormalization", "Mul", "Add", "Sigmoid", "Mul"])
    }

    func testGroupingThatDoesNotSplitChannelsDoesNotFuse() {
        let cases: [(String, Graph)] = [
            ("4 groups of 6 channels", pytorch(groupShape: [0, 4, -1], instanceScale: [1, 1, 1, 1])),
            ("batch 2 of a batch-1 tensor", pytorch(groupShape: [2, 3, -1])),
            ("instance scale not 1", pytorch(instanceScale: [1, 2, 1])),
        ]
        for (name, graph) in cases {
            XCTAssertTrue(fused(GroupNormalizationFusion.apply(to: graph)).isEmpty, name)
        }
    }

    func testSiLUIsNotFoldedWhenTheNormalizedValueHasAnotherReader() throws {
        var b = GraphBuilder(shape: [1, 6, 4])
        let y = b.op("GroupNormalization", ["x", b.floats(gamma), b.floats(beta)], ["num_groups": .int(2)])
        let out = b.op("Mul", [y, b.op("Sigmoid", [y])])
        let graph = GroupNormalizationFusion.apply(to: b.graph(outputs: [out, y], opset: 21))
        XCTAssertEqual(graph.nodes.map(\.opType), ["GroupNormalization", "Sigmoid", "Mul"])
        XCTAssertEqual(FusedGroupNormalization(try XCTUnwrap(fused(graph).first))?.silu, false)
    }

    // MARK: Transposes

    func testTransposeRoundTripsCancel() {
        var b = GraphBuilder(shape: [1, 3, 4, 5])
        let nhwc = b.op("Transpose", ["x"], ["perm": .ints([0, 2, 3, 1])])
        let back = b.op("Transpose", [nhwc], ["perm": .ints([0, 3, 1, 2])])
        let relu = b.op("Relu", [back])
        let reversed = b.op("Transpose", [b.op("Transpose", [relu])])
        let twice = b.op("Transpose", [reversed], ["perm": .ints([0, 2, 3, 1])])
        let kept = b.op("Transpose", [twice], ["perm": .ints([0, 2, 3, 1])])
        let graph = TransposeCancellation.apply(to: b.graph(outputs: [kept], opset: 21))
        XCTAssertEqual(graph.nodes.map(\.opType), ["Relu", "Transpose", "Transpose"])
        XCTAssertEqual(graph.nodes[0].inputs, ["x"])
        XCTAssertEqual(graph.nodes[1].inputs, [relu])
    }

    func testTransposeProducingAGraphOutputStays() {
        var b = GraphBuilder(shape: [1, 3, 4, 5])
        let nhwc = b.op("Transpose", ["x"], ["perm": .ints([0, 2, 3, 1])])
        let back = b.op("Transpose", [nhwc], ["perm": .ints([0, 3, 1, 2])])
        XCTAssertEqual(TransposeCancellation.apply(to: b.graph(outputs: [back], opset: 21)).nodes.count, 2)
    }
}

final class GroupNormalizationLoweringTests: XCTestCase {
    private func graph(opset: Int, fused attributes: FusedGroupNormalization? = nil) -> Graph {
        var b = GraphBuilder(shape: [1, 4, 3, 4])
        let count = attributes == nil && opset < 21 ? 2 : 4
        let inputs = ["x", b.floats(Array(gamma.prefix(count))), b.floats(Array(beta.prefix(count)))]
        if let attributes {
            b.nodes.append(attributes.node(name: "gn", inputs: inputs, output: "y"))
        } else {
            b.nodes.append(
                Node(name: "gn", opType: "GroupNormalization", inputs: inputs, outputs: ["y"], attributes: ["num_groups": .int(2)]))
        }
        var graph = b.graph(outputs: ["y"], opset: opset)
        if attributes != nil { graph.opsets["ai.onyx"] = 1 }
        return graph
    }

    private let channelsLastSiLU = FusedGroupNormalization(groups: 2, epsilon: 1e-3, channelsLast: true, silu: true)

    func testLoweringLeavesOnlyPrimitiveOnnxOps() throws {
        let cases: [(String, Graph)] = [
            ("opset 18", graph(opset: 18)),
            ("opset 21", graph(opset: 21)),
            ("fused, channels-last, silu, opset 13", graph(opset: 13, fused: channelsLastSiLU)),
        ]
        for (name, graph) in cases {
            let lowered = try GroupNormalizationLowering.apply(to: graph)
            XCTAssertFalse(lowered.nodes.contains { $0.opType == "GroupNormalization" }, name)
            XCTAssertTrue(lowered.nodes.allSatisfy { $0.domain.isEmpty }, name)
            XCTAssertEqual(lowered.nodes.last?.outputs, ["y"], name)
            XCTAssertNoThrow(try Schedule(graph: lowered), name)
            let means = lowered.nodes.filter { $0.opType == "ReduceMean" }
            XCTAssertEqual(means.count, 2, name)
            // ReduceMean takes its axes as an input from opset 18 on, as an attribute before.
            XCTAssertEqual(means.allSatisfy { $0.inputs.count == 2 }, graph.opsets[""]! >= 18, name)
            let axesAttributes = means.allSatisfy { if case .ints([2])? = $0.attributes["axes"] { true } else { false } }
            XCTAssertEqual(axesAttributes, graph.opsets[""]! < 18, name)
        }
        let channelsLast = try GroupNormalizationLowering.apply(to: graph(opset: 13, fused: channelsLastSiLU))
        XCTAssertEqual(channelsLast.nodes.filter { $0.opType == "Transpose" }.count, 2)
        XCTAssertEqual(channelsLast.nodes.suffix(2).map(\.opType), ["Sigmoid", "Mul"])
    }

    func testLoweredGraphFusesBack() throws {
        let lowered = try GroupNormalizationLowering.apply(to: graph(opset: 21))
        XCTAssertEqual(fused(GroupNormalizationFusion.apply(to: lowered)).count, 1)
    }

    func testLoweringErrorsNameTheNode() {
        var bad = graph(opset: 21)
        bad.nodes[0].attributes["num_groups"] = nil
        XCTAssertThrowsError(try GroupNormalizationLowering.apply(to: bad)) {
            XCTAssertEqual("\($0)", "cannot lower node 'gn': needs a positive integer attribute num_groups")
        }
        XCTAssertThrowsError(try GraphPasses.lower(["Conv"], in: graph(opset: 21))) {
            XCTAssertEqual($0 as? GraphError, .noLowering(op: "Conv", available: ["GroupNormalization"]))
        }
    }
}

/// The three spellings of one UNet in Models/unet-gn (made by tools/gen-unet-gn.py).
final class UNetSpellingsTests: XCTestCase {
    private let spellings = ["op21", "pytorch", "nhwc-moments"]

    private func folder(_ spelling: String) -> String { packageRoot + "/Models/unet-gn/" + spelling }

    func testEverySpellingFusesToTheSameGraph() throws {
        var histograms: [[String]] = []
        for spelling in spellings {
            let graph = GraphPasses.fuse(
                try Graph(model: TensorFiles.loadModel(folder(spelling) + "/model.onnx")), fusingGroupNormalization: true)
            let blocks = fused(graph)
            XCTAssertEqual(blocks.count, 3, spelling)
            XCTAssertEqual(
                blocks.map(FusedGroupNormalization.init),
                [8, 16, 4].map { FusedGroupNormalization(groups: $0, epsilon: 1e-5, silu: true) }, spelling)
            histograms.append(graph.nodes.map(\.opType).sorted())
        }
        XCTAssertEqual(Set(histograms.map { $0.joined(separator: " ") }).count, 1, "\(histograms)")
    }

    func testEverySpellingMatchesOnnxRuntimeFusedAndLowered() throws {
        for spelling in spellings {
            let input = try TensorFiles.readValue(folder(spelling) + "/test_data_set_0/input_0.pb")
            let expected = try XCTUnwrap(TensorFiles.readValue(folder(spelling) + "/test_data_set_0/output_0.pb").tensor)
            for options in [SessionOptions(), SessionOptions(lowering: ["GroupNormalization"])] {
                let session = try Session(contentsOf: folder(spelling) + "/model.onnx", options: options)
                XCTAssertEqual(fused(session.graph).count, options.lowering.isEmpty ? 3 : 0, spelling)
                let output = try XCTUnwrap(session.run(["input": input])["output"]?.tensor)
                XCTAssertNil(Conformance.compare(output, expected), "\(spelling), lowering \(options.lowering)")
            }
        }
    }
}
