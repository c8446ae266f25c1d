import OnyxCore

// ConvInteger and QLinearConv: N-D grouped convolution of zero-point-shifted 8-bit tensors, accumulated in
// 32-bit integers (the spec lets the accumulation wrap there). A direct loop: correctness first.

/// ConvInteger: `conv(x - x_zero_point, w - w_zero_point)` as int32. `x_zero_point` is a scalar, `w_zero_point`
/// a scalar or one per output channel.
struct ConvIntegerKernel: Kernel {
    private let attributes: IntegerConvAttributes

    init(_ node: KernelNode) throws {
        attributes = try IntegerConvAttributes(node)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let w = try inputs.tensor(1)
        let geometry = try attributes.geometry(input: x.shape, weight: w.shape)
        let sum = geometry.convolve(
            try centeredInput(x, zeroPoint: try inputs.optionalTensor(2)),
            try centeredWeight(w, zeroPoint: try inputs.optionalTensor(3), outputChannels: geometry.outputChannels))
        return [.tensor(Tensor(shape: geometry.outputShape, elements: sum))]
    }
}

/// QLinearConv: the convolution of the dequantized input and weight, plus the int32 bias `B` (quantized with
/// scale `x_scale * w_scale`), requantized with `y_scale` and `y_zero_point`. `w`'s scale and zero point may be
/// per output channel; the others are scalars.
struct QLinearConvKernel: Kernel {
    private let attributes: IntegerConvAttributes

    init(_ node: KernelNode) throws {
        attributes = try IntegerConvAttributes(node)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let w = try inputs.tensor(3)
        let geometry = try attributes.geometry(input: x.shape, weight: w.shape)
        let channels = geometry.outputChannels
        let sum = geometry.convolve(
            try centeredInput(x, zeroPoint: try inputs.optionalTensor(2)),
            try centeredWeight(w, zeroPoint: try inputs.optionalTensor(5), outputChannels: channels))
        let inputScale = try scalar(try inputs.tensor(1), name: "x_scale")
        let outputScale = try scalar(try inputs.tensor(6), name: "y_scale")
        let weightScales = try perChannel(try inputs.tensor(4), name: "w_scale", channels: channels)
        let bias = try inputs.optionalTensor(8).map { bias in
            guard bias.dataType == .int32, bias.count == channels else {
                throw KernelError.invalidInput("B must be int32 with \(channels) elements, got \(bias)")
            }
            return bias.elements(as: Int32.self)
        }
        // The combined scale is computed in float, as the reference does, before scaling the int32 sums.
        let factors = weightScales.map { weightScale in
            QuantizationValues.rounded(
                QuantizationValues.rounded(inputScale * weightScale, to: .float) / outputScale, to: .float)
        }
        let plane = geometry.outputPlaneSize
        let scaled = sum.enumerated().map { element, value in
            let channel = element / plane % channels
            return Double(value &+ (bias?[channel] ?? 0)) * factors[channel]
        }
        let yZeroPoint = try inputs.optionalTensor(7)
        guard (yZeroPoint?.count ?? 1) == 1 else {
            throw KernelError.invalidInput("y_zero_point must be a scalar, got shape \(yZeroPoint?.shape ?? [])")
        }
        let outputType = yZeroPoint?.dataType ?? x.dataType
        guard outputType == .int8 || outputType == .uint8 else {
            throw KernelError.invalidInput("y_zero_point must be int8 or uint8, got \(outputType)")
        }
        return [
            .tensor(
                try outputType.visitQuantized(
                    Requantizer(scaled: scaled, zeroPoint: yZeroPoint, shape: geometry.outputShape)))
        ]
    }
}

/// The attributes Conv-like operators share, parsed once per node.
struct IntegerConvAttributes {
    enum AutoPad: String {
        case notSet = "NOTSET"
        case sameUpper = "SAME_UPPER"
        case sameLower = "SAME_LOWER"
        case valid = "VALID"
    }

    let autoPad: AutoPad
    let group: Int
    let kernelShape: [Int]?
    let pads: [Int]?
    let strides: [Int]?
    let dilations: [Int]?

