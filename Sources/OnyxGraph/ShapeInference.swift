import OnyxCore
import OnyxFormat

/// Static type and shape inference: fills `Graph.valueTypes` for node outputs wherever the inputs' types,
/// attributes and constant inputs determine them. Ops it has no rule for leave their outputs unknown; the
/// kernels compute exact shapes at run time either way.
public enum ShapeInference {
    /// `graph` with every inferable node output's type recorded (declared types are kept, never overwritten).
    public static func infer(_ graph: Graph) -> Graph {
        var result = graph
        for (name, tensor) in graph.initializers where result.valueTypes[name] == nil {
            result.valueTypes[name] = .tensor(tensor.dataType, shape: tensor.shape.map { .value($0) })
        }
        for node in graph.nodes {
            let inputs = node.inputs.map { $0.isEmpty ? nil : result.valueTypes[$0] }
            let constants = node.inputs.map { $0.isEmpty ? nil : graph.initializers[$0] }
            let outputs = outputTypes(of: node, inputs: inputs, constants: constants)
            for (name, type) in zip(node.outputs, outputs) where !name.isEmpty && result.valueTypes[name] == nil {
                if let type { result.valueTypes[name] = type }
            }
        }
        return result
    }

    private static let sameAsFirstInput: Set<String> = [
        "Abs", "Neg", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
        "Tanh", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Sin", "Cos", "Tan", "Floor", "Ceil", "Round", "Sign",
        "Softplus", "Softsign", "Gelu", "Mish", "Swish", "Identity", "Dropout", "Softmax", "LogSoftmax", "Hardmax",
        "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
        "RMSNormalization", "LpNormalization", "MeanVarianceNormalization", "LRN", "Clip", "Shrink",
        "ThresholdedRelu", "CumSum", "Not", "BitwiseNot",
    ]
    private static let broadcastingSameType: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "BitShift", "BitwiseAnd", "BitwiseOr",
        "BitwiseXor",
    ]
    private static let broadcastingBool: Set<String> = [
        "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor",
    ]

    /// The inferred type of each output (nil where unknown).
    static func outputTypes(of node: Node, inputs: [ValueType?], constants: [Tensor?]) -> [ValueType?] {
        let first = inputs.first.flatMap { $0 }.flatMap(tensorType)
        let op = node.opType
        if FusedGroupNormalization.matches(node), let first { return [.tensor(first.type, shape: first.shape)] }
        guard node.domain.isEmpty else { return [] }
        if sameAsFirstInput.contains(op), let first { return [.tensor(first.type, shape: first.shape)] }
        let all = inputs.map { $0.flatMap(tensorType) }
        if broadcastingSameType.contains(op) || broadcastingBool.contains(op) || op == "Where" {
            // Where's element type is that of its second input; the others take their first input's.
            guard let element = (op == "Where" ? all.dropFirst().first : all.first).flatMap({ $0?.type }) else { return [] }
            let shape = broadcast(all.map { $0?.shape })
            return [.tensor(broadcastingBool.contains(op) ? .bool : element, shape: shape)]
        }
        switch op {
        case "Cast":
            guard case .int(let code)? = node.attributes["to"], let type = DataType(rawValue: Int32(code)) else { return [] }
            return [.tensor(type, shape: first?.shape)]
        case "CastLike":
            guard let target = all.count > 1 ? all[1]?.type : nil else { return [] }
            return [.tensor(target, shape: first?.shape)]
        case "Shape":
            return [.tensor(.int64, shape: first?.shape.map { [.value(shapeLength(rank: $0.count, node: node))] })]
        case "Size":
            return [.tensor(.int64, shape: [])]
        case "Flatten":
            guard let first, let shape = first.shape else { return first.map { [.tensor($0.type, shape: nil)] } ?? [] }
            var axis = intAttribute(node, "axis") ?? 1
            if axis < 0 { axis += shape.count }
            return [.tensor(first.type, shape: [product(shape.prefix(max(0, axis))), product(shape.dropFirst(max(0, axis)))])]
        case "Transpose":
            guard let first, let shape = first.shape else { return [] }
            let perm = intsAttribute(node, "perm") ?? Array((0..<shape.count).reversed())
            guard perm.count == shape.count, perm.allSatisfy({ (0..<shape.count).contains($0) }) else { return [] }
            return [.tensor(first.type, shape: perm.map { shape[$0] })]
        case "Reshape":
            guard let first, let target = constants.count > 1 ? constants[1]?.intValues() : nil else { return [] }
            let allowZero = intAttribute(node, "allowzero") == 1
            let dims: [Dimension] = target.enumerated().map { index, value in
                if value == 0 && !allowZero { return first.shape.flatMap { index < $0.count ? $0[index] : nil } ?? .unknown }
                return value < 0 ? .unknown : .value(value)
            }
            return [.tensor(first.type, shape: dims)]
        case "MatMul":
            guard let a = all.first ?? nil, let b = all.count > 1 ? all[1] : nil else { return [] }
            return [.tensor(a.type, shape: matMulShape(a.shape, b.shape))]
        case "Gemm":
            guard let a = all.first ?? nil, let b = all.count > 1 ? all[1] : nil, let sa = a.shape, let sb = b.shape,
                sa.count == 2, sb.count == 2
            else { return [] }
            let m = intAttribute(node, "transA") == 1 ? sa[1] : sa[0]
            let n = intAttribute(node, "transB") == 1 ? sb[0] : sb[1]
            return [.tensor(a.type, shape: [m, n])]
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
            guard let first, let shape = first.shape, shape.count >= 2 else { return [] }
            return [.tensor(first.type, shape: Array(shape.prefix(2)) + Array(repeating: .value(1), count: shape.count - 2))]
        case "Conv", "MaxPool", "AveragePool":
            return [convolutionShape(node, all)]
        case "Concat":
            guard let first, let rank = first.shape?.count else { return [] }
            let shapes = all.map { $0?.shape }
            var axis = intAttribute(node, "axis") ?? 0
            if axis < 0 { axis += rank }
            guard (0..<rank).contains(axis), shapes.allSatisfy({ $0?.count == rank }) else { return [.tensor(first.type, shape: nil)] }
            var shape = first.shape!
            let extents = shapes.map { $0![axis] }
            shape[axis] = extents.allSatisfy { if case .value = $0 { true } else { false } }
                ? .value(extents.reduce(0) { if case .value(let v) = $1 { $0 + v } else { $0 } }) : .unknown
            return [.tensor(first.type, shape: shape)]
        case "Constant":
            guard case .tensor(let tensor)? = node.attributes["value"] else { return [] }
            return [.tensor(tensor.dataType, shape: tensor.shape.map { .value($0) })]
        default:
            return []
        }
    }

    private static func tensorType(_ type: ValueType) -> (type: DataType, shape: [Dimension]?)? {
        if case .tensor(let element, let shape) = type { return (element, shape) }
        return nil
    }

    private static func intAttribute(_ node: Node, _ name: String) -> Int? {
        if case .int(let value)? = node.attributes[name] { return value }
        return nil
    }

    private static func intsAttribute(_ node: Node, _ name: String) -> [Int]? {
        if case .ints(let values)? = node.attributes[name] { return values }
        return nil
    }

    private static func product<C: Collection<Dimension>>(_ dims: C) -> Dimension {
        var total = 1
        for dim in dims {
            guard case .value(let extent) = dim else { return .unknown }
            total *= extent
        }
        return .value(total)
    }

    private static func shapeLength(rank: Int, node: Node) -> Int {
        func clamp(_ value: Int) -> Int { min(max(value < 0 ? value + rank : value, 0), rank) }
        let start = clamp(intAttribute(node, "start") ?? 0)
        let end = clamp(intAttribute(node, "end") ?? rank)
        return max(0, end - start)
    }

    /// Numpy-style broadcast of the known shapes; nil if any rank is unknown.
    static func broadcast(_ shapes: [[Dimension]?]) -> [Dimension]? {
        let present = shapes.compactMap { $0 }
        guard present.count == shapes.count, let rank = present.map(\.count).max() else { return nil }
        return (0..<rank).map { position in
            var result: Dimension = .value(1)
            for shape in present {
                let index = position - (rank - shape.count)
                guard index >= 0 else { continue }
                switch (result, shape[index]) {
                case (.value(1), let other): result = other
                case (_, .value(1)): break
                case (.value(let a), .value(let b)) where a == b: break
                case (.symbol(let a), .symbol(let b)) where a == b: break
                default: result = .unknown
                }
            }
            return result
        }
    }

    private static func matMulShape(_ a: [Dimension]?, _ b: [Dimension]?) -> [Dimension]? {
        guard let a, let b, !a.isEmpty, !b.isEmpty else { return nil }
        let left = a.count == 1 ? [Dimension.value(1)] + a : a
        let right = b.count == 1 ? b + [Dimension.value(1)] : b
        guard let batch = broadcast([Array(left.dropLast(2)), Array(right.dropLast(2))]) else { return nil }
        var shape = batch + [left[left.count - 2], right[right.count - 1]]
        if a.count == 1 { shape.remove(at: shape.count - 2) }
        if b.count == 1 { shape.removeLast() }
        return shape
    }

    /// Output shape of Conv or a pooling op with explicit (or no) padding; unknown under auto_pad.
    private static func convolutionShape(_ node: Node, _ inputs: [(type: DataType, shape: [Dimension]?)?]) -> ValueType? {
        guard let x = inputs.first ?? nil else { return nil }
        guard let shape = x.shape, shape.count >= 3 else { return .tensor(x.type, shape: nil) }
        let spatial = shape.count - 2
        let autoPad: String? = if case .string(let bytes)? = node.attributes["auto_pad"] { String(decoding: bytes, as: UTF8.self) } else { nil }
        guard autoPad == nil || autoPad == "NOTSET", intAttribute(node, "ceil_mode") ?? 0 == 0 else { return .tensor(x.type, shape: nil) }
        let kernel: [Int]
        var channels: Dimension = shape[1]
        if node.opType == "Conv" {
            guard inputs.count > 1, let w = inputs[1]?.shape, w.count == shape.count else { return .tensor(x.type, shape: nil) }
            channels = w[0]
            kernel = intsAttribute(node, "kernel_shape") ?? w.dropFirst(2).map { if case .value(let v) = $0 { v } else { -1 } }
        } else {
            kernel = intsAttribute(node, "kernel_shape") ?? []
        }
        guard kernel.count == spatial, kernel.allSatisfy({ $0 > 0 }) else { return .tensor(x.type, shape: nil) }
        let pads = intsAttribute(node, "pads") ?? Array(repeating: 0, count: 2 * spatial)
        let strides = intsAttribute(node, "strides") ?? Array(repeating: 1, count: spatial)
        let dilations = intsAttribute(node, "dilations") ?? Array(repeating: 1, count: spatial)
        guard pads.count == 2 * spatial, strides.count == spatial, dilations.count == spatial else { return .tensor(x.type, shape: nil) }
        let dims: [Dimension] = (0..<spatial).map { axis in
            guard case .value(let extent) = shape[axis + 2], strides[axis] > 0 else { return .unknown }
            let span = dilations[axis] * (kernel[axis] - 1) + 1
            return .value((extent + pads[axis] + pads[axis + spatial] - span) / strides[axis] + 1)
        }
        return .tensor(x.type, shape: [shape[0], channels] + dims)
    }
}
