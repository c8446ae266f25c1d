import OnyxCore

// Scan: runs `body` once per position along the scan axis of its M scan inputs. The body takes (N state values,
// M scan-input slices) and returns (N state values, K scan-output slices); Scan returns the final states and each
// scan output's slices stacked. Opset 8 scans axis 1 of inputs batched on axis 0, with optional per-batch
// sequence lengths; opset 9 drops the batch and makes axes and directions attributes.

/// Scan from opset 9: `scan_input_axes`/`scan_input_directions` choose how inputs are walked,
/// `scan_output_axes`/`scan_output_directions` where and in which order output slices are stacked.
struct ScanKernel: Kernel {
    private let scanInputCount: Int
    private let stateCount: Int
    private let scanOutputTypes: [ValueType?]
    private let inputAxes: [Int]
    private let inputReversed: [Bool]
    private let outputAxes: [Int]
    private let outputReversed: [Bool]

    init(_ node: KernelNode) throws {
        let body = try BodySignature(node)
        (scanInputCount, stateCount, scanOutputTypes) = try scanShape(node, body: body)
        let outputCount = scanOutputTypes.count
        inputAxes = try node.ints("scan_input_axes") ?? Array(repeating: 0, count: scanInputCount)
        inputReversed = try directions(node, "scan_input_directions", count: scanInputCount)
        outputAxes = try node.ints("scan_output_axes") ?? Array(repeating: 0, count: outputCount)
        outputReversed = try directions(node, "scan_output_directions", count: outputCount)
        guard inputAxes.count == scanInputCount else {
            throw KernelError.invalidAttribute("scan_input_axes", "expected \(scanInputCount) axes, got \(inputAxes)")
        }
        guard outputAxes.count == outputCount else {
            throw KernelError.invalidAttribute("scan_output_axes", "expected \(outputCount) axes, got \(outputAxes)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        guard inputs.count == stateCount + scanInputCount else {
            throw KernelError.invalidInput(
                "Scan has \(inputs.count) inputs, its body takes \(stateCount) states and \(scanInputCount) scan inputs"
            )
        }
        let states = try (0..<stateCount).map { index in
            guard let value = inputs.value(index) else { throw KernelError.missingInput(index) }
            return value
        }
        var slices = [[Tensor]]()
        for index in 0..<scanInputCount {
            let input = try inputs.tensor(stateCount + index)
            let axis = try AxisPieces.normalized(inputAxes[index], rank: input.rank, name: "scan_input_axes")
            let pieces = try AxisPieces.slices(of: input, axis: axis)
            guard slices.isEmpty || pieces.count == slices[0].count else {
                throw KernelError.invalidInput(
                    "scan input \(index) has \(pieces.count) positions along its axis, scan input 0 \(slices[0].count)")
            }
            slices.append(inputReversed[index] ? pieces.reversed() : pieces)
        }
        let (finalStates, scanValues) = try runIterations(
            states: states, slices: slices, length: slices.first?.count ?? 0, scanOutputCount: scanOutputTypes.count,
            context: context)
        let scanOutputs = try scanValues.indices.map { index in
            let values = outputReversed[index] ? scanValues[index].reversed() : scanValues[index]
            return Value.tensor(try stackIterations(values, axis: outputAxes[index], declared: scanOutputTypes[index]))
        }
        return finalStates + scanOutputs
    }
}

/// Scan in opset 8: every state and scan input is batched on axis 0 and scan inputs are walked along axis 1,
/// each batch entry for its own length (`sequence_lens`, default: the full axis); `directions` reverses inputs.
/// Scan outputs have the full length in every batch entry, zero past that entry's length.
struct BatchedScanKernel: Kernel {
    private let scanInputCount: Int
    private let stateCount: Int
    private let scanOutputTypes: [ValueType?]
    private let inputReversed: [Bool]

