import OnyxCore

// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear. Every opset version of the first two is served by
// one kernel each: later versions only add attributes (axis, saturate, block_size, output_dtype, precision)
// whose defaults reproduce the earlier behaviour, and widen the accepted types.

/// QuantizeLinear: `y = saturate(round(x / y_scale) + y_zero_point)`, per tensor, per axis or blocked.
struct QuantizeLinearKernel: Kernel {
    private let axis: Int
    private let saturate: Bool
    private let blockSize: Int
    /// nil when `output_dtype` is unset (0): the zero point's type decides, else uint8.
    private let outputType: DataType?
    /// The type the division is done in; nil (`precision` unset) means the scale's type.
    private let precision: DataType?

    init(_ node: KernelNode) throws {
        axis = try node.int("axis", default: 1)
        saturate = try node.int("saturate", default: 1) != 0
        blockSize = try node.int("block_size", default: 0)
        outputType = try optionalDataType(node, "output_dtype", default: 0)
        precision = try optionalDataType(node, "precision", default: 0)
        guard blockSize >= 0 else {
            throw KernelError.invalidAttribute("block_size", "must be ≥ 0, got \(blockSize)")
        }
        if let precision, !precision.isFloatingPoint {
            throw KernelError.invalidAttribute("precision", "must be a floating-point type, got \(precision)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let scale = try inputs.tensor(1)
        let zeroPoint = try inputs.optionalTensor(2)
        let type: DataType
        if let zeroPoint {
            if let outputType, outputType != zeroPoint.dataType {
                throw KernelError.invalidInput(
                    "output_dtype \(outputType) differs from the zero point's type \(zeroPoint.dataType)")
            }
            try requireSameShape(zeroPoint, scale)
            type = zeroPoint.dataType
        } else {
            type = outputType ?? .uint8
        }
        let quantizer = Quantizer(
            x: try QuantizationValues.doubles(x), shape: x.shape, scales: try QuantizationValues.doubles(scale),
            zeroPoint: zeroPoint, precision: precision ?? scale.dataType, saturate: saturate,
            layout: try QuantizationLayout(
                inputShape: x.shape, parameterShape: scale.shape, axis: axis, blockSize: blockSize))
        return [.tensor(try type.visitQuantized(quantizer))]
    }

    private struct Quantizer: QuantizedVisitor {
        let x: [Double]
        let shape: [Int]
        let scales: [Double]
        let zeroPoint: Tensor?
        let precision: DataType
        let saturate: Bool
        let layout: QuantizationLayout

        func visit<Q: QuantizedElement>(_: Q.Type) throws -> Tensor {
            let zeroPoints = zeroPoint?.elements(as: Q.self)
            let values = [Q](unsafeUninitializedCapacity: x.count) { buffer, initialized in
                layout.forEachElement { element, parameter in
                    let scaled = QuantizationValues.rounded(x[element] / scales[parameter], to: precision)
                    buffer[element] = Q.quantize(
                        scaled, zeroPoint: zeroPoints?[parameter] ?? Q.zero, saturate: saturate)
                }
                initialized = x.count
            }
            return Tensor(shape: shape, elements: values)
        }
    }
}

/// DequantizeLinear: `y = (x - x_zero_point) * x_scale`, per tensor, per axis or blocked.
struct DequantizeLinearKernel: Kernel {
    private let axis: Int
    private let blockSize: Int
    /// nil when `output_dtype` is unset (0): the output takes the scale's type.
    private let outputType: DataType?

    init(_ node: KernelNode) throws {
        axis = try node.int("axis", default: 1)
        blockSize = try node.int("block_size", default: 0)
        outputType = try optionalDataType(node, "output_dtype", default: 0)
        guard blockSize >= 0 else {
            throw KernelError.invalidAttribute("block_size", "must be ≥ 0, got \(blockSize)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let scale = try inputs.tensor(1)
        let values = try QuantizationValues.doubles(x)
        let scales = try QuantizationValues.doubles(scale)
        var zeroPoints: [Double]?
        if let zeroPoint = try inputs.optionalTensor(2) {
            guard zeroPoint.dataType == x.dataType else {
                throw KernelError.invalidInput("zero point type \(zeroPoint.dataType) differs from x's \(x.dataType)")
            }
            try requireSameShape(zeroPoint, scale)
            zeroPoints = try QuantizationValues.doubles(zeroPoint)
        }
        let layout = try QuantizationLayout(
            inputShape: x.shape, parameterShape: scale.shape, axis: axis, blockSize: blockSize)
        var output = [Double](repeating: 0, count: values.count)
        layout.forEachElement { element, parameter in
            output[element] = (values[element] - (zeroPoints?[parameter] ?? 0)) * scales[parameter]
        }
        return [
            .tensor(try QuantizationValues.floatingTensor(output, as: outputType ?? scale.dataType, shape: x.shape))
        ]
    }
}

/// DynamicQuantizeLinear: quantizes a float tensor to uint8 with the scale and zero point that map the data
/// range (widened to include 0) onto [0, 255]; returns y, y_scale and y_zero_point.
enum DynamicQuantizeLinear {
    static func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        guard x.dataType == .float else {
            throw KernelError.invalidInput("DynamicQuantizeLinear takes a float tensor, got \(x.dataType)")
        }
        let values = x.elements(as: Float.self)
        // All arithmetic in Float, as the reference does, so scale and zero point match it bit for bit.
        let maximum = max(0, values.max() ?? 0)
        let minimum = min(0, values.min() ?? 0)
        let scale = (maximum == minimum ? 1 : maximum - minimum) / 255
        let zeroPoint = min(max(0 - minimum / scale, 0), 255).rounded(.toNearestOrEven)
        let quantized = [UInt8](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            values.withUnsafeBufferPointer { source in
                for index in source.indices {
                    let value = (source[index] / scale).rounded(.toNearestOrEven) + zeroPoint
                    buffer[index] = value.isNaN ? 0 : UInt8(min(max(value, 0), 255))
                }
            }
            initialized = values.count
        }
        return [
            .tensor(Tensor(shape: x.shape, elements: quantized)),
            .tensor(Tensor(scalar: scale)),
            .tensor(Tensor(scalar: UInt8(zeroPoint))),
        ]
    }
}

/// Which scale (and zero-point) element applies to each input element.
///
/// Per tensor: one for all. Per axis: one per index along `axis`. Blocked: the parameters have the input's
/// shape except along `axis`, where each covers `blockSize` consecutive indices.
struct QuantizationLayout {
    private let outer: Int
    private let extent: Int
    private let inner: Int
    private let blockSize: Int
    private let outerStride: Int
    private let blockStride: Int
    private let innerStride: Int

    init(inputShape: [Int], parameterShape: [Int], axis: Int, blockSize: Int) throws {
        let count = inputShape.reduce(1, *)
        if parameterShape.reduce(1, *) == 1 {
            (outer, extent, inner, self.blockSize) = (1, count, 1, 1)
            (outerStride, blockStride, innerStride) = (0, 0, 0)
            return
        }
        let rank = inputShape.count
        guard axis >= -rank, axis < rank else {
            throw KernelError.invalidAttribute("axis", "\(axis) is out of range for input rank \(rank)")
        }
        let axis = axis < 0 ? axis + rank : axis
        outer = inputShape[..<axis].reduce(1, *)
        extent = inputShape[axis]
        inner = inputShape[(axis + 1)...].reduce(1, *)
        if blockSize == 0 {
            guard parameterShape == [extent] else {
                throw KernelError.invalidInput(
                    "per-axis scale must have shape [\(extent)] for input \(inputShape), axis \(axis); "
                        + "got \(parameterShape)")
            }
            self.blockSize = 1
            (outerStride, blockStride, innerStride) = (0, 1, 0)
        } else {
            let blocks = (extent + blockSize - 1) / blockSize
            var expected = inputShape
            expected[axis] = blocks
            guard parameterShape == expected else {
                throw KernelError.invalidInput(
                    "blocked scale must have shape \(expected) for input \(inputShape), axis \(axis), block size "
                        + "\(blockSize); got \(parameterShape)")
            }
            self.blockSize = blockSize
            (outerStride, blockStride, innerStride) = (blocks * inner, inner, 1)
        }
    }

    /// Calls `body(element, parameter)` for every input element in row-major order, with the index of the
    /// scale element that applies to it.
    func forEachElement(_ body: (Int, Int) -> Void) {
        var element = 0
        for outerIndex in 0..<outer {
            for index in 0..<extent {
                let base = outerIndex * outerStride + index / blockSize * blockStride
                for innerIndex in 0..<inner {
                    body(element, base + innerIndex * innerStride)
                    element += 1
                }
            }
        }
    }
}

/// A data-type attribute where `default` (0) means unset.
private func optionalDataType(_ node: KernelNode, _ name: String, default defaultValue: Int) throws -> DataType? {
    let code = try node.int(name, default: defaultValue)
    guard code != 0 else { return nil }
    guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)) else {
        throw KernelError.invalidAttribute(name, "\(code) is not an ONNX data type")
    }
    return type
}

private func requireSameShape(_ zeroPoint: Tensor, _ scale: Tensor) throws {
    guard zeroPoint.count == scale.count, zeroPoint.shape.filter({ $0 != 1 }) == scale.shape.filter({ $0 != 1 }) else {
        throw KernelError.invalidInput("zero point shape \(zeroPoint.shape) differs from scale shape \(scale.shape)")
    }
}
