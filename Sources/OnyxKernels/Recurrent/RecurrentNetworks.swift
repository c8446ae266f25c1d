import OnyxCore

/// RNN, GRU and LSTM (every opset): one layer run forward, in reverse or both ways over [seq, batch, input]
/// (or [batch, seq, input] with layout 1), with optional biases, initial states, peepholes, per-batch
/// `sequence_lens` (steps past a sequence's end leave zeros in Y and do not change its state), clip and
/// configurable activations. Outputs Y, Y_h and (LSTM) Y_c.
struct RecurrentKernel: Kernel {
    /// The cell kinds and their per-kind options.
    enum Cell {
        case rnn
        case gru(linearBeforeReset: Bool)
        case lstm(inputForget: Bool)

        var gateCount: Int {
            switch self {
            case .rnn: 1
            case .gru: 3
            case .lstm: 4
            }
        }

        var defaultActivations: [String] {
            switch self {
            case .rnn: ["Tanh"]
            case .gru: ["Sigmoid", "Tanh"]
            case .lstm: ["Sigmoid", "Tanh", "Tanh"]
            }
        }
    }

    private let cell: Cell
    /// Whether each direction runs backward in time (one entry, or two for bidirectional).
    private let reversed: [Bool]
    /// The activations of each direction, in the cell's order (f, g, h).
    private let activations: [[RecurrentActivation]]
    private let clip: Float?
    private let hiddenSize: Int?
    private let batchMajor: Bool

    init(_ node: KernelNode, cell: Cell) throws {
        self.cell = cell
        let direction = try node.string("direction", default: "forward")
        switch direction {
        case "forward": reversed = [false]
        case "reverse": reversed = [true]
        case "bidirectional": reversed = [false, true]
        default:
            throw KernelError.invalidAttribute(
                "direction", "expected forward, reverse or bidirectional, got '\(direction)'")
        }
        let perDirection = cell.defaultActivations.count
        let names =
            try node.strings("activations")
            ?? Array(repeating: cell.defaultActivations, count: reversed.count).flatMap { $0 }
        guard names.count == perDirection * reversed.count else {
            throw KernelError.invalidAttribute(
                "activations",
                "expected \(perDirection * reversed.count) activations for \(direction), got \(names.count)")
        }
        let functions = try RecurrentActivation.list(
            names, alphas: node.floats("activation_alpha") ?? [], betas: node.floats("activation_beta") ?? [])
        activations = (0..<reversed.count).map { Array(functions[$0 * perDirection..<($0 + 1) * perDirection]) }
        clip = try node.float("clip")
        if let clip, !(clip > 0) {
            throw KernelError.invalidAttribute("clip", "must be positive, got \(clip)")
        }
        hiddenSize = try node.int("hidden_size")
        let layout = try node.int("layout", default: 0)
        guard layout == 0 || layout == 1 else {
            throw KernelError.invalidAttribute("layout", "expected 0 or 1, got \(layout)")
        }
        batchMajor = layout == 1
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        if try computesInDouble(x.dataType) {
            return try compute(Double.self, inputs, x: x)
        }
        return try compute(Float.self, inputs, x: x)
    }

