import Foundation
import OnyxCore

/// Reads and writes numpy `.npy` files (format versions 1.0, 2.0 and 3.0), little-endian, C order.
public enum Npy {
    /// Parses a `.npy` file's bytes; `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> Tensor {
        func fail(_ reason: String) -> FormatError { .invalidNumpy(path: source, reason: reason) }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("missing the \\x93NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("unsupported format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("truncated header") }
        let header = String(decoding: bytes[headerStart..<headerStart + headerLength], as: UTF8.self)
        guard let descr = field("descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
            let fortran = field("fortran_order", in: header),
            let shapeText = field("shape", in: header)
        else { throw fail("header lacks descr, fortran_order or shape: \(header)") }
        guard fortran.trimmingCharacters(in: .whitespaces) == "False" else { throw fail("Fortran order is not supported") }
        let shapeParts = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try shapeParts.map { part -> Int in
            guard let value = Int(part) else { throw fail("bad shape \(shapeText)") }
            return value
        }
        guard let count = checkedElementCount(shape) else { throw fail("bad shape \(shape)") }
        let body = Array(bytes[(headerStart + headerLength)...])
        if descr.hasPrefix("<U") || descr.hasPrefix("|U") {
            return try decodeUnicode(body, width: Int(descr.dropFirst(2)) ?? -1, shape: shape, count: count, fail: fail)
        }
        guard let type = dataType(descr) else { throw fail("dtype '\(descr)' has no ONNX element type") }
        guard body.count >= count * type.storageSize else {
            throw fail("data holds \(body.count) bytes, shape \(shape) of \(descr) needs \(count * type.storageSize)")
        }
        let data = Array(body[0..<count * type.storageSize])
        if type == .bool { return Tensor(shape: shape, elements: data.map { $0 != 0 }) }
        return Tensor(dataType: type, shape: shape, littleEndianBytes: data)!
    }

    /// Encodes a tensor as a version 1.0 `.npy` file (3.0 when the header needs UTF-8).
    public static func encode(_ tensor: Tensor) throws -> [UInt8] {
        let descr: String
        var body: [UInt8]
        if tensor.dataType == .string {
            let strings = tensor.elements(as: String.self)
            let width = max(1, strings.map { $0.unicodeScalars.count }.max() ?? 1)
            descr = "<U\(width)"
            body = []
            body.reserveCapacity(strings.count * width * 4)
            for string in strings {
                let scalars = Array(string.unicodeScalars)
                for index in 0..<width {
                    let value = index < scalars.count ? scalars[index].value : 0
                    body += [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
                }
            }
        } else {
            guard let name = descriptor(tensor.dataType), let bytes = tensor.littleEndianBytes() else {
                throw FormatError.unsupportedEncoding("\(tensor.dataType) has no numpy dtype; write it as .pb instead")
            }
            descr = name
            body = bytes
        }
        let shapeText = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var file: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        file += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        file += Array(header.utf8)
        return file + body
    }

    /// True when numpy has a dtype for `type` (strings included), so a tensor of it can be written as `.npy`.
    public static func canEncode(_ type: DataType) -> Bool {
        type == .string || descriptor(type) != nil
    }

    private static let descriptors: [(String, DataType)] = [
        ("<f4", .float), ("<f8", .double), ("<f2", .float16), ("|i1", .int8), ("<i2", .int16), ("<i4", .int32),
        ("<i8", .int64), ("|u1", .uint8), ("<u2", .uint16), ("<u4", .uint32), ("<u8", .uint64), ("|b1", .bool),
        ("<c8", .complex64), ("<c16", .complex128),
    ]

    private static func dataType(_ descr: String) -> DataType? {
        // numpy writes single-byte types with '|', but '<' and '=' are accepted for them as well.
        let normalized = descr.replacingOccurrences(of: "=", with: "<")
        return descriptors.first { $0.0 == normalized || $0.0.dropFirst() == normalized.dropFirst() && $0.0.hasPrefix("|") }?.1
    }

    private static func descriptor(_ type: DataType) -> String? {
        descriptors.first { $0.1 == type }?.0
    }

    private static func decodeUnicode(
        _ body: [UInt8], width: Int, shape: [Int], count: Int, fail: (String) -> FormatError
    ) throws -> Tensor {
        guard width >= 0, body.count >= count * width * 4 else { throw fail("truncated unicode data") }
        let strings = (0..<count).map { element -> String in
            var scalars = String.UnicodeScalarView()
            for index in 0..<width {
                let offset = (element * width + index) * 4
                let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(body[offset + $1]) << (8 * $1) }
                if value == 0 { break }
                scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            }
            return String(scalars)
        }
        return Tensor(shape: shape, elements: strings)
    }

    /// The text of `key`'s value in a Python dict literal header (up to the next top-level comma).
    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\""),
            let colon = header[keyRange.upperBound...].firstIndex(of: ":")
        else { return nil }
        var depth = 0
        var end = header.index(after: colon)
        while end < header.endIndex {
            let character = header[end]
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if (character == "," && depth == 0) || character == "}" { break }
            end = header.index(after: end)
        }
        return String(header[header.index(after: colon)..<end]).trimmingCharacters(in: .whitespaces)
    }
}
