import OnyxCore

/// Loop: runs `body` while the trip count `M` (when given) is not reached and the condition holds.
///
/// The body takes (iteration number, condition, N loop-carried values) and returns (condition, N loop-carried
/// values, K scan outputs); the loop returns the final carried values, then each scan output's per-iteration
/// values stacked along a new first axis. Carried values may be tensors, sequences or optionals.
struct LoopKernel: Kernel {
    private let carriedCount: Int
    private let scanOutputTypes: [ValueType?]
    private let outputCount: Int

    init(_ node: KernelNode) throws {
        let body = try BodySignature(node)
        carriedCount = body.inputCount - 2
        guard carriedCount >= 0, body.outputTypes.count >= carriedCount + 1 else {
            throw KernelError.invalidAttribute(
                "body", "needs 2 + N inputs and 1 + N + K outputs, has \(body.inputCount) and \(body.outputTypes.count)"
            )
        }
        scanOutputTypes = Array(body.outputTypes[(1 + carriedCount)...])
        outputCount = node.outputCount
        guard outputCount <= carriedCount + scanOutputTypes.count else {
            throw KernelError.invalidAttribute(
                "body", "yields \(carriedCount + scanOutputTypes.count) loop outputs, the node has \(outputCount)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        guard inputs.count == 2 + carriedCount else {
            throw KernelError.invalidInput(
                "Loop has \(inputs.count - 2) initial values, its body carries \(carriedCount)")
        }
        let tripCount = try inputs.optionalTensor(0).map { tensor -> Int64 in
            guard tensor.dataType == .int64, tensor.count == 1 else {
                throw KernelError.invalidInput("M must be a single int64, got \(tensor)")
            }
            return tensor.elements(as: Int64.self)[0]
        }
        // An absent condition starts true. The body's condition output ends the loop either way, as ONNX Runtime
        // and the reference implementation do.
        var condition = try inputs.value(1).map { try conditionValue($0, name: "cond") } ?? true
        var carried = try (2..<inputs.count).map { index in
            guard let value = inputs.value(index) else { throw KernelError.missingInput(index) }
            return value
        }
        var scanValues = [[Tensor]](repeating: [], count: scanOutputTypes.count)
        var iteration: Int64 = 0
        while condition, tripCount.map({ iteration < $0 }) ?? true {
            let bodyInputs = [Value.tensor(Tensor(scalar: iteration)), .tensor(Tensor(scalar: condition))] + carried
            let outputs = try context.runSubgraph("body", inputs: bodyInputs)
            guard outputs.count == 1 + carriedCount + scanOutputTypes.count else {
                throw KernelError.invalidInput(
                    "body returned \(outputs.count) values, expected \(1 + carriedCount + scanOutputTypes.count)")
            }
            condition = try conditionValue(outputs[0], name: "the body's condition output")
            carried = Array(outputs[1..<(1 + carriedCount)])
            for (index, value) in outputs[(1 + carriedCount)...].enumerated() {
                guard let tensor = value.tensor else {
                    throw KernelError.invalidInput("scan output \(index) must be a tensor, got \(value)")
                }
                scanValues[index].append(tensor)
            }
            iteration += 1
        }
        let scanOutputs = try scanValues.indices.map { index in
            Value.tensor(try stackIterations(scanValues[index], axis: 0, declared: scanOutputTypes[index]))
        }
        return Array((carried + scanOutputs).prefix(outputCount))
    }
}