    private func compute<C: ComputeFloat>(_: C.Type, _ inputs: KernelInputs, x xTensor: Tensor) throws -> [Value] {
        let shape = try RecurrentShape(
            x: xTensor, w: inputs.tensor(1), r: inputs.tensor(2), gates: cell.gateCount, directions: reversed.count,
            batchMajor: batchMajor)
        if let hiddenSize, hiddenSize != shape.hidden {
            throw KernelError.invalidAttribute("hidden_size", "is \(hiddenSize) but R has hidden size \(shape.hidden)")
        }
        let (steps, batch, hidden, gates) = (shape.steps, shape.batch, shape.hidden, cell.gateCount)
        let x = try xTensor.computeValues(C.self)
        let w = try inputs.tensor(1).computeValues(C.self)
        let r = try inputs.tensor(2).computeValues(C.self)
        let bias = try optionalInput(inputs, 3, "B", shape: [reversed.count, 2 * gates * hidden], as: C.self)
        let lengths = try sequenceLengths(inputs.optionalTensor(4), steps: steps, batch: batch)
        let stateShape = batchMajor ? [batch, reversed.count, hidden] : [reversed.count, batch, hidden]
        let initialH = try optionalInput(inputs, 5, "initial_h", shape: stateShape, as: C.self)
        var initialC: [C]?
        var peepholes: [C]?
        if case .lstm = cell {
            initialC = try optionalInput(inputs, 6, "initial_c", shape: stateShape, as: C.self)
            peepholes = try optionalInput(inputs, 7, "P", shape: [reversed.count, 3 * hidden], as: C.self)
        }

        var y = [C](repeating: 0, count: steps * reversed.count * batch * hidden)
        var finalH = [C](repeating: 0, count: reversed.count * batch * hidden)
        var finalC = finalH
        for direction in reversed.indices {
            let weights = RecurrentWeights(
                w: w, r: r, bias: bias, peepholes: peepholes, direction: direction, gates: gates, hidden: hidden,
                input: shape.input)
            // x·Wᵀ + Wb for every (step, batch) row at once; only the recurrent part depends on the state.
            let projected = weights.inputProjections(x, rows: steps * batch)
            var scratch = RecurrentScratch<C>(gates: gates, hidden: hidden)
            for b in 0..<batch {
                var h = [C](repeating: 0, count: hidden)
                var c = h
                for k in 0..<hidden {
                    let index = shape.stateIndex(direction: direction, batch: b) + k
                    if let initialH { h[k] = initialH[index] }
                    if let initialC { c[k] = initialC[index] }
                }
                for index in 0..<lengths[b] {
                    let t = reversed[direction] ? lengths[b] - 1 - index : index
                    let row = shape.rowIndex(step: t, batch: b) * gates * hidden
                    step(
                        inputPart: projected[row..<row + gates * hidden], h: &h, c: &c, weights: weights,
                        activations: activations[direction], scratch: &scratch)
                    let outputRow = shape.outputIndex(step: t, direction: direction, batch: b)
                    for k in 0..<hidden { y[outputRow + k] = h[k] }
                }
                let stateRow = shape.stateIndex(direction: direction, batch: b)
                for k in 0..<hidden {
                    finalH[stateRow + k] = h[k]
                    finalC[stateRow + k] = c[k]
                }
            }
        }
        let yShape = batchMajor ? [batch, steps, reversed.count, hidden] : [steps, reversed.count, batch, hidden]
        var outputs: [Value] = [
            .tensor(Tensor.fromCompute(y, dataType: xTensor.dataType, shape: yShape)),
            .tensor(Tensor.fromCompute(finalH, dataType: xTensor.dataType, shape: stateShape)),
        ]
        if case .lstm = cell {
            outputs.append(.tensor(Tensor.fromCompute(finalC, dataType: xTensor.dataType, shape: stateShape)))
        }
        return outputs
    }

    /// Advances one batch entry by one time step, updating the hidden state `h` (and the LSTM cell state `c`).
    /// `inputPart` holds x·Wᵀ + Wb for this step's gates.
    private func step<C: ComputeFloat>(
        inputPart: ArraySlice<C>, h: inout [C], c: inout [C], weights: RecurrentWeights<C>,
        activations: [RecurrentActivation], scratch: inout RecurrentScratch<C>
    ) {
        let hidden = h.count
        let input = inputPart.startIndex
        let clip = self.clip.map { C($0) }
        func activate(_ function: RecurrentActivation, _ value: C) -> C {
            function.apply(clip.map { Swift.min(Swift.max(value, -$0), $0) } ?? value)
        }
        switch cell {
        case .rnn:
            weights.recurrentProjection(h, rows: 0..<hidden, into: &scratch.recurrent)
            for k in 0..<hidden { h[k] = activate(activations[0], inputPart[input + k] + scratch.recurrent[k]) }
        case .gru(let linearBeforeReset):
            // Gates z, r, h; the candidate applies the reset gate before or after its recurrent product.
            weights.recurrentProjection(h, rows: 0..<2 * hidden, into: &scratch.recurrent)
            for k in 0..<hidden {
                scratch.update[k] = activate(activations[0], inputPart[input + k] + scratch.recurrent[k])
                scratch.reset[k] = activate(
                    activations[0], inputPart[input + hidden + k] + scratch.recurrent[hidden + k])
            }
            let candidateRows = 2 * hidden..<3 * hidden
            if linearBeforeReset {
                weights.recurrentProjection(h, rows: candidateRows, into: &scratch.recurrent)
                for k in 0..<hidden { scratch.recurrent[k] *= scratch.reset[k] }
            } else {
                for k in 0..<hidden { scratch.resetState[k] = scratch.reset[k] * h[k] }
                weights.recurrentProjection(scratch.resetState, rows: candidateRows, into: &scratch.recurrent)
            }
            for k in 0..<hidden {
                let candidate = activate(activations[1], inputPart[input + 2 * hidden + k] + scratch.recurrent[k])
                h[k] = (1 - scratch.update[k]) * candidate + scratch.update[k] * h[k]
            }
        case .lstm(let inputForget):
            // Gates i, o, f, c; peepholes i, o, f.
            weights.recurrentProjection(h, rows: 0..<4 * hidden, into: &scratch.recurrent)
            for k in 0..<hidden {
                func gate(_ index: Int) -> C {
                    inputPart[input + index * hidden + k] + scratch.recurrent[index * hidden + k]
                }
                let inputGate = activate(activations[0], gate(0) + weights.peephole(0, k) * c[k])
                let forgetGate =
                    inputForget
                    ? 1 - inputGate : activate(activations[0], gate(2) + weights.peephole(2, k) * c[k])
                let cellCandidate = activate(activations[1], gate(3))
                c[k] = forgetGate * c[k] + inputGate * cellCandidate
                let outputGate = activate(activations[0], gate(1) + weights.peephole(1, k) * c[k])
                h[k] = outputGate * activate(activations[2], c[k])
            }
        }
    }

