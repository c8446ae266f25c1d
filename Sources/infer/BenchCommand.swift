import ArgumentParser
import Dispatch
import Foundation
import Onyx

struct BenchCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a model's runs: median, 90th percentile, fastest, throughput and the peak memory.",
        discussion: """
            The session is made once; then --warmup untimed runs and --runs timed ones on the same inputs. Inputs are \
            given as for `infer run`; inputs not given are @random (seeded values of the declared type and shape).

            With --stream, each timed run is followed by a plain streaming pass: the inputs copied into fresh \
            buffers on --threads threads, the least work a kernel that reads its input and writes an output of \
            the same size can do. Its time gives the memory bandwidth the model's time compares with.

            \(exitCodesHelp)

            Examples:
              infer bench model.onnx --threads 2 --runs 50
              infer bench model.onnx --input x=x.npy --json
              infer bench Models/unet-gn/op21/model.onnx --lower GroupNormalization --stream
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @OptionGroup var inputOptions: InputOptions

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @Option(help: "Timed runs.")
    var runs: Int = 20

    @Option(help: "Untimed runs before the timed ones.")
    var warmup: Int = 3

    @Flag(help: "Also time a streaming pass (a copy of the inputs) after each run.")
    var stream = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative") }
    }

    func run() throws {
        let session = try graphOptions.session(model, threads: threads, kernels: kernelOptions)
        let feeds = try inputOptions.feeds(for: session, randomizeMissing: true)
        let streamed = stream ? feeds.values.compactMap(\.tensor) : []
        for _ in 0..<warmup {
            _ = try session.run(feeds)
            for tensor in streamed { _ = StreamingPass.copy(tensor, threads: threads) }
        }
        var times: [Double] = []
        var streamTimes: [Double] = []
        // A bar on a terminal only: piped output stays just the report.
        let progress = isatty(STDERR_FILENO) == 1 ? ProgressReporter(total: runs) : nil
        defer { progress?.finish() }
        for run in 0..<runs {
            defer { progress?.advance("run \(run + 1)") }
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
                    bytes: streamed.reduce(0) { $0 + $1.count * $1.dataType.storageSize }, timings: Timings(streamTimes)
                )
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
        case medianMS = "median_ms"
        case p90MS = "p90_ms"
        case minMS = "min_ms"
        case meanMS = "mean_ms"
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
        case bytes = "stream_bytes"
        case medianMS = "stream_median_ms"
        case minMS = "stream_min_ms"
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

    /// Runs per second at the median latency (one run at a time).
    var throughputPerSecond: Double { 1000 / timings.medianMS }

    var text: String {
        let format = { (value: Double) in String(format: "%.3f", value) }
        var lines = [
            "\(model): \(runs) runs on \(threads) thread\(threads == 1 ? "" : "s") after \(warmup) warm-up",
            "median \(format(timings.medianMS)) ms, p90 \(format(timings.p90MS)) ms, min \(format(timings.minMS)) ms",
            "throughput \(String(format: "%.1f", throughputPerSecond)) runs/s",
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
        try container.encode(throughputPerSecond, forKey: .throughputPerSecond)
    }

    enum CodingKeys: String, CodingKey {
        case model, threads, runs, warmup
        case peakRSSMB = "peak_rss_mb"
        case throughputPerSecond = "throughput_per_s"
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
                    UnsafeMutableRawPointer(to + range.lowerBound).copyMemory(
                        from: from + range.lowerBound, byteCount: range.count)
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
