import OnyxCore

/// A TensorProto's elements, in whichever field the file stored them.
enum TensorPayload {
    /// `raw_data`: little-endian, sub-byte types packed low bits first.
    case raw([UInt8])
    case int32([Int32])
    case int64([Int64])
    case uint64([UInt64])
    case float([Float])
    case double([Double])
    case strings([[UInt8]])
}

extension Tensor {
    /// Builds the tensor a TensorProto describes, checking that the data fills the shape exactly.
    static func decoded(name: String, dataType: DataType, dims: [Int], payload: TensorPayload) throws -> Tensor {
        guard let count = checkedElementCount(dims) else { throw FormatError.invalidShape(tensor: name, dims: dims) }
        func mismatch(_ got: Int) -> FormatError {
            .dataSizeMismatch(tensor: name, expected: count * dataType.storageSize, got: got)
        }
        /// `float_data` or `double_data`: one value per real element, or (real, imaginary) pairs for complex ones.
        func realOrComplex<Real: TensorElement, Complex: TensorElement>(
            _ values: [Real], complex: (Real, Real) -> Complex
        ) throws -> Tensor {
            if dataType == Real.dataType, values.count == count { return Tensor(shape: dims, elements: values) }
            if dataType == Complex.dataType, values.count == 2 * count {
                return Tensor(shape: dims, elements: (0..<count).map { complex(values[2 * $0], values[2 * $0 + 1]) })
            }
            throw mismatch(values.count * MemoryLayout<Real>.size)
        }
        switch payload {
        case .raw(let bytes):
            return try fromRaw(bytes, name: name, dataType: dataType, dims: dims, count: count)
        case .strings(let strings):
            guard dataType == .string else { throw mismatch(strings.count) }
            guard strings.count == count else { throw mismatch(strings.count) }
            return Tensor(shape: dims, elements: strings.map { String(decoding: $0, as: UTF8.self) })
        case .float(let values):
            return try realOrComplex(values, complex: Complex64.init(real:imaginary:))
        case .double(let values):
            return try realOrComplex(values, complex: Complex128.init(real:imaginary:))
        case .int64(let values):
            guard dataType == .int64, values.count == count else { throw mismatch(values.count * 8) }
            return Tensor(shape: dims, elements: values)
        case .uint64(let values):
            guard values.count == count else { throw mismatch(values.count * 8) }
            switch dataType {
            case .uint64: return Tensor(shape: dims, elements: values)
            case .uint32: return Tensor(shape: dims, elements: values.map { UInt32(truncatingIfNeeded: $0) })
            default: throw mismatch(values.count * 8)
            }
        case .int32(let values):
            return try fromInt32Field(values, name: name, dataType: dataType, dims: dims, count: count)
        }
    }

    private static func fromRaw(_ bytes: [UInt8], name: String, dataType: DataType, dims: [Int], count: Int) throws -> Tensor {
        if let bits = packedBitWidth(dataType) {
            let perByte = 8 / bits
            let needed = (count + perByte - 1) / perByte
            guard bytes.count == needed else { throw FormatError.dataSizeMismatch(tensor: name, expected: needed, got: bytes.count) }
            return unpack(bytes, dataType: dataType, dims: dims, count: count)
        }
        switch dataType {
        case .string:
            throw FormatError.unsupportedEncoding("tensor '\(name)': string tensors cannot use raw_data")
        case .bool:
            // Any non-zero byte is true; copying bytes into Bool storage would create invalid Bools.
            guard bytes.count == count else { throw FormatError.dataSizeMismatch(tensor: name, expected: count, got: bytes.count) }
            return Tensor(shape: dims, elements: bytes.map { $0 != 0 })
        default:
            guard let tensor = Tensor(dataType: dataType, shape: dims, littleEndianBytes: bytes) else {
                throw FormatError.dataSizeMismatch(tensor: name, expected: count * dataType.storageSize, got: bytes.count)
            }
            return tensor
        }
    }

