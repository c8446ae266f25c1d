import OnyxCore

/// Why a model or tensor file could not be read or written. Each case carries what a user needs to act.
public enum FormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadableFile(path: String, reason: String)
    /// The bytes are not a valid protobuf message of the expected kind (truncated, corrupt or not ONNX).
    case corruptMessage(what: String, source: String)
    /// A tensor names an element type this build does not know.
    case unknownDataType(Int32, tensor: String)
    /// A tensor's stored data does not match its shape and type.
    case dataSizeMismatch(tensor: String, expected: Int, got: Int)
    /// A tensor's dimensions are negative or their product is absurdly large.
    case invalidShape(tensor: String, dims: [Int])
    /// An external-data location would read outside the model's folder.
    case externalDataOutsideModelFolder(tensor: String, location: String)
    /// An external-data file or range could not be read.
    case externalDataUnreadable(tensor: String, reason: String)
    /// A `.npy` file is malformed or holds a dtype ONNX has no type for.
    case invalidNumpy(path: String, reason: String)
    /// A `.npz` file is not a zip archive of `.npy` members that Onyx can read.
    case invalidNpz(path: String, reason: String)
    /// A value cannot be written in the requested format.
    case unsupportedEncoding(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
        case .corruptMessage(let what, let source):
            "\(source): not a valid \(what) (truncated or corrupt protobuf)"
        case .unknownDataType(let code, let tensor): "tensor '\(tensor)': unknown element type \(code)"
        case .dataSizeMismatch(let tensor, let expected, let got):
            "tensor '\(tensor)': shape needs \(expected) bytes of data, file has \(got)"
        case .invalidShape(let tensor, let dims): "tensor '\(tensor)': invalid dimensions \(dims)"
        case .externalDataOutsideModelFolder(let tensor, let location):
            "tensor '\(tensor)': external data location '\(location)' leaves the model's folder"
        case .externalDataUnreadable(let tensor, let reason): "tensor '\(tensor)': external data: \(reason)"
        case .invalidNumpy(let path, let reason): "\(path): invalid .npy: \(reason)"
        case .invalidNpz(let path, let reason): "\(path): invalid .npz: \(reason)"
        case .unsupportedEncoding(let reason): reason
        }
    }
}

/// The largest element count a tensor may declare (2^34): beyond it a file is taken as corrupt, so that a
/// bogus shape can never ask for a huge allocation.
let maximumElementCount = 1 << 34

/// Element count of `dims`, or nil when a dimension is negative or the count exceeds the bound.
func checkedElementCount(_ dims: [Int]) -> Int? {
    OnyxCore.checkedElementCount(dims, limit: maximumElementCount)
}