    /// An optional input of a fixed shape, nil when omitted.
    private func optionalInput<C: ComputeFloat>(
        _ inputs: KernelInputs, _ index: Int, _ name: String, shape: [Int], as _: C.Type
    ) throws -> [C]? {
        guard let tensor = try inputs.optionalTensor(index) else { return nil }
        guard tensor.shape == shape else {
            throw KernelError.invalidInput("\(name) must have shape \(shape), got \(tensor.shape)")
        }
        return try tensor.computeValues(C.self)
    }

    /// Each batch entry's sequence length (all `steps` when sequence_lens is omitted).
    private func sequenceLengths(_ tensor: Tensor?, steps: Int, batch: Int) throws -> [Int] {
        guard let tensor else { return Array(repeating: steps, count: batch) }
        guard tensor.shape == [batch], let lengths = tensor.intValues() else {
            throw KernelError.invalidInput(
                "sequence_lens must be integers of shape [\(batch)], got \(tensor.dataType) \(tensor.shape)")
        }
        if let bad = lengths.first(where: { !(0...steps).contains($0) }) {
            throw KernelError.invalidInput("sequence length \(bad) is outside 0...\(steps)")
        }
        return lengths
    }
}

/// Sizes and index arithmetic of one recurrent call, for either layout.
private struct RecurrentShape {
    let steps: Int
    let batch: Int
    let input: Int
    let hidden: Int
    let directions: Int
    let batchMajor: Bool

    init(x: Tensor, w: Tensor, r: Tensor, gates: Int, directions: Int, batchMajor: Bool) throws {
        guard x.rank == 3 else { throw KernelError.invalidInput("X must be 3-D, got shape \(x.shape)") }
        (steps, batch) = batchMajor ? (x.shape[1], x.shape[0]) : (x.shape[0], x.shape[1])
        input = x.shape[2]
        guard r.rank == 3 else { throw KernelError.invalidInput("R must be 3-D, got shape \(r.shape)") }
        hidden = r.shape[2]
        self.directions = directions
        self.batchMajor = batchMajor
        guard w.shape == [directions, gates * hidden, input] else {
            throw KernelError.invalidInput("W must have shape \([directions, gates * hidden, input]), got \(w.shape)")
        }
        guard r.shape == [directions, gates * hidden, hidden] else {
            throw KernelError.invalidInput("R must have shape \([directions, gates * hidden, hidden]), got \(r.shape)")
        }
    }

    /// The row of X (and of its projections) holding (step, batch).
    func rowIndex(step t: Int, batch b: Int) -> Int {
        batchMajor ? b * steps + t : t * batch + b
    }

    func outputIndex(step t: Int, direction d: Int, batch b: Int) -> Int {
        (batchMajor ? (b * steps + t) * directions + d : (t * directions + d) * batch + b) * hidden
    }

    func stateIndex(direction d: Int, batch b: Int) -> Int {
        (batchMajor ? b * directions + d : d * batch + b) * hidden
    }
}

/// One direction's weights: W [gates·hidden, input], R [gates·hidden, hidden], the summed biases and peepholes.
private struct RecurrentWeights<C: ComputeFloat> {
    private let w: [C]
    private let r: [C]
    /// Wb and Rb apart: the GRU candidate applies its reset gate to the recurrent part, Rb included.
    private let inputBias: [C]
    private let recurrentBias: [C]
    private let peepholes: ArraySlice<C>?
    private let hidden: Int
    private let input: Int

    init(w: [C], r: [C], bias: [C]?, peepholes: [C]?, direction: Int, gates: Int, hidden: Int, input: Int) {
        let rows = gates * hidden
        self.w = Array(w[direction * rows * input..<(direction + 1) * rows * input])
        self.r = Array(r[direction * rows * hidden..<(direction + 1) * rows * hidden])
        self.hidden = hidden
        self.input = input
        let biases =
            bias.map { Array($0[direction * 2 * rows..<(direction + 1) * 2 * rows]) }
            ?? [C](repeating: 0, count: 2 * rows)
        inputBias = Array(biases[0..<rows])
        recurrentBias = Array(biases[rows..<2 * rows])
        self.peepholes = peepholes.map { $0[direction * 3 * hidden..<(direction + 1) * 3 * hidden] }
    }