    init(_ node: KernelNode) throws {
        let padding = try node.string("auto_pad", default: "NOTSET")
        guard let autoPad = AutoPad(rawValue: padding) else {
            throw KernelError.invalidAttribute("auto_pad", "unknown value '\(padding)'")
        }
        self.autoPad = autoPad
        group = try node.int("group", default: 1)
        kernelShape = try node.ints("kernel_shape")
        pads = try node.ints("pads")
        strides = try node.ints("strides")
        dilations = try node.ints("dilations")
        guard group >= 1 else { throw KernelError.invalidAttribute("group", "must be ≥ 1, got \(group)") }
    }

    /// Validates the input and weight shapes against the attributes and works out the output.
    func geometry(input: [Int], weight: [Int]) throws -> IntegerConvGeometry {
        guard input.count >= 3, weight.count == input.count else {
            throw KernelError.invalidInput("x must have rank ≥ 3 and w the same rank, got \(input) and \(weight)")
        }
        let dimensions = input.count - 2
        let channels = input[1]
        let outputChannels = weight[0]
        guard weight[1] * group == channels, outputChannels % group == 0 else {
            throw KernelError.invalidInput(
                "w \(weight) does not fit x \(input) with group \(group): need w[1] × group = C, M divisible by group"
            )
        }
        let kernel = Array(weight[2...])
        if let kernelShape, kernelShape != kernel {
            throw KernelError.invalidAttribute("kernel_shape", "\(kernelShape) differs from the weight's \(kernel)")
        }
        let strides = try spatial(self.strides, name: "strides", count: dimensions, minimum: 1)
        let dilations = try spatial(self.dilations, name: "dilations", count: dimensions, minimum: 1)
        let spatialInput = Array(input[2...])
        let pads = try spatial(self.pads, name: "pads", count: 2 * dimensions, minimum: 0, default: 0)
        var padsBegin = [Int](repeating: 0, count: dimensions)
        var output = [Int](repeating: 0, count: dimensions)
        for axis in 0..<dimensions {
            let span = (kernel[axis] - 1) * dilations[axis] + 1
            switch autoPad {
            case .notSet:
                padsBegin[axis] = pads[axis]
                output[axis] = (spatialInput[axis] + pads[axis] + pads[axis + dimensions] - span) / strides[axis] + 1
            case .valid:
                output[axis] = (spatialInput[axis] - span) / strides[axis] + 1
            case .sameUpper, .sameLower:
                output[axis] = (spatialInput[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (output[axis] - 1) * strides[axis] + span - spatialInput[axis])
                padsBegin[axis] = autoPad == .sameUpper ? total / 2 : total - total / 2
            }
            output[axis] = max(0, output[axis])
        }
        return IntegerConvGeometry(
            batch: input[0], channels: channels, outputChannels: outputChannels, group: group,
            input: spatialInput, kernel: kernel, output: output, padsBegin: padsBegin, strides: strides,
            dilations: dilations)
    }

    private func spatial(_ values: [Int]?, name: String, count: Int, minimum: Int, default fill: Int = 1) throws
        -> [Int]
    {
        guard let values else { return Array(repeating: fill, count: count) }
        guard values.count == count, values.allSatisfy({ $0 >= minimum }) else {
            throw KernelError.invalidAttribute(name, "expected \(count) values ≥ \(minimum), got \(values)")
        }
        return values
    }
}

/// The sizes of one convolution, with the direct integer loop over them.
struct IntegerConvGeometry {
    let batch: Int
    let channels: Int
    let outputChannels: Int
    let group: Int
    let input: [Int]
    let kernel: [Int]
    let output: [Int]
    let padsBegin: [Int]
    let strides: [Int]
    let dilations: [Int]

    var outputShape: [Int] { [batch, outputChannels] + output }
    var outputPlaneSize: Int { output.reduce(1, *) }

