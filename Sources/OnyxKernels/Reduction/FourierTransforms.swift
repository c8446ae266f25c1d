import Foundation
import OnyxCore

/// Registers DFT (axis an attribute in opset 17, an optional input from opset 20) and STFT (opset 17).
func registerFourierKernels(into registry: inout KernelRegistry) {
    registry.register("DFT", since: 17) { node in try DFTKernel(node, axisAttribute: node.int("axis", default: 1)) }
    registry.register("DFT", since: 20) { node in try DFTKernel(node, axisAttribute: nil) }
    registry.register("STFT", since: 17) { node in try STFTKernel(node) }
}

/// The discrete Fourier transform along one axis of a signal whose last dimension holds the real part (1) or
/// the real and imaginary parts (2). Onesided forward transforms keep bins 0…n/2; the onesided inverse reads
/// those bins, extends them by conjugate symmetry and returns the real signal. Computed in double precision.
struct DFTKernel: Kernel {
    /// The `axis` attribute of opset 17; nil from opset 20, where the axis is input 2 (default −2).
    let axisAttribute: Int?
    let inverse: Bool
    let onesided: Bool

    init(_ node: KernelNode, axisAttribute: Int?) throws {
        self.axisAttribute = axisAttribute
        inverse = try node.int("inverse", default: 0) != 0
        onesided = try node.int("onesided", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let channels = try complexChannels(input, name: "input", minimumRank: 2)
        let signalShape = Array(input.shape.dropLast())
        let requestedAxis = try axisAttribute ?? inputs.optionalTensor(2).map { try ReductionInputs.integer($0, name: "axis") } ?? -2
        // The range is [-r, -2] ∪ [0, r - 2]: counted over the full rank, never the complex dimension.
        let axis = try ReductionInputs.axis(requestedAxis, rank: input.rank)
        guard axis < signalShape.count else {
            throw KernelError.invalidInput("axis \(requestedAxis) names the real/imaginary dimension of shape \(input.shape)")
        }
        let split = AxisSplit(shape: signalShape, axis: axis)
        let realOutput = inverse && onesided
        let length = try inputs.optionalTensor(1).map { try ReductionInputs.integer($0, name: "dft_length") }
            ?? (realOutput ? 2 * (split.extent - 1) : split.extent)
        let bins = onesided && !inverse ? length / 2 + 1 : length
        let outputChannels = realOutput ? 1 : 2
        guard length >= 1, length <= ReductionInputs.maximumGeneratedCount,
            split.outer * bins * split.inner <= ReductionInputs.maximumGeneratedCount / outputChannels
        else {
            throw KernelError.invalidInput("dft_length \(length) must be at least 1 and give an output of a sane size")
        }

        let values = input.doubleValues() ?? []
        let transform = FourierTransform(length: length, inverse: inverse)
        let scale = inverse ? 1 / Double(length) : 1
        var output = [Double](repeating: 0, count: split.outer * bins * split.inner * outputChannels)
        var real = [Double](repeating: 0, count: length)
        var imaginary = [Double](repeating: 0, count: length)
        for block in 0..<split.outer {
            for position in 0..<split.inner {
                // Input sample k, part c (0 real, 1 imaginary; absent parts read 0).
                func sample(_ k: Int, _ part: Int) -> Double {
                    guard k < split.extent, part < channels else { return 0 }
                    return values[((block * split.extent + k) * split.inner + position) * channels + part]
                }
                for k in 0..<length {
                    if realOutput && k > length / 2 {
                        real[k] = sample(length - k, 0)
                        imaginary[k] = -sample(length - k, 1)
                    } else {
                        real[k] = sample(k, 0)
                        imaginary[k] = sample(k, 1)
                    }
                }
                transform.apply(real: &real, imaginary: &imaginary)
                for k in 0..<bins {
                    let target = ((block * bins + k) * split.inner + position) * outputChannels
                    output[target] = real[k] * scale
                    if !realOutput { output[target + 1] = imaginary[k] * scale }
                }
            }
        }
        var outputShape = signalShape
        outputShape[axis] = bins
        return [.tensor(try Tensor(converting: output, to: input.dataType, shape: outputShape + [outputChannels]))]
    }
}

/// The short-time Fourier transform of signals [batch, length, 1 or 2]: a DFT of every windowed frame,
/// giving [batch, frames, bins, 2].
struct STFTKernel: Kernel {
    /// Keep bins 0…frame_length/2 only.
    let onesided: Bool

