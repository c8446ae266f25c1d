import OnyxCore

/// Col2Im (opset 18): sums the column blocks of input [N, C·∏block, L] back into images [N, C, image_shape…],
/// the inverse of im2col, with per-axis strides, dilations and pads.
struct Col2ImKernel: Kernel {
    private let strides: [Int]?
    private let dilations: [Int]?
    private let pads: [Int]?

    init(_ node: KernelNode) throws {
        strides = try node.ints("strides")
        dilations = try node.ints("dilations")
        pads = try node.ints("pads")
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        guard let image = try inputs.tensor(1).intValues(), let block = try inputs.tensor(2).intValues(),
            image.count == block.count, !image.isEmpty
        else {
            throw KernelError.invalidInput("image_shape and block_shape must be integer lists of one length")
        }
        let rank = image.count
        let strides = self.strides ?? Array(repeating: 1, count: rank)
        let dilations = self.dilations ?? Array(repeating: 1, count: rank)
        let pads = self.pads ?? Array(repeating: 0, count: 2 * rank)
        guard strides.count == rank, dilations.count == rank, pads.count == 2 * rank,
            strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), pads.allSatisfy({ $0 >= 0 }),
            image.allSatisfy({ $0 > 0 }), block.allSatisfy({ $0 > 0 })
        else {
            throw KernelError.invalidAttribute(
                "strides",
                "strides, dilations (\(rank) positive each), pads (\(2 * rank) nonnegative) and shapes do not fit")
        }
        // Number of block positions along each axis.
        let blocks = (0..<rank).map { axis -> Int in
            let span = image[axis] + pads[axis] + pads[rank + axis] - dilations[axis] * (block[axis] - 1) - 1
            return span < 0 ? 0 : span / strides[axis] + 1
        }
        guard let blockSize = checkedElementCount(block), let imageSize = checkedElementCount(image),
            let blockCount = checkedElementCount(blocks)
        else {
            throw KernelError.invalidInput("image_shape \(image) or block_shape \(block) is too large")
        }
        guard input.rank == 3, input.shape[1] % blockSize == 0, input.shape[2] == blockCount, blockCount > 0
        else {
            throw KernelError.invalidInput(
                "input must be [N, C·\(blockSize), \(blockCount)] for blocks \(blocks), got \(input.shape)")
        }
        guard let values = input.doubleValues() else {
            throw KernelError.invalidInput("Col2Im needs a numeric input, got \(input.dataType)")
        }
        let (batch, channels) = (input.shape[0], input.shape[1] / blockSize)
        let columns = input.shape[2]
        guard checkedElementCount([batch, channels, imageSize]) != nil else {
            throw KernelError.invalidInput("output [\(batch), \(channels)] + \(image) is too large")
        }
        var output = [Double](repeating: 0, count: batch * channels * imageSize)
        for plane in 0..<batch * channels {
            for kernelIndex in 0..<blockSize {
                let kernelOffset = RowMajor.coordinates(of: kernelIndex, in: block)
                for column in 0..<columns {
                    let position = RowMajor.coordinates(of: column, in: blocks)
                    var target = 0
                    var inside = true
                    for axis in 0..<rank {
                        let coordinate =
                            position[axis] * strides[axis] - pads[axis] + kernelOffset[axis] * dilations[axis]
                        inside = inside && (0..<image[axis]).contains(coordinate)
                        target = target * image[axis] + coordinate
                    }
                    if inside {
                        output[plane * imageSize + target] +=
                            values[(plane * blockSize + kernelIndex) * columns + column]
                    }
                }
            }
        }
        let shape = [batch, channels] + image
        return [.tensor(try input.dataType.visitNumeric(SaturatingTensor(values: output, shape: shape)))]
    }
}
