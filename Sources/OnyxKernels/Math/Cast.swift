import OnyxCore

/// Registers Cast and CastLike. One registration each: `saturate` (opset 19) and `round_mode` (opset 24) read as
/// their defaults on earlier nodes, and the types added over the versions are all accepted.
func registerCastKernels(into registry: inout KernelRegistry) {
    registry.register("Cast", since: 1) { node in
        let target = try castTarget(node)
        let options = try CastOptions(node)
        return ClosureKernel { inputs, _ in [.tensor(try castTensor(inputs.tensor(0), to: target, options: options))] }
    }
    registry.register("CastLike", since: 15) { node in
        let options = try CastOptions(node)
        return ClosureKernel { inputs, _ in
            [.tensor(try castTensor(inputs.tensor(0), to: inputs.tensor(1).dataType, options: options))]
        }
    }
}

/// The attributes that shape a conversion, besides the target type.
struct CastOptions: Sendable {
    /// Out-of-range values become the largest finite value (float8 targets; float8e8m0 when rounding up).
    var saturate = true
    /// How values round to float8e8m0.
    var rounding = PowerOfTwoRounding.up

    /// The defaults: saturate, round up.
    init() {}

    /// The node's `saturate` and `round_mode` attributes (spec defaults 1 and "up").
    init(_ node: KernelNode) throws {
        saturate = try node.int("saturate", default: 1) != 0
        let mode = try node.string("round_mode", default: "up")
        guard let rounding = PowerOfTwoRounding(rawValue: mode) else {
            throw KernelError.invalidAttribute("round_mode", "expected \"up\", \"down\" or \"nearest\", got \"\(mode)\"")
        }
        self.rounding = rounding
    }
}

/// `tensor` converted to `target` as ONNX Cast does (numpy's astype in the reference):
/// - integers to integers keep the low bits; floats to integers truncate toward zero (2- and 4-bit targets wrap);
/// - anything to bool is "nonzero" (NaN included); bool to numbers is 0 or 1;
/// - float8 targets round to nearest even and honour `saturate`; float8e8m0 follows `rounding`;
/// - strings parse as numbers ("inf", "-INF", "NaN" included) and numbers print as numpy prints them.
func castTensor(_ tensor: Tensor, to target: DataType, options: CastOptions = CastOptions()) throws -> Tensor {
    if tensor.dataType == target { return tensor }
    for type in [tensor.dataType, target] where type == .complex64 || type == .complex128 {
        throw KernelError.unsupported("Cast from \(tensor.dataType) to \(target)")
    }
    if target == .string { return Tensor(shape: tensor.shape, elements: try numpyTexts(tensor)) }
    let column = tensor.dataType == .string
        ? try CastColumn(parsing: tensor.elements(as: String.self))
        : try tensor.dataType.visitCast(ColumnReader(tensor: tensor))
    return try target.visitCast(ColumnWriter(column: column, shape: tensor.shape, options: options))
}

/// The data type a Cast node converts to: `to` is an int (a TensorProto.DataType) from opset 6, a type name such
/// as "FLOAT" in opset 1.
private func castTarget(_ node: KernelNode) throws -> DataType {
    if case .string? = node.attributes["to"] {
        let name = try node.string("to") ?? ""
        guard let type = DataType.allCases.first(where: { $0.description.uppercased() == name.uppercased() }) else {
            throw KernelError.invalidAttribute("to", "unknown type name \"\(name)\"")
        }
        return type
    }
    guard let code = try node.int("to") else { throw KernelError.invalidAttribute("to", "required, not set") }
    guard let type = Int32(exactly: code).flatMap(DataType.init(rawValue:)) else {
        throw KernelError.invalidAttribute("to", "\(code) is not a supported data type")
    }
    return type
}

/// A tensor's values in the widest type of their kind, which holds every source type exactly.
enum CastColumn {
    case real([Double])
    case signed([Int64])
    case unsigned([UInt64])
    case logical([Bool])

    /// Strings as numbers: integers when every string is one (so that int64 values stay exact), else floats.
    init(parsing texts: [String]) throws {
        if let integers = try? texts.map({ try parseInteger($0) }) {
            self = .signed(integers)
        } else {
            self = .real(try texts.map(parseReal))
        }
    }
}

/// An element type Cast converts to and from (every type but strings and complex numbers).
protocol CastElement: TensorElement {
    /// `values` in their widest kind.
    static func castColumn(_ values: [Self]) -> CastColumn
    init(castingReal value: Double, options: CastOptions)
    init(castingSigned value: Int64, options: CastOptions)
    init(castingUnsigned value: UInt64, options: CastOptions)
}

extension CastElement {
    /// 0 or 1.
    init(castingLogical value: Bool, options: CastOptions) {
        self.init(castingSigned: value ? 1 : 0, options: options)
    }
}

/// Standard integers: wrap (keep the low bits) from integers, truncate toward zero from floats.
extension CastElement where Self: FixedWidthInteger & NumericElement {
    static func castColumn(_ values: [Self]) -> CastColumn {
        isSigned
            ? .signed(values.map { Int64(truncatingIfNeeded: $0) }) : .unsigned(values.map { UInt64(truncatingIfNeeded: $0) })
    }
    init(castingReal value: Double, options: CastOptions) { self.init(converting: value) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(truncatingIfNeeded: value) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(truncatingIfNeeded: value) }
}

extension Int8: CastElement {}
extension Int16: CastElement {}
extension Int32: CastElement {}
extension Int64: CastElement {}
extension UInt8: CastElement {}
extension UInt16: CastElement {}
extension UInt32: CastElement {}
extension UInt64: CastElement {}

