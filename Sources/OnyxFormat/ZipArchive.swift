import CZlib

/// The zip container of numpy's `.npz` files: reads stored and deflated members (zip64 sizes included, as numpy
/// writes them) and writes stored ones.
enum ZipArchive {
    struct Entry {
        let name: String
        let data: [UInt8]
    }

    /// Largest member accepted, uncompressed: the largest tensor a file may hold, at 16 bytes an element.
    private static let maximumEntrySize = UInt64(maximumElementCount) * 16

    /// Every member of the archive in `bytes`, in central-directory order; `source` names the file in errors.
    static func entries(_ bytes: [UInt8], source: String) throws -> [Entry] {
        let reader = ByteReader(bytes: bytes, source: source)
        let end = try endOfCentralDirectory(reader)
        var entries: [Entry] = []
        var offset = end.directoryOffset
        for _ in 0..<end.entryCount {
            let record = try DirectoryRecord(reader, at: offset)
            entries.append(Entry(name: record.name, data: try contents(of: record, in: reader)))
            offset = record.end
        }
        return entries
    }

    /// A member's uncompressed bytes, checked against its CRC.
    private static func contents(of record: DirectoryRecord, in reader: ByteReader) throws -> [UInt8] {
        let name = record.name
        guard record.flags & 1 == 0 else { throw reader.fail("entry '\(name)' is encrypted") }
        let limit = UInt64(reader.bytes.count)
        guard record.size <= maximumEntrySize, record.compressedSize <= limit, record.localOffset <= limit else {
            throw reader.fail("entry '\(name)' declares impossible sizes")
        }
        let local = Int(record.localOffset)
        guard try reader.u32(local) == 0x0403_4b50 else { throw reader.fail("local header of '\(name)' is corrupt") }
        // The local header repeats name and extra field, possibly with other lengths than the directory's.
        let start = local + 30 + Int(try reader.u16(local + 26)) + Int(try reader.u16(local + 28))
        let stored = try reader.slice(start, Int(record.compressedSize))
        let data: [UInt8]
        switch record.method {
        case 0:
            guard record.compressedSize == record.size else { throw reader.fail("stored entry '\(name)' has differing sizes") }
            data = Array(stored)
        case 8:
            guard let inflated = inflate(stored, size: Int(record.size)) else {
                throw reader.fail("entry '\(name)': corrupt or truncated deflate data, or not \(record.size) bytes once inflated")
            }
            data = inflated
        default:
            throw reader.fail(
                "entry '\(name)' uses compression method \(record.method); only stored and deflated entries are supported")
        }
        guard checksum(data) == record.crc else { throw reader.fail("entry '\(name)' fails its CRC check") }
        return data
    }

    /// A zip archive holding `entries` uncompressed (as `numpy.savez` writes). Without zip64, the archive must stay
    /// under 4 GiB and 65,535 members.
    static func archive(_ entries: [Entry]) throws -> [UInt8] {
        var file: [UInt8] = []
        var directory: [UInt8] = []
        for entry in entries {
            let name = Array(entry.name.utf8)
            guard file.count + entry.data.count + name.count + 30 < Int(UInt32.max), entries.count <= 0xFFFF else {
                throw FormatError.unsupportedEncoding("the outputs are too large for a .npz file (4 GiB); write them as .npy instead")
            }
            let crc = checksum(entry.data)
            let offset = UInt32(file.count)
            // version needed 2.0, no flags, stored, 1980-01-01 00:00, then CRC and both sizes.
            var common: [UInt8] = []
            common.append(u16: 20)
            common.append(u16: 0)
            common.append(u16: 0)
            common.append(u16: 0)
            common.append(u16: 0x21)
            common.append(u32: crc)
            common.append(u32: UInt32(entry.data.count))
            common.append(u32: UInt32(entry.data.count))
            common.append(u16: UInt16(name.count))
            common.append(u16: 0)
            file.append(u32: 0x0403_4b50)
            file += common + name + entry.data
            directory.append(u32: 0x0201_4b50)
            directory.append(u16: 20)
            directory += common
            directory.append(u16: 0)  // comment length
            directory.append(u16: 0)  // disk number
            directory.append(u16: 0)  // internal attributes
            directory.append(u32: 0)  // external attributes
            directory.append(u32: offset)
            directory += name
        }
        let directoryOffset = UInt32(file.count)
        file += directory
        file.append(u32: 0x0605_4b50)
        file.append(u16: 0)
        file.append(u16: 0)
        file.append(u16: UInt16(entries.count))
        file.append(u16: UInt16(entries.count))
        file.append(u32: UInt32(directory.count))
        file.append(u32: directoryOffset)
        file.append(u16: 0)
        return file
    }

