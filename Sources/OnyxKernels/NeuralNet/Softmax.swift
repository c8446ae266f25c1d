import OnyxCore

/// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is viewed as a matrix [∏ dims before axis,
/// ∏ dims from axis] and the function applies to its rows; from 13 on it applies along the one axis.
struct SoftmaxKernel: Kernel {
    enum Function: Sendable { case softmax, logSoftmax, hardmax }

    let function: Function
    let axis: Int
    /// Opset < 13: flatten to 2-D at `axis`.
    let coerceTo2D: Bool
    let op: String

    init(_ node: KernelNode, function: Function) throws {
        self.function = function
        coerceTo2D = node.opsetVersion < 13
        axis = try node.int("axis", default: coerceTo2D ? 1 : -1)
        op = node.opType
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        try x.requireNetFloat("\(op) input")
        // A scalar is a one-element row.
        let shape = x.rank == 0 ? [1] : x.shape
        let along = try NeuralNet.axis(axis, rank: shape.count)
        // The function applies to `length` values `inner` apart, for each of the `outer · inner` lanes.
        let length = coerceTo2D ? shape[along...].reduce(1, *) : shape[along]
        let inner = coerceTo2D ? 1 : shape[(along + 1)...].reduce(1, *)
        func compute<T: NetFloat>(_ type: T.Type) throws -> Value {
            let values: [T] = try x.netElements()
            let outer = values.count / max(1, length * inner)
            let function = function
            let output = [T](unsafeUninitializedCapacity: values.count) { buffer, initialized in
                values.withUnsafeBufferPointer { source in
                    let input = NeuralNet.ReadBuffer(source)
                    let output = NeuralNet.WriteBuffer(buffer)
                    NeuralNet.forEachChunk(of: outer, threads: context.threads, workPerItem: 8 * length * inner) {
                        range in
                        for block in range {
                            for lane in 0..<inner {
                                let start = block * length * inner + lane
                                Self.apply(
                                    function, to: input.base + start, into: output.base + start, length: length,
                                    stride: inner)
                            }
                        }
                    }
                }
                initialized = values.count
            }
            return .tensor(Tensor(shape: x.shape, netValues: output, as: x.dataType))
        }
        return [x.dataType == .double ? try compute(Double.self) : try compute(Float.self)]
    }

    /// Applies `function` to the `length` values `stride` apart from `source`, writing likewise to `target`.
    private static func apply<T: NetFloat>(
        _ function: Function, to source: UnsafePointer<T>, into target: UnsafeMutablePointer<T>, length: Int,
        stride: Int
    ) {
        guard length > 0 else { return }
        var maximum = source[0]
        var argmax = 0
        for step in 1..<length where source[step * stride] > maximum {
            maximum = source[step * stride]
            argmax = step
        }
        switch function {
        case .hardmax:
            for step in 0..<length { target[step * stride] = step == argmax ? 1 : 0 }
        case .softmax:
            // Subtracting the maximum keeps exp from overflowing.
            var sum: T = 0
            for step in 0..<length {
                let value = T.netExp(source[step * stride] - maximum)
                target[step * stride] = value
                sum += value
            }
            let scale = 1 / sum
            for step in 0..<length { target[step * stride] *= scale }
        case .logSoftmax:
            var sum: T = 0
            for step in 0..<length { sum += T.netExp(source[step * stride] - maximum) }
            let offset = maximum + T.netLog(sum)
            for step in 0..<length { target[step * stride] = source[step * stride] - offset }
        }
    }
}
