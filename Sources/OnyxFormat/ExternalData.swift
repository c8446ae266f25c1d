import Foundation

/// Reads tensor data stored beside a model, never outside the model's folder.
enum ExternalData {
    /// The file `location` names, resolved (symbolic links included) and checked to lie inside `directory`.
    static func confinedURL(_ location: String, in directory: URL, tensor: String) throws -> URL {
        guard !location.isEmpty, !location.hasPrefix("/") else {
            throw FormatError.externalDataOutsideModelFolder(tensor: tensor, location: location)
        }
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
        let file = directory.appendingPathComponent(location).standardizedFileURL.resolvingSymlinksInPath()
        guard file.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw FormatError.externalDataOutsideModelFolder(tensor: tensor, location: location)
        }
        return file
    }

    /// `length` bytes (all to the end when nil) from `offset`, through a memory map of the file.
    static func read(_ file: URL, offset: Int, length: Int?, tensor: String) throws -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: file, options: .alwaysMapped)
        } catch {
            throw FormatError.externalDataUnreadable(tensor: tensor, reason: "cannot open \(file.lastPathComponent)")
        }
        let end = length.map { offset + $0 } ?? data.count
        guard offset >= 0, let length = length.map({ $0 }) ?? Optional(data.count - offset), length >= 0, end <= data.count else {
            throw FormatError.externalDataUnreadable(
                tensor: tensor, reason: "range \(offset)..<\(end) outside \(file.lastPathComponent) (\(data.count) bytes)")
        }
        return [UInt8](data[offset..<end])
    }
}
