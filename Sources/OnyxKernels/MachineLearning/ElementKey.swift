import OnyxCore

/// A tensor element as a dictionary key, for the kernels that look elements up (LabelEncoder's table,
/// TfIdfVectorizer's n-gram pool). Integers of every width compare as integers; floats compare by value, with
/// every NaN one key and −0 equal to +0.
enum ElementKey: Hashable, Sendable {
    case text(String)
    case integer(Int64)
    /// A float's bit pattern after folding every NaN into one and −0 into +0.
    case real(UInt64)

    /// The key of each element of a string, int16/int32/int64, float or double tensor.
    static func keys(of tensor: Tensor) throws -> [ElementKey] {
        switch tensor.dataType {
        case .string: return tensor.elements(as: String.self).map(ElementKey.text)
        case .int64: return tensor.elements(as: Int64.self).map(ElementKey.integer)
        case .int32, .int16: return (tensor.intValues() ?? []).map { .integer(Int64($0)) }
        case .float, .double:
            return (tensor.doubleValues() ?? []).map { .real($0.isNaN ? Double.nan.bitPattern : ($0 + 0).bitPattern) }
        default: throw KernelError.invalidInput("cannot look up \(tensor.dataType) elements")
        }
    }
}