    private static func endOfCentralDirectory(_ reader: ByteReader) throws -> (entryCount: Int, directoryOffset: Int) {
        let bytes = reader.bytes
        guard bytes.count >= 22 else { throw reader.fail("too short for a zip archive") }
        // The record sits at the end, after a comment of at most 65,535 bytes.
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        guard let end = stride(from: bytes.count - 22, through: lowest, by: -1).first(where: { (try? reader.u32($0)) == 0x0605_4b50 })
        else { throw reader.fail("no zip end-of-central-directory record (not a .npz file?)") }
        var count = UInt64(try reader.u16(end + 10))
        var offset = UInt64(try reader.u32(end + 16))
        if count == 0xFFFF || offset == 0xFFFF_FFFF, end >= 20, try reader.u32(end - 20) == 0x0706_4b50 {
            let record = try reader.u64(end - 12)
            guard record < UInt64(bytes.count), try reader.u32(Int(record)) == 0x0606_4b50 else {
                throw reader.fail("corrupt zip64 end-of-central-directory record")
            }
            count = try reader.u64(Int(record) + 32)
            offset = try reader.u64(Int(record) + 48)
        }
        // Each directory entry takes at least 46 bytes, which bounds a bogus count.
        guard offset < UInt64(bytes.count), count <= UInt64(bytes.count) / 46 else {
            throw reader.fail("corrupt zip end-of-central-directory record")
        }
        return (Int(count), Int(offset))
    }

    /// Raw deflate data inflated to exactly `size` bytes; nil when the data is corrupt, ends early or is longer.
    private static func inflate(_ compressed: ArraySlice<UInt8>, size: Int) -> [UInt8]? {
        var stream = z_stream()
        // Negative window bits: zip members are raw deflate, without a zlib header.
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var status = Z_OK
        let output = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            compressed.withUnsafeBufferPointer { input in
                // zlib counts in 32 bits, so feed and drain at most 4 GiB per call. Z_BUF_ERROR ends the loop when
                // neither can move: the input ran out, or the output is full before the end.
                var consumed = 0
                while status == Z_OK {
                    let chunk = min(input.count - consumed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + consumed })
                    stream.avail_in = UInt32(chunk)
                    stream.next_out = buffer.baseAddress.map { $0 + Int(stream.total_out) }
                    stream.avail_out = UInt32(min(size - Int(stream.total_out), Int(UInt32.max)))
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    consumed += chunk - Int(stream.avail_in)
                }
            }
            initialized = Int(stream.total_out)
        }
        return status == Z_STREAM_END && output.count == size ? output : nil
    }

    private static func checksum(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(crc32_z(0, $0.baseAddress, $0.count)) }
    }
}

/// One central-directory record: a member's name, how it is stored, and where its data is.
private struct DirectoryRecord {
    let name: String
    let flags: UInt16
    let method: UInt16
    let crc: UInt32
    let compressedSize: UInt64
    let size: UInt64
    let localOffset: UInt64
    /// Where the next record starts.
    let end: Int

    init(_ reader: ByteReader, at offset: Int) throws {
        guard try reader.u32(offset) == 0x0201_4b50 else { throw reader.fail("central directory entry at \(offset) is corrupt") }
        flags = try reader.u16(offset + 8)
        method = try reader.u16(offset + 10)
        crc = try reader.u32(offset + 16)
        let nameLength = Int(try reader.u16(offset + 28))
        let extraLength = Int(try reader.u16(offset + 30))
        name = String(decoding: try reader.slice(offset + 46, nameLength), as: UTF8.self)
        end = offset + 46 + nameLength + extraLength + Int(try reader.u16(offset + 32))
        var compressedSize = UInt64(try reader.u32(offset + 20))
        var size = UInt64(try reader.u32(offset + 24))
        var localOffset = UInt64(try reader.u32(offset + 42))
        // Zip64 moves each field that overflowed 32 bits (marked 0xFFFFFFFF) into extra record 1, in this order.
        var extra = offset + 46 + nameLength
        let extraEnd = extra + extraLength
        while extra + 4 <= extraEnd {
            let id = try reader.u16(extra)
            let length = Int(try reader.u16(extra + 2))
            if id == 1 {
                var field = extra + 4
                func widened(_ narrow: UInt64) throws -> UInt64 {
                    guard narrow == 0xFFFF_FFFF, field + 8 <= extra + 4 + length else { return narrow }
                    defer { field += 8 }
                    return try reader.u64(field)
                }
                size = try widened(size)
                compressedSize = try widened(compressedSize)
                localOffset = try widened(localOffset)
            }
            extra += 4 + length
        }
        (self.compressedSize, self.size, self.localOffset) = (compressedSize, size, localOffset)
    }
}

/// Bounds-checked little-endian reads; every out-of-range read is a format error, never a crash.
private struct ByteReader {
    let bytes: [UInt8]
    let source: String

    func fail(_ reason: String) -> FormatError {
        .invalidNpz(path: source, reason: reason)
    }

    func slice(_ offset: Int, _ count: Int) throws -> ArraySlice<UInt8> {
        guard offset >= 0, count >= 0, offset <= bytes.count - count else { throw fail("truncated archive") }
        return bytes[offset..<offset + count]
    }

    func u16(_ offset: Int) throws -> UInt16 { UInt16(try value(offset, 2)) }
    func u32(_ offset: Int) throws -> UInt32 { UInt32(try value(offset, 4)) }
    func u64(_ offset: Int) throws -> UInt64 { try value(offset, 8) }

    private func value(_ offset: Int, _ width: Int) throws -> UInt64 {
        try slice(offset, width).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension [UInt8] {
    fileprivate mutating func append(u16 value: UInt16) {
        append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8)])
    }

    fileprivate mutating func append(u32 value: UInt32) {
        append(contentsOf: (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) })
    }
}