    private static func fromInt32Field(_ values: [Int32], name: String, dataType: DataType, dims: [Int], count: Int) throws -> Tensor {
        if let bits = packedBitWidth(dataType) {
            // Each int32 holds one packed byte of 8/bits elements.
            let perEntry = 8 / bits
            guard values.count == (count + perEntry - 1) / perEntry else {
                throw FormatError.dataSizeMismatch(tensor: name, expected: (count + perEntry - 1) / perEntry, got: values.count)
            }
            return unpack(values.map { UInt8(truncatingIfNeeded: $0) }, dataType: dataType, dims: dims, count: count)
        }
        guard values.count == count else {
            throw FormatError.dataSizeMismatch(tensor: name, expected: count, got: values.count)
        }
        let bits16 = { values.map { UInt16(truncatingIfNeeded: $0) } }
        let bits8 = { values.map { UInt8(truncatingIfNeeded: $0) } }
        switch dataType {
        case .int32: return Tensor(shape: dims, elements: values)
        case .int16: return Tensor(shape: dims, elements: values.map { Int16(truncatingIfNeeded: $0) })
        case .int8: return Tensor(shape: dims, elements: values.map { Int8(truncatingIfNeeded: $0) })
        case .uint16: return Tensor(shape: dims, elements: bits16())
        case .uint8: return Tensor(shape: dims, elements: bits8())
        case .bool: return Tensor(shape: dims, elements: values.map { $0 != 0 })
        case .float16: return Tensor(shape: dims, elements: bits16().map { Float16(bitPattern: $0) })
        case .bfloat16: return Tensor(shape: dims, elements: bits16().map { BFloat16(bits: $0) })
        case .float8e4m3fn: return Tensor(shape: dims, elements: bits8().map { Float8E4M3FN(bits: $0) })
        case .float8e4m3fnuz: return Tensor(shape: dims, elements: bits8().map { Float8E4M3FNUZ(bits: $0) })
        case .float8e5m2: return Tensor(shape: dims, elements: bits8().map { Float8E5M2(bits: $0) })
        case .float8e5m2fnuz: return Tensor(shape: dims, elements: bits8().map { Float8E5M2FNUZ(bits: $0) })
        case .float8e8m0: return Tensor(shape: dims, elements: bits8().map { Float8E8M0(bits: $0) })
        default:
            throw FormatError.unsupportedEncoding("tensor '\(name)': \(dataType) cannot be stored in int32_data")
        }
    }

    /// Bits per element for the types packed several to a byte; nil for the others.
    static func packedBitWidth(_ dataType: DataType) -> Int? {
        switch dataType {
        case .int4, .uint4, .float4e2m1: 4
        case .int2, .uint2: 2
        default: nil
        }
    }

    private static func unpack(_ bytes: [UInt8], dataType: DataType, dims: [Int], count: Int) -> Tensor {
        let bits = packedBitWidth(dataType)!
        let perByte = 8 / bits
        let fields = (0..<count).map { index in bytes[index / perByte] >> UInt8((index % perByte) * bits) }
        switch dataType {
        case .int4: return Tensor(shape: dims, elements: fields.map { Int4(packedBits: $0) })
        case .uint4: return Tensor(shape: dims, elements: fields.map { UInt4(packedBits: $0) })
        case .int2: return Tensor(shape: dims, elements: fields.map { Int2(packedBits: $0) })
        case .uint2: return Tensor(shape: dims, elements: fields.map { UInt2(packedBits: $0) })
        default: return Tensor(shape: dims, elements: fields.map { Float4E2M1(bits: $0 & 0xF) })
        }
    }

    /// The tensor's elements as TensorProto `raw_data` (sub-byte types packed); nil for strings.
    func rawDataForProto() -> [UInt8]? {
        guard let bits = Tensor.packedBitWidth(dataType) else { return littleEndianBytes() }
        let fields: [UInt8]
        switch dataType {
        case .int4: fields = elements(as: Int4.self).map(\.packedBits)
        case .uint4: fields = elements(as: UInt4.self).map(\.packedBits)
        case .int2: fields = elements(as: Int2.self).map(\.packedBits)
        case .uint2: fields = elements(as: UInt2.self).map(\.packedBits)
        default: fields = elements(as: Float4E2M1.self).map { $0.bits & 0xF }
        }
        let perByte = 8 / bits
        var packed = [UInt8](repeating: 0, count: (fields.count + perByte - 1) / perByte)
        for (index, field) in fields.enumerated() {
            packed[index / perByte] |= field << UInt8((index % perByte) * bits)
        }
        return packed
    }
}
