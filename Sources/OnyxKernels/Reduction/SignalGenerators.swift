import Foundation
import OnyxCore

/// Registers the operators that generate signal-processing constants (all opset 17): HannWindow,
/// HammingWindow, BlackmanWindow and MelWeightMatrix.
func registerSignalGeneratorKernels(into registry: inout KernelRegistry) {
    for window in WindowFunction.allCases {
        registry.register(window.rawValue, since: 17) { node in try WindowKernel(node, function: window) }
    }
    registry.register("MelWeightMatrix", since: 17) { node in
        try MelWeightMatrixKernel(outputType: outputDataType(node))
    }
}

/// The cosine-sum windows, by ONNX op type.
enum WindowFunction: String, CaseIterable, Sendable {
    case hann = "HannWindow"
    case hamming = "HammingWindow"
    case blackman = "BlackmanWindow"

    /// The window at `n` of a period `length`, in the ONNX reference's order of operations (so that, for
    /// instance, the Blackman peak is exactly 1).
    func value(at n: Double, period length: Double) -> Double {
        switch self {
        case .hann:
            let sine = sin(n * Double.pi / length)
            return sine * sine
        case .hamming:
            let alpha = 25.0 / 46.0
            return alpha - cos(n * Double.pi * 2 / length) * (1 - alpha)
        case .blackman:
            return cos(n * (Double.pi * 2) / length) * -0.5 + cos(n * (Double.pi * 4) / length) * 0.08 + 0.42
        }
    }
}

/// A window of `size` (input 0) points; `periodic` windows have period `size`, symmetric ones `size − 1`.
struct WindowKernel: Kernel {
    let function: WindowFunction
    let periodic: Bool
    let outputType: DataType

    init(_ node: KernelNode, function: WindowFunction) throws {
        self.function = function
        periodic = try node.int("periodic", default: 1) != 0
        outputType = try outputDataType(node)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let size = try ReductionInputs.integer(inputs.tensor(0), name: "size")
        guard size >= 0, size <= ReductionInputs.maximumGeneratedCount else {
            throw KernelError.invalidInput("size must lie in [0, \(ReductionInputs.maximumGeneratedCount)], got \(size)")
        }
        let period = Double(periodic ? size : size - 1)
        let values = (0..<size).map { function.value(at: Double($0), period: period) }
        return [.tensor(try Tensor(converting: values, to: outputType, shape: [size]))]
    }
}

/// The [dft_length / 2 + 1, num_mel_bins] matrix of triangular filters, peak 1, spaced evenly on the mel
/// scale between the two edge frequencies; follows the ONNX reference, which rounds each filter edge down to a
/// whole DFT bin.
struct MelWeightMatrixKernel: Kernel {
    let outputType: DataType

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let melBins = try ReductionInputs.integer(inputs.tensor(0), name: "num_mel_bins")
        let dftLength = try ReductionInputs.integer(inputs.tensor(1), name: "dft_length")
        let sampleRate = try ReductionInputs.integer(inputs.tensor(2), name: "sample_rate")
        let lowerEdge = try frequency(inputs.tensor(3), name: "lower_edge_hertz")
        let upperEdge = try frequency(inputs.tensor(4), name: "upper_edge_hertz")
        let spectrogramBins = dftLength / 2 + 1
        guard melBins > 0, dftLength > 0, sampleRate > 0,
            melBins <= ReductionInputs.maximumGeneratedCount / spectrogramBins
        else {
            throw KernelError.invalidInput(
                "num_mel_bins, dft_length and sample_rate must be positive and the matrix of a sane size, got \(melBins), \(dftLength), \(sampleRate)")
        }
        func mel(_ hertz: Double) -> Double { 2595 * log10(1 + hertz / 700) }
        let lowMel = mel(lowerEdge)
        let melStep = (mel(upperEdge) - lowMel) / Double(melBins + 2)
        // Filter i rises from edge i to edge i + 1 and falls to edge i + 2.
        let edges = (0..<(melBins + 2)).map { index -> Double in
            let hertz = 700 * (pow(10, (Double(index) * melStep + lowMel) / 2595) - 1)
            return (Double(dftLength + 1) * hertz / Double(sampleRate)).rounded(.down)
        }
        guard let first = edges.first, let last = edges.last, first >= 0, last < Double(spectrogramBins),
            zip(edges, edges.dropFirst()).allSatisfy({ $0 <= $1 })
        else {
            throw KernelError.invalidInput(
                "edge frequencies \(lowerEdge)…\(upperEdge) Hz must rise and fall within the \(spectrogramBins) spectrogram bins")
        }
        let bins = edges.map { Int($0) }
        var weights = [Double](repeating: 0, count: spectrogramBins * melBins)
        for filter in 0..<melBins {
            let (low, center, high) = (bins[filter], bins[filter + 1], bins[filter + 2])
            if center == low {
                weights[center * melBins + filter] = 1
            } else {
                for bin in low...center { weights[bin * melBins + filter] = Double(bin - low) / Double(center - low) }
            }
            for bin in center..<high { weights[bin * melBins + filter] = Double(high - bin) / Double(high - center) }
        }
        return [.tensor(try Tensor(converting: weights, to: outputType, shape: [spectrogramBins, melBins]))]
    }

    private func frequency(_ tensor: Tensor, name: String) throws -> Double {
        guard tensor.dataType.isFloatingPoint, tensor.count == 1, let value = tensor.doubleValues()?.first else {
            throw KernelError.invalidInput("\(name) must be one floating-point value, got \(tensor.dataType) \(tensor.shape)")
        }
        return value
    }
}

/// The `output_datatype` attribute (default 1, float): any integer or floating-point type.
private func outputDataType(_ node: KernelNode) throws -> DataType {
    let code = try node.int("output_datatype", default: 1)
    guard let type = DataType(rawValue: Int32(truncatingIfNeeded: code)), type.isInteger || type.isFloatingPoint else {
        throw KernelError.invalidAttribute("output_datatype", "expected an integer or floating-point type, got \(code)")
    }
    return type
}
