import OnyxCore

// Kernels are generic over the element type; these visitors call them with the concrete Swift type a tensor
// holds, through a switch the optimiser can specialise (an opened existential would not be).

/// A computation over any numeric element type (every type but string and complex).
protocol NumericVisitor {
    associatedtype Output
    func visit<T: NumericElement>(_ type: T.Type) throws -> Output
}

/// A computation over the native floating-point types (Float, Double, Float16).
protocol FloatingVisitor {
    associatedtype Output
    func visit<T: NumericElement & BinaryFloatingPoint>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type; throws for string and complex types.
    func visitNumeric<V: NumericVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .float16: try visitor.visit(Float16.self)
        case .int8: try visitor.visit(Int8.self)
        case .int16: try visitor.visit(Int16.self)
        case .int32: try visitor.visit(Int32.self)
        case .int64: try visitor.visit(Int64.self)
        case .uint8: try visitor.visit(UInt8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .uint64: try visitor.visit(UInt64.self)
        case .bool: try visitor.visit(Bool.self)
        case .bfloat16: try visitor.visit(BFloat16.self)
        case .float8e4m3fn: try visitor.visit(Float8E4M3FN.self)
        case .float8e4m3fnuz: try visitor.visit(Float8E4M3FNUZ.self)
        case .float8e5m2: try visitor.visit(Float8E5M2.self)
        case .float8e5m2fnuz: try visitor.visit(Float8E5M2FNUZ.self)
        case .float8e8m0: try visitor.visit(Float8E8M0.self)
        case .float4e2m1: try visitor.visit(Float4E2M1.self)
        case .int4: try visitor.visit(Int4.self)
        case .uint4: try visitor.visit(UInt4.self)
        case .int2: try visitor.visit(Int2.self)
        case .uint2: try visitor.visit(UInt2.self)
        case .string, .complex64, .complex128:
            throw KernelError.invalidInput("element type \(self) is not numeric")
        }
    }

    /// Calls `visitor` with Float, Double or Float16; throws for every other type.
    func visitFloating<V: FloatingVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .float16: try visitor.visit(Float16.self)
        default: throw KernelError.invalidInput("element type \(self) is not float, double or float16")
        }
    }
}
