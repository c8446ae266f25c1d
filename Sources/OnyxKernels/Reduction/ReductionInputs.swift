import OnyxCore

/// Input checks the Reduction kernels share.
enum ReductionInputs {
    /// The most elements a kernel allocates for an output whose size its inputs' sizes do not bound (a window,
    /// a mel matrix, a DFT of a given length, an einsum outer product); more means a corrupt input, refused
    /// before allocating.
    static let maximumGeneratedCount = 1 << 28

    /// `axis` counted from the back when negative; throws unless it lies in [-rank, rank).
    static func axis(_ axis: Int, rank: Int) throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw KernelError.invalidInput("axis \(axis) is out of range for rank \(rank)")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// The integer held by a scalar (or one-element) int32 or int64 input such as TopK's K or CumSum's axis.
    static func integer(_ tensor: Tensor, name: String) throws -> Int {
        guard tensor.dataType == .int64 || tensor.dataType == .int32, tensor.count == 1, tensor.rank <= 1,
            let value = tensor.intValues()?.first
        else {
            throw KernelError.invalidInput("\(name) must be one int32 or int64 value, got \(tensor.dataType) \(tensor.shape)")
        }
        return value
    }
}
