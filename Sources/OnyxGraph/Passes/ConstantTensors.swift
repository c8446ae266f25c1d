import OnyxCore

/// Building the small constants passes add (per-channel scales and biases).
enum Tensors {
    /// A 1-D tensor of `count` elements of `type`, each `value`; nil for a non-numeric type.
    static func filled(_ value: Double, _ type: DataType, count: Int) -> Tensor? {
        guard let numeric = type.elementType as? any NumericElement.Type else { return nil }
        func make<T: NumericElement>(_: T.Type) -> Tensor {
            Tensor(shape: [count], elements: [T](repeating: T(converting: value), count: count))
        }
        return make(numeric)
    }

    /// The elements of `tensor`, each repeated `each` times in a row, as a 1-D tensor; nil for strings.
    static func repeating(_ tensor: Tensor, each: Int) -> Tensor? {
        guard let bytes = tensor.littleEndianBytes(), each > 0 else { return nil }
        let size = tensor.dataType.storageSize
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count * each)
        for start in stride(from: 0, to: bytes.count, by: size) {
            for _ in 0..<each { result += bytes[start..<start + size] }
        }
        return Tensor(dataType: tensor.dataType, shape: [tensor.count * each], littleEndianBytes: result)
    }
}
