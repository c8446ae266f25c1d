import OnyxCore

/// RotaryEmbedding (opset 23): rotates the first `rotary_embedding_dim` features of each head by per-position
/// angles given as cos/sin caches, split in halves or interleaved pairs.
struct RotaryEmbeddingKernel: Kernel {
    private let interleaved: Bool
    private let rotaryDimension: Int
    private let numHeads: Int

    init(_ node: KernelNode) throws {
        interleaved = try node.int("interleaved", default: 0) != 0
        rotaryDimension = try node.int("rotary_embedding_dim", default: 0)
        numHeads = try node.int("num_heads", default: 0)
        guard rotaryDimension >= 0, numHeads >= 0 else {
            throw KernelError.invalidAttribute(
                "rotary_embedding_dim", "rotary_embedding_dim and num_heads must be nonnegative")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let cosCache = try inputs.tensor(1)
        let sinCache = try inputs.tensor(2)
        if try computesInDouble(input.dataType, cosCache.dataType, sinCache.dataType) {
            return [.tensor(try rotate(Double.self, input, cosCache, sinCache, inputs.optionalTensor(3)))]
        }
        return [.tensor(try rotate(Float.self, input, cosCache, sinCache, inputs.optionalTensor(3)))]
    }

    private func rotate<C: ComputeFloat>(
        _: C.Type, _ input: Tensor, _ cosCache: Tensor, _ sinCache: Tensor, _ positionTensor: Tensor?
    ) throws -> Tensor {
        // Walk the input as [batch, sequence, heads, headSize] with strides, whichever layout it has.
        let batch: Int
        let length: Int
        let heads: Int
        let headSize: Int
        let strides: (batch: Int, position: Int, head: Int)
        switch input.rank {
        case 4:
            (batch, heads, length, headSize) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
            strides = (heads * length * headSize, headSize, length * headSize)
        case 3:
            guard numHeads > 0, input.shape[2] % numHeads == 0 else {
                throw KernelError.invalidAttribute(
                    "num_heads",
                    "a 3-D input needs num_heads dividing its hidden size \(input.shape[2]), got \(numHeads)")
            }
            (batch, length, heads, headSize) = (input.shape[0], input.shape[1], numHeads, input.shape[2] / numHeads)
            strides = (length * heads * headSize, heads * headSize, headSize)
        default:
            throw KernelError.invalidInput("input must be 3-D or 4-D, got shape \(input.shape)")
        }
        let rotated = rotaryDimension == 0 ? headSize : rotaryDimension
        guard rotated <= headSize, rotated % 2 == 0 else {
            throw KernelError.invalidAttribute(
                "rotary_embedding_dim", "must be even and at most the head size \(headSize), got \(rotated)")
        }
        let half = rotated / 2
        let positions = try cachePositions(cosCache, sinCache, positionTensor, batch: batch, length: length, half: half)
        let x = try input.computeValues(C.self)
        let cosines = try cosCache.computeValues(C.self)
        let sines = try sinCache.computeValues(C.self)
        var output = x
        // Halves pair feature d with d + half; interleaving pairs 2d with 2d + 1.
        let (firstStep, secondOffset) = interleaved ? (2, 1) : (1, half)
        for b in 0..<batch {
            for s in 0..<length {
                let cacheRow = positions[b * length + s] * half
                for h in 0..<heads {
                    let base = b * strides.batch + s * strides.position + h * strides.head
                    for d in 0..<half {
                        let first = base + d * firstStep
                        let second = first + secondOffset
                        let (cosine, sine) = (cosines[cacheRow + d], sines[cacheRow + d])
                        output[first] = cosine * x[first] - sine * x[second]
                        output[second] = sine * x[first] + cosine * x[second]
                    }
                }
            }
        }
        return Tensor.fromCompute(output, dataType: input.dataType, shape: input.shape)
    }

    /// The cache row of each (batch, position): `position_ids` index a [max_position, half] cache; without them the
    /// caches are [batch, sequence, half] and row b·S + s is used.
    private func cachePositions(
        _ cosCache: Tensor, _ sinCache: Tensor, _ positionTensor: Tensor?, batch: Int, length: Int, half: Int
    ) throws -> [Int] {
        guard cosCache.shape == sinCache.shape, cosCache.shape.last == half else {
            throw KernelError.invalidInput(
                "cos_cache \(cosCache.shape) and sin_cache \(sinCache.shape) must match and end in rotary_embedding_dim/2 = \(half)"
            )
        }
        guard let positionTensor else {
            guard cosCache.shape == [batch, length, half] else {
                throw KernelError.invalidInput(
                    "without position_ids the caches must be [\(batch), \(length), \(half)], got \(cosCache.shape)")
            }
            return Array(0..<batch * length)
        }
        guard cosCache.rank == 2 else {
            throw KernelError.invalidInput("with position_ids the caches must be 2-D, got \(cosCache.shape)")
        }
        guard positionTensor.shape == [batch, length], let positions = positionTensor.intValues() else {
            throw KernelError.invalidInput(
                "position_ids must be an integer tensor of shape [\(batch), \(length)], got \(positionTensor.dataType) \(positionTensor.shape)"
            )
        }
        if let bad = positions.first(where: { $0 < 0 || $0 >= cosCache.shape[0] }) {
            throw KernelError.invalidInput("position id \(bad) is outside the cache of \(cosCache.shape[0]) positions")
        }
        return positions
    }
}