    /// x·Wᵀ + Wb for each of the `rows` rows of `x`: [rows, gates·hidden].
    func inputProjections(_ x: [C], rows: Int) -> [C] {
        let width = inputBias.count
        var result = [C](repeating: 0, count: rows * width)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                result.withUnsafeMutableBufferPointer { result in
                    for row in 0..<rows {
                        let xRow = row * input
                        for gateRow in 0..<width {
                            let weights = gateRow * input
                            var sum = inputBias[gateRow]
                            for k in 0..<input { sum += x[xRow + k] * w[weights + k] }
                            result[row * width + gateRow] = sum
                        }
                    }
                }
            }
        }
        return result
    }

    /// h·Rᵀ + Rb for the given gate rows, written to the start of `output`.
    func recurrentProjection(_ h: [C], rows: Range<Int>, into output: inout [C]) {
        r.withUnsafeBufferPointer { r in
            for (position, row) in rows.enumerated() {
                let weights = row * hidden
                var sum = recurrentBias[row]
                for k in 0..<hidden { sum += h[k] * r[weights + k] }
                output[position] = sum
            }
        }
    }

    /// Peephole weight `gate` (0 input, 1 output, 2 forget) of unit `k`; zero without peepholes.
    func peephole(_ gate: Int, _ k: Int) -> C {
        peepholes.map { $0[$0.startIndex + gate * hidden + k] } ?? 0
    }
}

/// Per-step work buffers, allocated once per direction.
private struct RecurrentScratch<C: ComputeFloat> {
    var recurrent: [C]
    var update: [C]
    var reset: [C]
    var resetState: [C]

    init(gates: Int, hidden: Int) {
        recurrent = [C](repeating: 0, count: gates * hidden)
        update = [C](repeating: 0, count: hidden)
        reset = update
        resetState = update
    }
}

/// One activation function of a recurrent cell, with its alpha and beta.
struct RecurrentActivation {
    private enum Function: String {
        case relu, tanh, sigmoid, affine, leakyrelu, thresholdedrelu, scaledtanh, hardsigmoid, elu, softsign, softplus
    }

    private let function: Function
    private let alpha: Double
    private let beta: Double

    /// The activations `names`, taking alpha and beta values in order from the lists, one per function that
    /// uses them; missing values take the defaults of the matching ONNX operators.
    static func list(_ names: [String], alphas: [Float], betas: [Float]) throws -> [RecurrentActivation] {
        var (alphaIndex, betaIndex) = (0, 0)
        return try names.map { name in
            guard let function = Function(rawValue: name.lowercased()) else {
                throw KernelError.invalidAttribute("activations", "unknown activation '\(name)'")
            }
            let defaults: (alpha: Double?, beta: Double?)
            switch function {
            case .affine: defaults = (1, 0)
            case .leakyrelu: defaults = (0.01, nil)
            case .thresholdedrelu: defaults = (1, nil)
            case .scaledtanh: defaults = (1, 1)
            case .hardsigmoid: defaults = (0.2, 0.5)
            case .elu: defaults = (1, nil)
            case .relu, .tanh, .sigmoid, .softsign, .softplus: defaults = (nil, nil)
            }
            var alpha = 0.0
            var beta = 0.0
            if let defaultAlpha = defaults.alpha {
                alpha = alphaIndex < alphas.count ? Double(alphas[alphaIndex]) : defaultAlpha
                alphaIndex += 1
            }
            if let defaultBeta = defaults.beta {
                beta = betaIndex < betas.count ? Double(betas[betaIndex]) : defaultBeta
                betaIndex += 1
            }
            return RecurrentActivation(function: function, alpha: alpha, beta: beta)
        }
    }

    func apply<C: ComputeFloat>(_ x: C) -> C {
        switch function {
        case .relu: return Swift.max(x, 0)
        case .tanh: return C.tanh(x)
        case .sigmoid: return C.sigmoid(x)
        case .affine: return C(alpha) * x + C(beta)
        case .leakyrelu: return x >= 0 ? x : C(alpha) * x
        case .thresholdedrelu: return x >= C(alpha) ? x : 0
        case .scaledtanh: return C(alpha) * C.tanh(C(beta) * x)
        case .hardsigmoid: return Swift.min(Swift.max(C(alpha) * x + C(beta), 0), 1)
        case .elu: return x >= 0 ? x : C(alpha) * (C.exp(x) - 1)
        case .softsign: return x / (1 + x.magnitude)
        case .softplus: return x > 0 ? x + C.log(1 + C.exp(-x)) : C.log(1 + C.exp(x))
        }
    }
}