    init(_ node: KernelNode) throws {
        let body = try BodySignature(node)
        (scanInputCount, stateCount, scanOutputTypes) = try scanShape(node, body: body)
        inputReversed = try directions(node, "directions", count: scanInputCount)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        guard inputs.count == 1 + stateCount + scanInputCount else {
            throw KernelError.invalidInput(
                "Scan has \(inputs.count - 1) inputs after sequence_lens, its body takes \(stateCount) states and "
                    + "\(scanInputCount) scan inputs"
            )
        }
        let states = try (0..<stateCount).map { try inputs.tensor(1 + $0) }
        let scanInputs = try (0..<scanInputCount).map { try inputs.tensor(1 + stateCount + $0) }
        guard let first = scanInputs.first, first.rank >= 2 else {
            throw KernelError.invalidInput("scan inputs must have a batch and a sequence axis")
        }
        let (batch, maximumLength) = (first.shape[0], first.shape[1])
        for tensor in states + scanInputs where tensor.shape.first != batch {
            throw KernelError.invalidInput(
                "every state and scan input must have batch size \(batch), got \(tensor.shape)")
        }
        for tensor in scanInputs where tensor.rank < 2 || tensor.shape[1] != maximumLength {
            throw KernelError.invalidInput(
                "every scan input must have sequence length \(maximumLength), got \(tensor.shape)")
        }
        let lengths = try sequenceLengths(try inputs.optionalTensor(0), batch: batch, maximum: maximumLength)
        let batchStates = try states.map { try AxisPieces.slices(of: $0, axis: 0) }
        let batchInputs = try scanInputs.map { try AxisPieces.slices(of: $0, axis: 0) }
        var finalStates = [[Tensor]](repeating: [], count: stateCount)
        var scanValues = [[[Tensor]]](repeating: [], count: scanOutputTypes.count)
        for entry in 0..<batch {
            let slices = try batchInputs.enumerated().map { index, entries in
                let positions = try AxisPieces.slices(of: entries[entry], axis: 0).prefix(lengths[entry])
                return inputReversed[index] ? Array(positions.reversed()) : Array(positions)
            }
            let (entryStates, entryValues) = try runIterations(
                states: batchStates.map { .tensor($0[entry]) }, slices: slices, length: lengths[entry],
                scanOutputCount: scanOutputTypes.count, context: context)
            for (index, state) in entryStates.enumerated() {
                guard let tensor = state.tensor else {
                    throw KernelError.invalidInput("state \(index) must be a tensor, got \(state)")
                }
                finalStates[index].append(tensor)
            }
            for index in entryValues.indices { scanValues[index].append(entryValues[index]) }
        }
        let stackedStates = try finalStates.enumerated().map { index, values in
            Value.tensor(batch == 0 ? states[index] : try AxisPieces.stack(values, axis: 0))
        }
        let scanOutputs = try scanValues.enumerated().map { index, entries in
            Value.tensor(try padAndStack(entries, length: maximumLength, declared: scanOutputTypes[index]))
        }
        return stackedStates + scanOutputs
    }

    /// Stacks each batch entry's slices, padded with zeros to `length`, then the entries along the batch axis.
    private func padAndStack(_ entries: [[Tensor]], length: Int, declared: ValueType?) throws -> Tensor {
        guard let example = entries.lazy.compactMap(\.first).first else {
            let empty = try stackIterations([], axis: 0, declared: declared)
            var shape = empty.shape
            shape[0] = length
            return Tensor(zeros: empty.dataType, shape: [entries.count] + shape)
        }
        let padding = Tensor(zeros: example.dataType, shape: example.shape)
        let stacked = try entries.map { slices in
            try AxisPieces.stack(slices + Array(repeating: padding, count: length - slices.count), axis: 0)
        }
        return try AxisPieces.stack(stacked, axis: 0)
    }

    private func sequenceLengths(_ tensor: Tensor?, batch: Int, maximum: Int) throws -> [Int] {
        guard let tensor else { return Array(repeating: maximum, count: batch) }
        guard tensor.dataType == .int64 || tensor.dataType == .int32, tensor.count == batch,
            let lengths = tensor.intValues(), lengths.allSatisfy({ (0...maximum).contains($0) })
        else {
            throw KernelError.invalidInput("sequence_lens must hold \(batch) lengths in 0...\(maximum), got \(tensor)")
        }
        return lengths
    }
}

/// Runs the body `length` times from `states`, feeding slice `t` of every scan input to iteration `t`; returns the
/// final states and, per scan output, the slice each iteration produced.
private func runIterations(
    states: [Value], slices: [[Tensor]], length: Int, scanOutputCount: Int, context: KernelContext
) throws -> (states: [Value], scanValues: [[Tensor]]) {
    var states = states
    var scanValues = [[Tensor]](repeating: [], count: scanOutputCount)
    for position in 0..<length {
        let outputs = try context.runSubgraph("body", inputs: states + slices.map { Value.tensor($0[position]) })
        guard outputs.count == states.count + scanOutputCount else {
            throw KernelError.invalidInput(
                "body returned \(outputs.count) values, expected \(states.count + scanOutputCount)")
        }
        states = Array(outputs[..<states.count])
        for (index, value) in outputs[states.count...].enumerated() {
            guard let tensor = value.tensor else {
                throw KernelError.invalidInput("scan output \(index) must be a tensor, got \(value)")
            }
            scanValues[index].append(tensor)
        }
    }
    return (states, scanValues)
}

/// M (from `num_scan_inputs`), N and the declared types of the K scan outputs, checked against the body.
private func scanShape(_ node: KernelNode, body: BodySignature) throws -> (Int, Int, [ValueType?]) {
    guard let scanInputCount = try node.int("num_scan_inputs") else {
        throw KernelError.invalidAttribute("num_scan_inputs", "the attribute is required")
    }
    let stateCount = body.inputCount - scanInputCount
    guard scanInputCount >= 1, stateCount >= 0, body.outputTypes.count >= stateCount else {
        throw KernelError.invalidAttribute(
            "num_scan_inputs",
            "\(scanInputCount) does not fit a body of \(body.inputCount) inputs and \(body.outputTypes.count) outputs")
    }
    return (scanInputCount, stateCount, Array(body.outputTypes[stateCount...]))
}

/// A list of 0 (forward) / 1 (reverse) flags, all forward when unset.
private func directions(_ node: KernelNode, _ name: String, count: Int) throws -> [Bool] {
    guard let flags = try node.ints(name) else { return Array(repeating: false, count: count) }
    guard flags.count == count, flags.allSatisfy({ $0 == 0 || $0 == 1 }) else {
        throw KernelError.invalidAttribute(name, "expected \(count) flags of 0 or 1, got \(flags)")
    }
    return flags.map { $0 == 1 }
}
