import OnyxCore

/// Registers the kernels of the Bits folder.
func registerBitKernels(into registry: inout KernelRegistry) {
    registry.register("BitCast", since: 26) { node in try BitCastKernel(node) }
}

/// BitCast (opset 26): the input's bits read as another type of the same bit width, element by element, in the
/// same shape. Plain types copy their bytes; bool stores 0 or 1, so any nonzero byte becomes `true`; the 4- and
/// 2-bit types (one per byte in a `Tensor`) carry their low bits across.
struct BitCastKernel: Kernel {
    private let target: DataType

    init(_ node: KernelNode) throws {
        guard let code = try node.int("to") else { throw KernelError.invalidAttribute("to", "is required") }
        guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)), type != .string else {
            throw KernelError.invalidAttribute("to", "\(code) is not a non-string ONNX data type")
        }
        target = type
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard let sourceWidth = bitWidth(input.dataType), let targetWidth = bitWidth(target),
            sourceWidth == targetWidth
        else {
            throw KernelError.invalidInput(
                "BitCast needs types of one bit width: \(input.dataType) cannot become \(target)")
        }
        if sourceWidth < 8 {
            return [.tensor(narrowTensor(target, shape: input.shape, patterns: narrowPatterns(input)))]
        }
        let output = Tensor.uninitialized(target, shape: input.shape) { destination in
            input.withUnsafeRawBytes { source in
                if target == .bool {
                    for index in source.indices { destination[index] = source[index] == 0 ? 0 : 1 }
                } else {
                    destination.copyMemory(from: source)
                }
            }
        }
        return [.tensor(output)]
    }
}

/// Bits per element as ONNX counts them (storage bytes for plain types; 4 or 2 for the sub-byte kinds); nil for
/// strings, which have no fixed bits.
private func bitWidth(_ type: DataType) -> Int? {
    switch type {
    case .string: nil
    case .int4, .uint4, .float4e2m1: 4
    case .int2, .uint2: 2
    default: type.storageSize * 8
    }
}

/// The bit pattern of each element of a 4- or 2-bit tensor, in the low bits of a byte.
private func narrowPatterns(_ tensor: Tensor) -> [UInt8] {
    func patterns<T: SmallIntegerElement>(_: T.Type) -> [UInt8] {
        let mask = UInt8((1 << T.bitWidth) - 1)
        return tensor.elements(as: T.self).map { UInt8(bitPattern: $0.value) & mask }
    }
    switch tensor.dataType {
    case .int4: return patterns(Int4.self)
    case .uint4: return patterns(UInt4.self)
    case .int2: return patterns(Int2.self)
    case .uint2: return patterns(UInt2.self)
    default: return tensor.elements(as: Float4E2M1.self).map(\.bits)
    }
}

/// A 4- or 2-bit tensor whose elements have the given bit patterns (signed kinds sign-extend them).
private func narrowTensor(_ type: DataType, shape: [Int], patterns: [UInt8]) -> Tensor {
    func make<T: SmallIntegerElement>(_: T.Type) -> Tensor {
        let unused = 8 - T.bitWidth
        let values = patterns.map { pattern in
            T.isSigned ? Int8(bitPattern: pattern << unused) >> unused : Int8(bitPattern: pattern)
        }
        return Tensor(shape: shape, elements: values.map(T.init(value:)))
    }
    switch type {
    case .int4: return make(Int4.self)
    case .uint4: return make(UInt4.self)
    case .int2: return make(Int2.self)
    case .uint2: return make(UInt2.self)
    default: return Tensor(shape: shape, elements: patterns.map(Float4E2M1.init(bits:)))
    }
}