    init(_ node: KernelNode) throws {
        onesided = try node.int("onesided", default: 1) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let signal = try inputs.tensor(0)
        let channels = try complexChannels(signal, name: "signal", minimumRank: 3)
        guard signal.rank == 3 else {
            throw KernelError.invalidInput("signal must be [batch, length, 1 or 2], got \(signal.shape)")
        }
        let (batches, signalLength) = (signal.shape[0], signal.shape[1])
        let step = try ReductionInputs.integer(inputs.tensor(1), name: "frame_step")
        let window = try inputs.optionalTensor(2)
        let frameLength = try inputs.optionalTensor(3).map { try ReductionInputs.integer($0, name: "frame_length") }
            ?? window?.count ?? signalLength
        if let window, window.dataType != signal.dataType || window.shape != [frameLength] {
            throw KernelError.invalidInput(
                "window must be \(signal.dataType) of shape [\(frameLength)], got \(window.dataType) \(window.shape)")
        }
        guard step >= 1, frameLength >= 1, frameLength <= signalLength else {
            throw KernelError.invalidInput(
                "need frame_step ≥ 1 and 1 ≤ frame_length ≤ \(signalLength), got \(step) and \(frameLength)")
        }
        let frames = (signalLength - frameLength) / step + 1
        let bins = onesided ? frameLength / 2 + 1 : frameLength
        guard batches * frames * bins <= ReductionInputs.maximumGeneratedCount / 2 else {
            throw KernelError.invalidInput("\(frames) frames of \(bins) bins make too large an output")
        }

        let values = signal.doubleValues() ?? []
        let weights = window?.doubleValues() ?? [Double](repeating: 1, count: frameLength)
        let transform = FourierTransform(length: frameLength, inverse: false)
        var output = [Double](repeating: 0, count: batches * frames * bins * 2)
        var real = [Double](repeating: 0, count: frameLength)
        var imaginary = [Double](repeating: 0, count: frameLength)
        for batch in 0..<batches {
            for frame in 0..<frames {
                for k in 0..<frameLength {
                    let source = (batch * signalLength + frame * step + k) * channels
                    real[k] = values[source] * weights[k]
                    imaginary[k] = channels == 2 ? values[source + 1] * weights[k] : 0
                }
                transform.apply(real: &real, imaginary: &imaginary)
                for k in 0..<bins {
                    let target = ((batch * frames + frame) * bins + k) * 2
                    output[target] = real[k]
                    output[target + 1] = imaginary[k]
                }
            }
        }
        return [.tensor(try Tensor(converting: output, to: signal.dataType, shape: [batches, frames, bins, 2]))]
    }
}

/// The size (1 or 2) of a signal's last dimension, after checking the signal is floating point of enough rank.
private func complexChannels(_ tensor: Tensor, name: String, minimumRank: Int) throws -> Int {
    guard tensor.dataType.isFloatingPoint, tensor.rank >= minimumRank, let channels = tensor.shape.last,
        channels == 1 || channels == 2
    else {
        throw KernelError.invalidInput(
            "\(name) must be floating point of rank ≥ \(minimumRank) ending in 1 (real) or 2 (complex), got \(tensor.dataType) \(tensor.shape)")
    }
    return channels
}

/// An unnormalised complex DFT of one length, in place: X[k] = Σ x[j]·e^(∓2πi·jk/n), the sign + for the
/// inverse. Powers of two use the iterative radix-2 FFT; other lengths the direct sum over a twiddle table.
struct FourierTransform {
    let length: Int
    /// cos and ±sin of 2πk/n for k in 0..<n, the sine's sign chosen by the direction.
    private let cosines: [Double]
    private let sines: [Double]

    init(length: Int, inverse: Bool) {
        self.length = length
        let sign = inverse ? 1.0 : -1.0
        cosines = (0..<length).map { cos(2 * Double.pi * Double($0) / Double(length)) }
        sines = (0..<length).map { sign * sin(2 * Double.pi * Double($0) / Double(length)) }
    }

    /// `real` and `imaginary` must hold `length` elements.
    func apply(real: inout [Double], imaginary: inout [Double]) {
        if length & (length - 1) == 0 {
            radix2(real: &real, imaginary: &imaginary)
        } else {
            direct(real: &real, imaginary: &imaginary)
        }
    }

    private func direct(real: inout [Double], imaginary: inout [Double]) {
        let (inputReal, inputImaginary) = (real, imaginary)
        for k in 0..<length {
            var (sumReal, sumImaginary) = (0.0, 0.0)
            var twiddle = 0
            for j in 0..<length {
                let (c, s) = (cosines[twiddle], sines[twiddle])
                sumReal += inputReal[j] * c - inputImaginary[j] * s
                sumImaginary += inputReal[j] * s + inputImaginary[j] * c
                twiddle += k
                if twiddle >= length { twiddle -= length }
            }
            real[k] = sumReal
            imaginary[k] = sumImaginary
        }
    }

    private func radix2(real: inout [Double], imaginary: inout [Double]) {
        var reversed = 0
        for index in 1..<max(length, 1) {
            var bit = length >> 1
            while reversed & bit != 0 {
                reversed ^= bit
                bit >>= 1
            }
            reversed |= bit
            if index < reversed {
                real.swapAt(index, reversed)
                imaginary.swapAt(index, reversed)
            }
        }
        var span = 2
        while span <= length {
            let half = span / 2
            let twiddleStep = length / span
            for start in stride(from: 0, to: length, by: span) {
                for offset in 0..<half {
                    let (c, s) = (cosines[offset * twiddleStep], sines[offset * twiddleStep])
                    let (top, bottom) = (start + offset, start + offset + half)
                    let productReal = real[bottom] * c - imaginary[bottom] * s
                    let productImaginary = real[bottom] * s + imaginary[bottom] * c
                    real[bottom] = real[top] - productReal
                    imaginary[bottom] = imaginary[top] - productImaginary
                    real[top] += productReal
                    imaginary[top] += productImaginary
                }
            }
            span *= 2
        }
    }
}
