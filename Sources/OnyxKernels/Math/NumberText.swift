import Foundation
import OnyxCore

// Numbers to and from text for Cast, matching numpy (the ONNX reference casts with `astype`).

/// Each element as numpy's `astype(str)` writes it: floats in their shortest round-trip digits, positional when
/// 1e-4 ≤ |x| < 10^k (k = 3 for float16, 6 for float, 16 for double) and scientific otherwise ("1e+06",
/// "1.5e-05"); integers in decimal; bools as "True" and "False". Types numpy lacks print as their Float value.
func numpyTexts(_ tensor: Tensor) throws -> [String] {
    switch tensor.dataType {
    case .float: return tensor.elements(as: Float.self).map { numpyText($0, positionalBelow: 1e6) }
    case .double: return tensor.elements(as: Double.self).map { numpyText($0, positionalBelow: 1e16) }
    case .float16: return tensor.elements(as: Float16.self).map { numpyText($0, positionalBelow: 1e3, digits: shortestLiteral) }
    case .bool: return tensor.elements(as: Bool.self).map { $0 ? "True" : "False" }
    case .int8: return tensor.elements(as: Int8.self).map { String($0) }
    case .int16: return tensor.elements(as: Int16.self).map { String($0) }
    case .int32: return tensor.elements(as: Int32.self).map { String($0) }
    case .int64: return tensor.elements(as: Int64.self).map { String($0) }
    case .uint8: return tensor.elements(as: UInt8.self).map { String($0) }
    case .uint16: return tensor.elements(as: UInt16.self).map { String($0) }
    case .uint32: return tensor.elements(as: UInt32.self).map { String($0) }
    case .uint64: return tensor.elements(as: UInt64.self).map { String($0) }
    case .string: return tensor.elements(as: String.self)
    case .int4, .uint4, .int2, .uint2:
        guard let values = tensor.intValues() else { throw KernelError.unsupported("Cast of \(tensor.dataType) to string") }
        return values.map { String($0) }
    case .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .float4e2m1:
        guard let values = tensor.doubleValues() else { throw KernelError.unsupported("Cast of \(tensor.dataType) to string") }
        return values.map { numpyText(Float($0), positionalBelow: 1e6) }
    case .complex64, .complex128:
        throw KernelError.unsupported("Cast of \(tensor.dataType) to string")
    }
}

/// An integer literal ("42", "-7", "+3", surrounding spaces allowed).
func parseInteger(_ text: String) throws -> Int64 {
    guard let value = Int64(text.trimmingSpaces) else { throw KernelError.invalidInput("\"\(text)\" is not an integer") }
    return value
}

/// A decimal or scientific number, or inf/infinity/nan in any case with an optional sign.
func parseReal(_ text: String) throws -> Double {
    guard let value = Double(text.trimmingSpaces) else { throw KernelError.invalidInput("cannot cast \"\(text)\" to a number") }
    return value
}

/// `value` as numpy prints a float of its type (see ``numpyTexts(_:)``).
/// `literal` gives a decimal literal of a non-negative value with its shortest round-trip digits; Swift's
/// description does for Float and Double.
private func numpyText<F: BinaryFloatingPoint & CustomStringConvertible>(
    _ value: F, positionalBelow limit: Double, digits literal: (F) -> String = { String(describing: $0) }
) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    let sign = value.sign == .minus ? "-" : ""
    let (digits, exponent) = decimalDigits(of: literal(value.magnitude))
    guard !digits.isEmpty else { return sign + "0.0" }
    let magnitude = Double(value.magnitude)
    if magnitude >= 1e-4 && magnitude < limit {
        if exponent <= 0 { return sign + "0." + String(repeating: "0", count: -exponent) + digits }
        if exponent >= digits.count { return sign + digits + String(repeating: "0", count: exponent - digits.count) + ".0" }
        return sign + digits.prefix(exponent) + "." + digits.dropFirst(exponent)
    }
    let mantissa = digits.count == 1 ? digits : digits.prefix(1) + "." + digits.dropFirst()
    let power = exponent - 1
    let powerDigits = String(power.magnitude)
    return sign + mantissa + (power < 0 ? "e-" : "e+") + (powerDigits.count < 2 ? "0" : "") + powerDigits
}

/// The fewest significant digits that read back as `value` (Swift's Float16 description prints all the digits of
/// the exact value instead: 65504 rather than numpy's 6.55e+04).
private func shortestLiteral(_ value: Float16) -> String {
    for precision in 0..<5 {
        let literal = String(format: "%.\(precision)e", Double(value))
        if Float16(Double(literal) ?? .nan) == value { return literal }
    }
    return String(format: "%.4e", Double(value))
}

/// The significant digits of a non-negative decimal literal ("12.5", "0.001", "1.5e-07") without leading or trailing
/// zeros, and the exponent e such that the value is 0.d₁d₂… × 10^e. No digits means zero.
private func decimalDigits(of literal: String) -> (digits: String, exponent: Int) {
    let parts = literal.lowercased().split(separator: "e", maxSplits: 1)
    let mantissa = parts.first.map(String.init) ?? ""
    let scale = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    let pieces = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let whole = pieces.first.map(String.init) ?? ""
    let fraction = pieces.count > 1 ? String(pieces[1]) : ""
    var digits = Substring(whole + fraction)
    var exponent = whole.count + scale
    while digits.first == "0" {
        digits = digits.dropFirst()
        exponent -= 1
    }
    while digits.last == "0" { digits = digits.dropLast() }
    return (String(digits), exponent)
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