/// Native floats: each conversion rounds once, directly from the source value.
extension CastElement where Self: BinaryFloatingPoint & NumericElement {
    static func castColumn(_ values: [Self]) -> CastColumn { .real(values.map { Double($0) }) }
    init(castingReal value: Double, options: CastOptions) { self.init(value) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(value) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(value) }
}

extension Float: CastElement {}
extension Double: CastElement {}
extension Float16: CastElement {}

/// Narrow floats: converted through Float, where their encoders start.
protocol NarrowFloatCastElement: CastElement, NumericElement {
    init(castingFloat value: Float, options: CastOptions)
}

extension NarrowFloatCastElement {
    static func castColumn(_ values: [Self]) -> CastColumn { .real(values.map(\.doubleValue)) }
    init(castingReal value: Double, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
    init(castingSigned value: Int64, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(castingFloat: Float(value), options: options) }
}

extension BFloat16: NarrowFloatCastElement {
    init(castingFloat value: Float, options: CastOptions) { self.init(value) }
}

/// The float8 kinds honour `saturate`; float4e2m1, which has neither NaN nor infinity, always saturates.
extension NarrowFloatCastElement where Self: SmallFloatElement {
    init(castingFloat value: Float, options: CastOptions) { self.init(value, saturate: options.saturate) }
}

extension Float8E4M3FN: NarrowFloatCastElement {}
extension Float8E4M3FNUZ: NarrowFloatCastElement {}
extension Float8E5M2: NarrowFloatCastElement {}
extension Float8E5M2FNUZ: NarrowFloatCastElement {}
extension Float4E2M1: NarrowFloatCastElement {}

extension Float8E8M0: NarrowFloatCastElement {
    init(castingFloat value: Float, options: CastOptions) {
        self.init(value, saturate: options.saturate, rounding: options.rounding)
    }
}

/// 2- and 4-bit integers wrap like the wider ones (ml_dtypes' astype, which the reference uses).
extension CastElement where Self: SmallIntegerElement {
    static func castColumn(_ values: [Self]) -> CastColumn {
        isSigned ? .signed(values.map { Int64($0.value) }) : .unsigned(values.map { UInt64($0.value) })
    }
    init(castingReal value: Double, options: CastOptions) {
        // NaN, infinities and magnitudes past Int64 give 0, as ml_dtypes does.
        self.init(castingSigned: Int64(exactly: value.rounded(.towardZero)) ?? 0, options: options)
    }
    init(castingSigned value: Int64, options: CastOptions) { self.init(packedBits: UInt8(truncatingIfNeeded: value)) }
    init(castingUnsigned value: UInt64, options: CastOptions) { self.init(packedBits: UInt8(truncatingIfNeeded: value)) }
}

extension Int4: CastElement {}
extension UInt4: CastElement {}
extension Int2: CastElement {}
extension UInt2: CastElement {}

extension Bool: CastElement {
    static func castColumn(_ values: [Bool]) -> CastColumn { .logical(values) }
    init(castingReal value: Double, options: CastOptions) { self = value != 0 }
    init(castingSigned value: Int64, options: CastOptions) { self = value != 0 }
    init(castingUnsigned value: UInt64, options: CastOptions) { self = value != 0 }
}

/// A computation over the element types Cast handles.
protocol CastVisitor {
    associatedtype Output
    func visit<T: CastElement>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type; throws for strings and complex numbers.
    func visitCast<V: CastVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .float16: try visitor.visit(Float16.self)
        case .bfloat16: try visitor.visit(BFloat16.self)
        case .float8e4m3fn: try visitor.visit(Float8E4M3FN.self)
        case .float8e4m3fnuz: try visitor.visit(Float8E4M3FNUZ.self)
        case .float8e5m2: try visitor.visit(Float8E5M2.self)
        case .float8e5m2fnuz: try visitor.visit(Float8E5M2FNUZ.self)
        case .float8e8m0: try visitor.visit(Float8E8M0.self)
        case .float4e2m1: try visitor.visit(Float4E2M1.self)
        case .int8: try visitor.visit(Int8.self)
        case .int16: try visitor.visit(Int16.self)
        case .int32: try visitor.visit(Int32.self)
        case .int64: try visitor.visit(Int64.self)
        case .uint8: try visitor.visit(UInt8.self)
        case .uint16: try visitor.visit(UInt16.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .uint64: try visitor.visit(UInt64.self)
        case .int4: try visitor.visit(Int4.self)
        case .uint4: try visitor.visit(UInt4.self)
        case .int2: try visitor.visit(Int2.self)
        case .uint2: try visitor.visit(UInt2.self)
        case .bool: try visitor.visit(Bool.self)
        case .string, .complex64, .complex128: throw KernelError.unsupported("Cast of \(self) elements")
        }
    }
}

private struct ColumnReader: CastVisitor {
    let tensor: Tensor
    func visit<T: CastElement>(_: T.Type) throws -> CastColumn { T.castColumn(tensor.elements(as: T.self)) }
}

private struct ColumnWriter: CastVisitor {
    let column: CastColumn
    let shape: [Int]
    let options: CastOptions

    func visit<T: CastElement>(_: T.Type) throws -> Tensor {
        let values: [T]
        switch column {
        case .real(let source): values = source.map { T(castingReal: $0, options: options) }
        case .signed(let source): values = source.map { T(castingSigned: $0, options: options) }
        case .unsigned(let source): values = source.map { T(castingUnsigned: $0, options: options) }
        case .logical(let source): values = source.map { T(castingLogical: $0, options: options) }
        }
        return Tensor(shape: shape, elements: values)
    }
}
