/// The element type of a tensor, numbered exactly as ONNX's `TensorProto.DataType`.
public enum DataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case double = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16
    case float8e4m3fn = 17
    case float8e4m3fnuz = 18
    case float8e5m2 = 19
    case float8e5m2fnuz = 20
    case uint4 = 21
    case int4 = 22
    case float4e2m1 = 23
    case float8e8m0 = 24
    case uint2 = 25
    case int2 = 26

    /// The name ONNX and its error messages use (`tensor(float)` shows as `float`).
    public var description: String {
        switch self {
        case .float: "float"
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .string: "string"
        case .bool: "bool"
        case .float16: "float16"
        case .double: "double"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .complex64: "complex64"
        case .complex128: "complex128"
        case .bfloat16: "bfloat16"
        case .float8e4m3fn: "float8e4m3fn"
        case .float8e4m3fnuz: "float8e4m3fnuz"
        case .float8e5m2: "float8e5m2"
        case .float8e5m2fnuz: "float8e5m2fnuz"
        case .uint4: "uint4"
        case .int4: "int4"
        case .float4e2m1: "float4e2m1"
        case .float8e8m0: "float8e8m0"
        case .uint2: "uint2"
        case .int2: "int2"
        }
    }

    /// The Swift type that stores one element of this data type inside a `Tensor`.
    public var elementType: any TensorElement.Type {
        switch self {
        case .float: Float.self
        case .uint8: UInt8.self
        case .int8: Int8.self
        case .uint16: UInt16.self
        case .int16: Int16.self
        case .int32: Int32.self
        case .int64: Int64.self
        case .string: String.self
        case .bool: Bool.self
        case .float16: Float16.self
        case .double: Double.self
        case .uint32: UInt32.self
        case .uint64: UInt64.self
        case .complex64: Complex64.self
        case .complex128: Complex128.self
        case .bfloat16: BFloat16.self
        case .float8e4m3fn: Float8E4M3FN.self
        case .float8e4m3fnuz: Float8E4M3FNUZ.self
        case .float8e5m2: Float8E5M2.self
        case .float8e5m2fnuz: Float8E5M2FNUZ.self
        case .uint4: UInt4.self
        case .int4: Int4.self
        case .float4e2m1: Float4E2M1.self
        case .float8e8m0: Float8E8M0.self
        case .uint2: UInt2.self
        case .int2: Int2.self
        }
    }

    /// Bytes one element occupies in a `Tensor` (sub-byte types are stored one per byte).
    public var storageSize: Int { elementType.storageSize }

    /// True for every floating-point type, the small float kinds included.
    public var isFloatingPoint: Bool {
        switch self {
        case .float, .double, .float16, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
            .float4e2m1, .float8e8m0:
            true
        default: false
        }
    }

    /// True for signed and unsigned integers of every width.
    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .int64, .uint32, .uint64, .uint4, .int4, .uint2, .int2: true
        default: false
        }
    }
}
