import OnyxCore

// Kernels are generic over the element type; these visitors call them with the concrete Swift type a tensor
// holds, through a switch the optimiser can specialise (an opened existential would not be). The numeric types
// are dispatched by one switch, grouped by lane (see ElementLanes.swift).

/// A computation over any numeric element type (every type but string and complex).
protocol NumericVisitor {
    associatedtype Output
    func visit<T: LaneElement>(_ type: T.Type) throws -> Output
}

/// A computation over any numeric element type that needs the type's lane as a concrete type (to build a column
/// of lane values, to use what a lane type provides): one method per lane.
protocol LaneVisitor {
    associatedtype Output
    func visitReal<T: LaneElement>(_ type: T.Type) throws -> Output where T.Lane == Double
    func visitSigned<T: LaneElement>(_ type: T.Type) throws -> Output where T.Lane == Int64
    func visitUnsigned<T: LaneElement>(_ type: T.Type) throws -> Output where T.Lane == UInt64
    func visitLogical(_ type: Bool.Type) throws -> Output
}

/// A computation over the native floating-point types (Float, Double, Float16).
protocol FloatingVisitor {
    associatedtype Output
    func visit<T: NumericElement & BinaryFloatingPoint>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls the method of `visitor` for this type's lane with its Swift element type; throws for string and
    /// complex types.
    func visitLanes<V: LaneVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visitReal(Float.self)
        case .double: try visitor.visitReal(Double.self)
        case .float16: try visitor.visitReal(Float16.self)
        case .bfloat16: try visitor.visitReal(BFloat16.self)
        case .float8e4m3fn: try visitor.visitReal(Float8E4M3FN.self)
        case .float8e4m3fnuz: try visitor.visitReal(Float8E4M3FNUZ.self)
        case .float8e5m2: try visitor.visitReal(Float8E5M2.self)
        case .float8e5m2fnuz: try visitor.visitReal(Float8E5M2FNUZ.self)
        case .float8e8m0: try visitor.visitReal(Float8E8M0.self)
        case .float4e2m1: try visitor.visitReal(Float4E2M1.self)
        case .int8: try visitor.visitSigned(Int8.self)
        case .int16: try visitor.visitSigned(Int16.self)
        case .int32: try visitor.visitSigned(Int32.self)
        case .int64: try visitor.visitSigned(Int64.self)
        case .int4: try visitor.visitSigned(Int4.self)
        case .int2: try visitor.visitSigned(Int2.self)
        case .uint8: try visitor.visitUnsigned(UInt8.self)
        case .uint16: try visitor.visitUnsigned(UInt16.self)
        case .uint32: try visitor.visitUnsigned(UInt32.self)
        case .uint64: try visitor.visitUnsigned(UInt64.self)
        case .uint4: try visitor.visitUnsigned(UInt4.self)
        case .uint2: try visitor.visitUnsigned(UInt2.self)
        case .bool: try visitor.visitLogical(Bool.self)
        case .string, .complex64, .complex128:
            throw KernelError.invalidInput("element type \(self) is not numeric")
        }
    }

    /// Calls `visitor` with this type's Swift element type; throws for string and complex types.
    func visitNumeric<V: NumericVisitor>(_ visitor: V) throws -> V.Output {
        try visitLanes(EveryLane(visitor: visitor))
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

extension Tensor {
    /// `values` (row-major, `shape`) converted to `dataType` as ONNX Cast converts doubles, for the kernels that
    /// compute in double precision whatever the element type. Throws for string and complex types.
    init(converting values: [Double], to dataType: DataType, shape: [Int]) throws {
        self = try dataType.visitNumeric(DoubleConversion(values: values, shape: shape))
    }
}

/// Hands the types of every lane to one generic `visit`.
private struct EveryLane<Visitor: NumericVisitor>: LaneVisitor {
    let visitor: Visitor

    func visitReal<T: LaneElement>(_ type: T.Type) throws -> Visitor.Output where T.Lane == Double {
        try visitor.visit(type)
    }
    func visitSigned<T: LaneElement>(_ type: T.Type) throws -> Visitor.Output where T.Lane == Int64 {
        try visitor.visit(type)
    }
    func visitUnsigned<T: LaneElement>(_ type: T.Type) throws -> Visitor.Output where T.Lane == UInt64 {
        try visitor.visit(type)
    }
    func visitLogical(_ type: Bool.Type) throws -> Visitor.Output {
        try visitor.visit(type)
    }
}

private struct DoubleConversion: NumericVisitor {
    let values: [Double]
    let shape: [Int]

    func visit<T: LaneElement>(_: T.Type) -> Tensor {
        Tensor(shape: shape, elements: values.map(T.init(converting:)))
    }
}