    /// `x` (N × C × spatial) convolved with `w` (M × C/group × kernel), wrapping in 32 bits.
    func convolve(_ x: [Int32], _ w: [Int32]) -> [Int32] {
        let inputPlane = input.reduce(1, *)
        let kernelSize = kernel.reduce(1, *)
        let outputPlane = outputPlaneSize
        let groupChannels = channels / group
        let groupOutputs = outputChannels / group
        let inputStrides = RowMajor.strides(input)
        // Kernel taps as per-axis displacements, so each (output position, tap) pair locates its input once.
        let taps = (0..<kernelSize).map { tap in
            zip(RowMajor.coordinates(of: tap, in: kernel), dilations).map { $0 * $1 }
        }
        var result = [Int32](repeating: 0, count: batch * outputChannels * outputPlane)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                for position in 0..<outputPlane {
                    let origin = zip(zip(RowMajor.coordinates(of: position, in: output), strides), padsBegin)
                        .map { $0.0 * $0.1 - $1 }
                    for (tap, displacement) in taps.enumerated() {
                        var offset = 0
                        var inside = true
                        for axis in origin.indices {
                            let coordinate = origin[axis] + displacement[axis]
                            guard coordinate >= 0, coordinate < input[axis] else {
                                inside = false
                                break
                            }
                            offset += coordinate * inputStrides[axis]
                        }
                        guard inside else { continue }
                        for image in 0..<batch {
                            for outputChannel in 0..<outputChannels {
                                let firstChannel = outputChannel / groupOutputs * groupChannels
                                var sum: Int32 = 0
                                for channel in 0..<groupChannels {
                                    let value = x[(image * channels + firstChannel + channel) * inputPlane + offset]
                                    let weight = w[(outputChannel * groupChannels + channel) * kernelSize + tap]
                                    sum &+= value &* weight
                                }
                                result[(image * outputChannels + outputChannel) * outputPlane + position] &+= sum
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

private let eightBitTypes: Set<DataType> = [.int8, .uint8]

/// The input minus its scalar zero point, as 32-bit integers.
private func centeredInput(_ x: Tensor, zeroPoint: Tensor?) throws -> [Int32] {
    guard eightBitTypes.contains(x.dataType) else {
        throw KernelError.invalidInput("x must be int8 or uint8, got \(x.dataType)")
    }
    let shift = try zeroPoint.map { try scalar($0, name: "x_zero_point", type: x.dataType) } ?? 0
    return try QuantizationValues.doubles(x).map { Int32($0 - shift) }
}

/// The weight minus its zero point (a scalar or one per output channel), as 32-bit integers.
private func centeredWeight(_ w: Tensor, zeroPoint: Tensor?, outputChannels: Int) throws -> [Int32] {
    guard eightBitTypes.contains(w.dataType) else {
        throw KernelError.invalidInput("w must be int8 or uint8, got \(w.dataType)")
    }
    let values = try QuantizationValues.doubles(w)
    guard let zeroPoint else { return values.map { Int32($0) } }
    guard zeroPoint.dataType == w.dataType else {
        throw KernelError.invalidInput("w_zero_point type \(zeroPoint.dataType) differs from w's \(w.dataType)")
    }
    let shifts = try perChannel(zeroPoint, name: "w_zero_point", channels: outputChannels)
    let perChannel = outputChannels == 0 ? 0 : values.count / outputChannels
    return values.enumerated().map { element, value in Int32(value - shifts[element / perChannel]) }
}

/// A one-element tensor's value (of `type`, when given).
private func scalar(_ tensor: Tensor, name: String, type: DataType? = nil) throws -> Double {
    guard tensor.count == 1, type == nil || tensor.dataType == type else {
        throw KernelError.invalidInput("\(name) must be a scalar\(type.map { " of type \($0)" } ?? ""), got \(tensor)")
    }
    return try QuantizationValues.doubles(tensor)[0]
}

/// A scalar or per-output-channel parameter, expanded to one value per channel.
private func perChannel(_ tensor: Tensor, name: String, channels: Int) throws -> [Double] {
    let values = try QuantizationValues.doubles(tensor)
    if values.count == 1 { return Array(repeating: values[0], count: channels) }
    guard tensor.rank == 1, values.count == channels else {
        throw KernelError.invalidInput(
            "\(name) must be a scalar or have \(channels) elements, got shape \(tensor.shape)")
    }
    return values
}
