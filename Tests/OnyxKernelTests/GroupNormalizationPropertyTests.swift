import OnyxCore
import OnyxFormat
import OnyxGraph
import XCTest

@testable import OnyxKernels

/// GroupNormalization three ways on random problems: fused by the graph pass, lowered into primitive ONNX ops, and
/// the straightforward Double reference of ``GroupNormalizationTests``, over ranks 3–5, group counts, epsilons,
/// opsets 18 (per-group scale and bias) and 21 (per channel), and element types.
final class GroupNormalizationPropertyTests: XCTestCase {
    func testFusedLoweredAndReferenceAgreeOnRandomProblems() throws {
        var random = SplitMix(seed: 2026)
        for _ in 0..<40 {
            let (shape, groups, epsilon) = random.groupNormalizationProblem()
            let channels = shape[1]
            let opset = random.int(in: 0...1) == 0 ? 18 : 21
            let dataType = [DataType.float, .double, .float16][random.int(in: 0...2)]
            let parameterCount = opset == 18 ? groups : channels
            let scale = random.values(parameterCount).map { 1 + $0 }
            let bias = random.values(parameterCount)
            let problem = "shape \(shape), \(groups) groups, epsilon \(epsilon), opset \(opset), \(dataType)"
            let graph = oneNodeGraph(
                shape: shape, groups: groups, epsilon: epsilon, opset: opset,
                scale: GroupNormalizationTests.tensor(scale, [parameterCount], dataType),
                bias: GroupNormalizationTests.tensor(bias, [parameterCount], dataType), dataType: dataType)
            let input = GroupNormalizationTests.tensor(random.values(shape.reduce(1, *)), shape, dataType)

            let fused = GroupNormalizationFusion.apply(to: graph)
            XCTAssertTrue(fused.nodes.count == 1 && FusedGroupNormalization.matches(fused.nodes[0]), problem)
            let lowered = try GroupNormalizationLowering.apply(to: graph)
            XCTAssertFalse(lowered.nodes.contains { $0.opType == "GroupNormalization" }, problem)

            // The reference takes per-channel parameters, rounded to the element type as the model holds them.
            let perChannel = { (values: [Double]) in
                let rounded = GroupNormalizationTests.rounded(values, to: dataType)
                return opset == 18 ? (0..<channels).map { rounded[$0 / (channels / groups)] } : rounded
            }
            let expected = GroupNormalizationTests.reference(
                try XCTUnwrap(input.doubleValues()), shape: shape, groups: groups, scale: perChannel(scale),
                bias: perChannel(bias), epsilon: epsilon, silu: false)
            // float16 rounds the output, and the lowered ops round every intermediate too.
            let tolerance = dataType == .double ? 1e-9 : dataType == .float16 ? 2e-2 : 1e-4
            for (name, optimized) in [("fused", fused), ("lowered", lowered)] {
                let output = try evaluate(optimized, input: input)
                XCTAssertEqual(output.dataType, dataType, "\(name), \(problem)")
                let actual = try XCTUnwrap(output.doubleValues(), "\(name), \(problem)")
                assertClose(actual, expected, tolerance: tolerance, "\(name), \(problem)")
            }
        }
    }

    /// One GroupNormalization node reading `x`, with `scale` and `bias` as initializers.
    private func oneNodeGraph(
        shape: [Int], groups: Int, epsilon: Double, opset: Int, scale: Tensor, bias: Tensor, dataType: DataType
    ) -> Graph {
        let type = ValueType.tensor(dataType, shape: shape.map { .value($0) })
        let node = Node(
            name: "gn", opType: "GroupNormalization", inputs: ["x", "scale", "bias"], outputs: ["y"],
            attributes: ["num_groups": .int(groups), "epsilon": .float(Float(epsilon))])
        return Graph(
            name: "group-normalization", nodes: [node], inputs: [ValueInfo(name: "x", type: type)],
            outputs: [ValueInfo(name: "y", type: type)], initializers: ["scale": scale, "bias": bias],
            valueTypes: ["x": type, "y": type], opsets: ["": opset])
    }

    /// `graph`'s single output for input `x`: every node run through the standard kernels once its inputs exist.
    private func evaluate(_ graph: Graph, input: Tensor) throws -> Tensor {
        var values: [String: Value] = graph.initializers.mapValues { .tensor($0) }
        values["x"] = .tensor(input)
        var pending = graph.nodes
        while !pending.isEmpty {
            let ready = try XCTUnwrap(
                pending.firstIndex { $0.inputs.allSatisfy { $0.isEmpty || values[$0] != nil } },
                "a node's inputs are never produced")
            let node = pending.remove(at: ready)
            let kernelNode = KernelNode(
                name: node.name, opType: node.opType, domain: node.domain,
                opsetVersion: graph.opsets[node.domain] ?? 1, attributes: node.attributes,
                inputPresent: node.inputs.map { !$0.isEmpty }, outputCount: node.outputs.count)
            let outputs = try KernelRegistry.standard.evaluate(
                kernelNode, inputs: node.inputs.map { $0.isEmpty ? nil : values[$0] })
            for (name, value) in zip(node.outputs, outputs) { values[name] = value }
        }
        return try XCTUnwrap(values[graph.outputs[0].name]?.tensor)
    }
}
