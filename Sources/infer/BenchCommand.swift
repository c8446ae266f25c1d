import ArgumentParser
import Dispatch
import Foundation
import Onyx

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a model's runs: median, 90th percentile and fastest, and the peak memory.",
        discussion: """
            The session is made once; then --warmup untimed runs and --runs timed ones on the same inputs. Inputs \
            not given as NAME=FILE (or given as NAME=@random) are filled with seeded random values of the declared \
            type and shape: uniform in [-1, 1) for floating types, 0 to 9 for integers.

            With --stream, each timed run is followed by a plain streaming pass: the inputs copied into fresh \
            buffers on --threads threads, the least work a kernel that reads its input and writes an output of \
            the same size can do. Its time gives the memory bandwidth the model's time compares with.

            Examples:
              infer bench model.onnx --threads 2 --runs 50
              infer bench model.onnx --input x=x.npy --json
              infer bench Models/unet-gn/op21/model.onnx --lower GroupNormalization --stream
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @Option(name: .customLong("input"), help: "An input as NAME=FILE (.npy or .pb) or NAME=@random.")
    var inputs: [String] = []

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @Option(help: "Timed runs.")
    var runs: Int = 20

    @Option(help: "Untimed runs before the timed ones.")
    var warmup: Int = 3

    @Option(help: "Seed of the random inputs.")
    var seed: UInt64 = 0

    @Flag(help: "Also time a streaming pass (a copy of the inputs) after each run.")
    var stream = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var graphOptions: GraphOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let session = try Session(contentsOf: model, options: graphOptions.sessionOptions(threads: threads))
        let random = inputs.filter { $0.hasSuffix("=@random") }
        var feeds = try InputArguments.feeds(inputs.filter { !random.contains($0) }, for: session)
        var generator = SplitMix64(seed: seed)
        for input in session.inputs where feeds[input.name] == nil {
            feeds[input.name] = .tensor(try RandomTensor.make(for: input, using: &generator))
        }
        let streamed = stream ? feeds.values.compactMap(\.tensor) : []
        for _ in 0..<warmup {
            _ = try session.run(feeds)
            for tensor in streamed { _ = StreamingPass.copy(tensor, threads: threads) }
        }
        var times: [Double] = []
        var streamTimes: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try session.run(feeds)
            times.append(Self.milliseconds(since: start))
            guard stream else { continue }
            let streamStart = DispatchTime.now().uptimeNanoseconds
            for tensor in streamed { _ = StreamingPass.copy(tensor, threads: threads) }
            streamTimes.append(Self.milliseconds(since: streamStart))
        }
        let report = BenchReport(
            model: model, threads: threads, runs: runs, warmup: warmup, timings: Timings(times),
            peakRSSMB: Self.peakResidentMegabytes(),
            stream: stream
                ? StreamReport(
                    bytes: streamed.reduce(0) { $0 + $1.count * $1.dataType.storageSize }, timings: Timings(streamTimes))
                : nil)
        print(json ? try report.json() : report.text)
    }

    private static func milliseconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    /// The most memory the process has held resident, in MB.
    private static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        #if os(Linux)
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_maxrss) / 1024  // KB on Linux
        #else
            getrusage(RUSAGE_SELF, &usage)
            return Double(usage.ru_maxrss) / (1024 * 1024)  // bytes on Darwin
        #endif
    }
}

/// Median, 90th percentile, fastest and mean of a set of times in milliseconds.
struct Timings: Encodable {
    let medianMS: Double
    let p90MS: Double
    let minMS: Double
    let meanMS: Double

    init(_ times: [Double]) {
        let sorted = times.sorted()
        let middle = sorted.count / 2
        medianMS = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        p90MS = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.9).rounded(.up)) - 1)]
        minMS = sorted[0]
        meanMS = times.reduce(0, +) / Double(times.count)
    }

    enum CodingKeys: String, CodingKey {
        case medianMS = "median_ms", p90MS = "p90_ms", minMS = "min_ms", meanMS = "mean_ms"
    }
}

/// The streaming pass's bytes (read once and written once) and times.
struct StreamReport: Encodable {
    let bytes: Int
    let timings: Timings

    /// Bytes read and written per second at the median time, in GB/s.
    var gigabytesPerSecond: Double { 2 * Double(bytes) / (timings.medianMS * 1e6) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(timings.medianMS, forKey: .medianMS)
        try container.encode(timings.minMS, forKey: .minMS)
        try container.encode(gigabytesPerSecond, forKey: .gigabytesPerSecond)
    }

    enum CodingKeys: String, CodingKey {
        case bytes = "stream_bytes", medianMS = "stream_median_ms", minMS = "stream_min_ms"
        case gigabytesPerSecond = "stream_gb_per_s"
    }
}

/// What `infer bench` prints.
struct BenchReport: Encodable {
    let model: String
    let threads: Int
    let runs: Int
    let warmup: Int
    let timings: Timings
    let peakRSSMB: Double
    let stream: StreamReport?

    var text: String {
        let format = { (value: Double) in String(format: "%.3f", value) }
        var lines = [
            "\(model): \(runs) runs on \(threads) thread\(threads == 1 ? "" : "s") after \(warmup) warm-up",
            "median \(format(timings.medianMS)) ms, p90 \(format(timings.p90MS)) ms, min \(format(timings.minMS)) ms",
            "peak RSS \(String(format: "%.1f", peakRSSMB)) MB",
        ]
        if let stream {
            lines.append(
                "streaming pass over \(stream.bytes) bytes: median \(format(stream.timings.medianMS)) ms, "
                    + "\(String(format: "%.1f", stream.gigabytesPerSecond)) GB/s")
        }
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func encode(to encoder: any Encoder) throws {
        try timings.encode(to: encoder)
        try stream?.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(threads, forKey: .threads)
        try container.encode(runs, forKey: .runs)
        try container.encode(warmup, forKey: .warmup)
        try container.encode(peakRSSMB, forKey: .peakRSSMB)
    }

    enum CodingKeys: String, CodingKey {
        case model, threads, runs, warmup, peakRSSMB = "peak_rss_mb"
    }
}

/// Seeded random tensors of an input's declared type and shape.
enum RandomTensor {
    static func make(for input: ValueInfo, using generator: inout SplitMix64) throws -> Tensor {
        guard case .tensor(let dataType, let dimensions?)? = input.type else {
            throw CLIFailure("input '\(input.name)' has no declared tensor type and shape: give --input \(input.name)=FILE")
        }
        let shape = try dimensions.map { dimension -> Int in
            guard case .value(let extent) = dimension, extent >= 0 else {
                throw CLIFailure(
                    "input '\(input.name)' has shape \(dimensions) with a dimension that is not a number: "
                        + "give --input \(input.name)=FILE")
            }
            return extent
        }
        guard let numeric = dataType.elementType as? any NumericElement.Type else {
            throw CLIFailure("input '\(input.name)' is \(dataType): give --input \(input.name)=FILE")
        }
        return fill(numeric, shape: shape, floating: dataType.isFloatingPoint, using: &generator)
    }

    private static func fill<T: NumericElement>(
        _: T.Type, shape: [Int], floating: Bool, using generator: inout SplitMix64
    ) -> Tensor {
        let count = shape.reduce(1, *)
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                let unit = Double(generator.next() >> 11) / Double(1 << 53)
                buffer.initializeElement(at: index, to: T(converting: floating ? 2 * unit - 1 : (10 * unit).rounded(.down)))
            }
            initialized = count
        }
        return Tensor(shape: shape, elements: values)
    }
}

/// SplitMix64: a small, fast, seedable generator.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A plain read-and-write pass over a tensor's bytes: the yardstick for memory-bound kernels.
enum StreamingPass {
    /// A fresh copy of `tensor`'s bytes, copied in contiguous slices on up to `threads` threads.
    static func copy(_ tensor: Tensor, threads: Int) -> [UInt8] {
        tensor.withUnsafeRawBytes { source in
            [UInt8](unsafeUninitializedCapacity: source.count) { target, initialized in
                let slices = min(threads, max(1, source.count / 65_536))
                let (from, to) = (SendablePointer(source.baseAddress), SendablePointer(target.baseAddress))
                let count = source.count
                DispatchQueue.concurrentPerform(iterations: slices) { slice in
                    let range = count * slice / slices..<count * (slice + 1) / slices
                    guard let from = from.address, let to = to.address, !range.isEmpty else { return }
                    UnsafeMutableRawPointer(to + range.lowerBound).copyMemory(from: from + range.lowerBound, byteCount: range.count)
                }
                initialized = count
            }
        }
    }

    /// An address the slices of one copy share; each writes its own range.
    private struct SendablePointer<Pointer>: @unchecked Sendable {
        let address: Pointer?
        init(_ address: Pointer?) { self.address = address }
    }
}
