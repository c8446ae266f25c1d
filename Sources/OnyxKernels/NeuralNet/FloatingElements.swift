import Foundation
import OnyxCore

// The NeuralNet kernels compute in Float or Double only: float16 and bfloat16 inputs are widened to Float on
// the way in and rounded back on the way out, so every kernel has one generic body and one fast Float path.

/// Namespace for the helpers shared by the NeuralNet kernels (kept apart from other folders' helpers).
enum NeuralNet {}

/// An element type the NeuralNet kernels compute in: `Float` (also for float16 and bfloat16) or `Double`.
/// `SIMDScalar` lets generic loops use SIMD vectors of it (which are `Codable` only over `Codable` scalars).
protocol NetFloat: BinaryFloatingPoint, SIMDScalar, Codable, GemmElement {
    static func netExp(_ x: Self) -> Self
    static func netLog(_ x: Self) -> Self
    static func netPow(_ x: Self, _ exponent: Self) -> Self
}

extension Float: NetFloat {
    static func netExp(_ x: Float) -> Float { exp(x) }
    static func netLog(_ x: Float) -> Float { log(x) }
    static func netPow(_ x: Float, _ exponent: Float) -> Float { pow(x, exponent) }
}

extension Double: NetFloat {
    static func netExp(_ x: Double) -> Double { exp(x) }
    static func netLog(_ x: Double) -> Double { log(x) }
    static func netPow(_ x: Double, _ exponent: Double) -> Double { pow(x, exponent) }
}

extension NeuralNet {
    /// The floating-point element types the NeuralNet kernels accept.
    static let floatingTypes: Set<DataType> = [.float, .double, .float16, .bfloat16]

    /// `axis` (negative counts from the end) as an index into `0..<rank`, or a thrown error naming `name`.
    static func axis(_ axis: Int, rank: Int, name: String = "axis") throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw KernelError.invalidAttribute(name, "\(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Largest element count a kernel allocates for an output whose shape comes from attributes or values.
    static let maximumOutputElements = 1 << 32

    /// The element count of `shape` (which comes from attributes or input values), validated: no negative
    /// extent, no overflow, no more than ``maximumOutputElements``.
    static func elementCount(_ shape: [Int], role: String) throws -> Int {
        guard let count = checkedElementCount(shape, limit: maximumOutputElements) else {
            if shape.contains(where: { $0 < 0 }) {
                throw KernelError.invalidInput("\(role) shape \(shape) has a negative extent")
            }
            throw KernelError.invalidInput("\(role) shape \(shape) is too large")
        }
        return count
    }
}

extension Tensor {
    /// Throws unless the element type is float, double, float16 or bfloat16. `role` names the input (built only for
    /// the error, since kernels check on every run).
    func requireNetFloat(_ role: @autoclosure () -> String) throws {
        guard NeuralNet.floatingTypes.contains(dataType) else {
            throw KernelError.invalidInput("\(role()) must be float, double, float16 or bfloat16, got \(dataType)")
        }
    }

    /// The elements converted to `T`, without copying when the tensor already holds `T`.
    func netElements<T: NetFloat>(as type: T.Type = T.self) throws -> [T] {
        if dataType == T.dataType { return elements(as: T.self) }
        switch dataType {
        case .float: return elements(as: Float.self).map { T($0) }
        case .double: return elements(as: Double.self).map { T($0) }
        case .float16: return elements(as: Float16.self).map { T(Float($0)) }
        case .bfloat16: return elements(as: BFloat16.self).map { T($0.floatValue) }
        default: throw KernelError.invalidInput("expected a float, double, float16 or bfloat16 tensor, got \(dataType)")
        }
    }

    /// A tensor of `dataType` holding `values` rounded to it. `dataType` must be one of
    /// ``NeuralNet/floatingTypes`` (the kernels validate their inputs' types first).
    init<T: NetFloat>(shape: [Int], netValues values: [T], as dataType: DataType) {
        switch dataType {
        case T.dataType: self.init(shape: shape, elements: values)
        case .float: self.init(shape: shape, elements: values.map { Float($0) })
        case .double: self.init(shape: shape, elements: values.map { Double($0) })
        case .float16: self.init(shape: shape, elements: values.map { Float16(Float($0)) })
        case .bfloat16: self.init(shape: shape, elements: values.map { BFloat16(Float($0)) })
        default: preconditionFailure("\(dataType) is not a floating-point type")
        }
    }
}

extension Tensor {
    /// This tensor with float16 and bfloat16 widened to float; other types unchanged. Kernels whose fast
    /// path is Float-only compute half-precision inputs this way.
    func netWidened() throws -> Tensor {
        guard dataType == .float16 || dataType == .bfloat16 else { return self }
        return Tensor(shape: shape, elements: try netElements(as: Float.self))
    }

    /// This float tensor rounded to `dataType` when that is float16 or bfloat16; otherwise unchanged.
    func netNarrowed(to dataType: DataType) throws -> Tensor {
        guard self.dataType == .float, dataType == .float16 || dataType == .bfloat16 else { return self }
        return Tensor(shape: shape, netValues: elements(as: Float.self), as: dataType)
    }
}
