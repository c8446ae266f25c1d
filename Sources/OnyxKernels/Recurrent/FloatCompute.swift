import Foundation
import OnyxCore

// The float kernels of Recurrent/ and Imaging/ compute in one native precision and round once on output:
// `Float` for float, float16 and bfloat16 tensors, `Double` for double tensors.

/// A native floating-point type the float kernels compute in, with the transcendental functions they need.
protocol ComputeFloat: BinaryFloatingPoint, NumericElement {
    static func exp(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func squareRoot(_ x: Self) -> Self
}

extension Float: ComputeFloat {
    static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    static func log(_ x: Float) -> Float { Foundation.log(x) }
    static func squareRoot(_ x: Float) -> Float { x.squareRoot() }
}

extension Double: ComputeFloat {
    static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    static func log(_ x: Double) -> Double { Foundation.log(x) }
    static func squareRoot(_ x: Double) -> Double { x.squareRoot() }
}

extension ComputeFloat {
    /// The logistic function 1 / (1 + e^-x).
    static func sigmoid(_ x: Self) -> Self { 1 / (1 + exp(-x)) }
}

/// Throws unless every type is float, double, float16 or bfloat16.
func requireFloatTypes(_ types: DataType...) throws {
    try checkFloatTypes(types)
}

/// True when tensors of `types` should be computed in `Double` (some is double), false for `Float`.
/// Throws unless every type is float, double, float16 or bfloat16.
func computesInDouble(_ types: DataType...) throws -> Bool {
    try checkFloatTypes(types)
    return types.contains(.double)
}

private func checkFloatTypes(_ types: [DataType]) throws {
    for type in types where ![.float, .double, .float16, .bfloat16].contains(type) {
        throw KernelError.invalidInput("expected a float, double, float16 or bfloat16 tensor, got \(type)")
    }
}

extension Tensor {
    /// The elements converted to the compute type `C` (no copy when the tensor already holds `C`).
    /// Throws for string and complex tensors.
    func computeValues<C: ComputeFloat>(_: C.Type) throws -> [C] {
        switch dataType {
        case C.dataType: return elements(as: C.self)
        case .float: return elements(as: Float.self).map { C($0) }
        case .double: return elements(as: Double.self).map { C($0) }
        case .float16: return elements(as: Float16.self).map { C(Float($0)) }
        case .bfloat16: return elements(as: BFloat16.self).map { C($0.floatValue) }
        default:
            guard let values = doubleValues() else {
                throw KernelError.invalidInput("expected a numeric tensor, got \(dataType)")
            }
            return values.map { C($0) }
        }
    }

    /// A tensor of `dataType` (float, double, float16 or bfloat16) holding `values` rounded from the compute type.
    static func fromCompute<C: ComputeFloat>(_ values: [C], dataType: DataType, shape: [Int]) -> Tensor {
        switch dataType {
        case C.dataType: return Tensor(shape: shape, elements: values)
        case .float: return Tensor(shape: shape, elements: values.map { Float($0) })
        case .double: return Tensor(shape: shape, elements: values.map { Double($0) })
        case .float16: return Tensor(shape: shape, elements: values.map { Float16(Float($0)) })
        case .bfloat16: return Tensor(shape: shape, elements: values.map { BFloat16(Float($0)) })
        default: preconditionFailure("\(dataType) is not a float type")
        }
    }
}

/// Rounds `value` to the precision of `dataType` (float16, bfloat16 or float) and back, as a cast there and
/// back would; other types leave it unchanged.
func roundedThrough<C: ComputeFloat>(_ dataType: DataType, _ value: C) -> C {
    switch dataType {
    case .float16: C(Float(Float16(Float(value))))
    case .bfloat16: C(BFloat16(Float(value)).floatValue)
    case .float: C(Float(value))
    default: value
    }
}

/// The `softmax_precision` attribute of the attention kernels: the float type of the softmax, nil when unset.
func softmaxPrecisionAttribute(_ node: KernelNode) throws -> DataType? {
    guard let precision = try node.int("softmax_precision") else { return nil }
    guard let type = DataType(rawValue: Int32(clamping: precision)),
        [.float, .float16, .double, .bfloat16].contains(type)
    else {
        throw KernelError.invalidAttribute(
            "softmax_precision", "expected 1 (float), 10 (float16), 11 (double) or 16 (bfloat16), got \(precision)")
    }
    return type
}

/// Softmax of one row in place, computed as in numpy in the type `rounding` stands for. A row that is -inf
/// everywhere becomes zeros rather than NaN; NaN anywhere in the row propagates.
func softmax<C: ComputeFloat>(_ row: inout [C], rounding: StepRounding) {
    var maximum = -C.infinity
    for j in row.indices {
        row[j] = rounding(row[j])
        if row[j].isNaN || maximum.isNaN {
            maximum = .nan
        } else {
            maximum = Swift.max(maximum, row[j])
        }
    }
    let shift = maximum == -C.infinity ? 0 : maximum
    var sum: C = 0
    for j in row.indices {
        row[j] = rounding(C.exp(rounding(row[j] - shift)))
        sum = rounding.summation(sum + row[j])
    }
    sum = rounding(sum)
    if sum == 0 { sum = 1 }
    for j in row.indices { row[j] = rounding(row[j] / sum) }
}

/// Rounds to a narrow storage type (float16 or bfloat16) after each step, as numpy arithmetic in that type
/// does; a no-op for float and double.
struct StepRounding {
    private let narrowType: DataType?

    init(_ dataType: DataType) {
        narrowType = dataType == .float16 || dataType == .bfloat16 ? dataType : nil
    }

    func callAsFunction<C: ComputeFloat>(_ value: C) -> C {
        guard let narrowType else { return value }
        return roundedThrough(narrowType, value)
    }

    /// Rounds a running sum: numpy sums float16 in float32 and rounds once, but rounds bfloat16 at every step.
    func summation<C: ComputeFloat>(_ value: C) -> C {
        narrowType == .bfloat16 ? roundedThrough(.bfloat16, value) : value
    }
}
