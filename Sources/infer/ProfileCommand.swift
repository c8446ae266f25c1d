import ArgumentParser
import Dispatch
import Foundation
import Onyx

struct ProfileCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Time every node of a model: tables by op type and by node, and a Chrome trace.",
        discussion: """
            Runs the model --warmup times untimed, then --runs times with every node timed. Prints the mean time \
            per run, a table of op types (nodes, time per run, share) and one of nodes (op, time per run, share), \
            both sorted by cost; --top limits the node table. Times are in ms, or µs when a run takes under 1 ms. Inputs are given as for `infer run`; inputs not given are \
            @random. Control-flow bodies (If, Loop, Scan) are timed as their node.

            --trace FILE.json writes every timed node as a Chrome trace event ("ph": "X", times in microseconds, \
            one run after another), which Perfetto (ui.perfetto.dev) and chrome://tracing open.

            \(exitCodesHelp)

            Examples:
              infer profile Models/digits-gn/model.onnx --dim batch=4
              infer profile model.onnx --runs 20 --threads 2 --trace trace.json
              infer profile model.onnx --input x=x.npy --top 0
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @OptionGroup var inputOptions: InputOptions

    @Option(help: "Timed runs.")
    var runs: Int = 10

    @Option(help: "Untimed runs before the timed ones.")
    var warmup: Int = 1

    @Option(help: "Rows of the node table (0 for every node).")
    var top: Int = 20

    @Option(help: ArgumentHelp("Write a Chrome trace-event JSON file of the timed runs.", valueName: "FILE.json"))
    var trace: String?

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard warmup >= 0, top >= 0 else { throw ValidationError("--warmup and --top must not be negative") }
    }

    func run() throws {
        let session = try graphOptions.session(model, threads: threads, kernels: kernelOptions)
        let feeds = try inputOptions.feeds(for: session, randomizeMissing: true)
        for _ in 0..<warmup { _ = try session.runOrdered(feeds) }
        let recorder = NodeTimeRecorder()
        for run in 0..<runs {
            recorder.beginRun(run)
            _ = try session.runOrdered(feeds, observer: recorder)
            recorder.endRun()
        }
        print(ProfileTables(recorder: recorder, runs: runs, threads: threads, top: top).text)
        if let trace {
            let data = try recorder.traceJSON()
            guard FileManager.default.createFile(atPath: trace, contents: data) else {
                throw CLIFailure("cannot write \(trace)")
            }
        }
    }
}

/// Records when each node ran, through the session's ``NodeObserver`` hook.
final class NodeTimeRecorder: NodeObserver {
    struct Event {
        let node: Node
        let run: Int
        /// Nanoseconds since the first run began.
        let start: UInt64
        let duration: UInt64
    }

    private(set) var events: [Event] = []
    /// Each run's span, in nanoseconds since the first run began.
    private(set) var runSpans: [(start: UInt64, duration: UInt64)] = []
    private let origin = DispatchTime.now().uptimeNanoseconds
    private var run = 0
    private var runStart: UInt64 = 0

    func beginRun(_ run: Int) {
        self.run = run
        runStart = DispatchTime.now().uptimeNanoseconds
    }

    func endRun() {
        runSpans.append((runStart - origin, DispatchTime.now().uptimeNanoseconds - runStart))
    }

    func nodeFinished(_ node: Node, nanoseconds: UInt64) {
        let end = DispatchTime.now().uptimeNanoseconds
        events.append(Event(node: node, run: run, start: end - nanoseconds - origin, duration: nanoseconds))
    }

    /// The events in the Chrome trace-event format: one complete ("X") event per run and per node.
    func traceJSON() throws -> Data {
        var trace = [TraceEvent(name: "process_name", ph: "M", pid: 1, tid: 1, args: .init(name: "infer profile"))]
        for (run, span) in runSpans.enumerated() {
            trace.append(TraceEvent(
                name: "run \(run)", cat: "session", ph: "X", ts: Self.microseconds(span.start),
                dur: Self.microseconds(span.duration), pid: 1, tid: 1, args: .init(run: run)))
        }
        for event in events {
            trace.append(TraceEvent(
                name: event.node.displayName, cat: event.node.opType, ph: "X", ts: Self.microseconds(event.start),
                dur: Self.microseconds(event.duration), pid: 1, tid: 1,
                args: .init(
                    run: event.run, opType: event.node.opType, domain: event.node.domain.isEmpty ? "ai.onnx" : event.node.domain,
                    inputs: event.node.inputs, outputs: event.node.outputs)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(["traceEvents": trace])
    }

    private static func microseconds(_ nanoseconds: UInt64) -> Double {
        Double(nanoseconds) / 1000
    }
}

/// One entry of a Chrome trace (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU).
struct TraceEvent: Encodable {
    struct Arguments: Encodable {
        var name: String?
        var run: Int?
        var opType: String?
        var domain: String?
        var inputs: [String]?
        var outputs: [String]?

        enum CodingKeys: String, CodingKey {
            case name, run, opType = "op_type", domain, inputs, outputs
        }
    }

    var name: String
    var cat: String? = nil
    /// "X" for a complete event (ts and dur set), "M" for metadata such as the process name.
    var ph: String
    /// Start and duration in microseconds.
    var ts: Double? = nil
    var dur: Double? = nil
    var pid: Int
    var tid: Int
    var args: Arguments
}

/// The two tables `infer profile` prints.
struct ProfileTables {
    let recorder: NodeTimeRecorder
    let runs: Int
    let threads: Int
    let top: Int

    var text: String {
        let runMilliseconds = recorder.runSpans.reduce(0.0) { $0 + Double($1.duration) } / Double(runs) / 1e6
        var nodes: [(name: String, op: String, nanoseconds: UInt64)] = []
        var nodeIndex: [String: Int] = [:]
        for event in recorder.events {
            let name = event.node.displayName
            if let index = nodeIndex[name] {
                nodes[index].nanoseconds += event.duration
            } else {
                nodeIndex[name] = nodes.count
                let op = event.node.domain.isEmpty ? event.node.opType : "\(event.node.opType)(\(event.node.domain))"
                nodes.append((name, op, event.duration))
            }
        }
        nodes.sort { ($1.nanoseconds, $0.name) < ($0.nanoseconds, $1.name) }
        var perOp: [String: (nodes: Int, nanoseconds: UInt64)] = [:]
        for node in nodes {
            perOp[node.op, default: (0, 0)].nodes += 1
            perOp[node.op, default: (0, 0)].nanoseconds += node.nanoseconds
        }
        let ops = perOp.sorted { ($1.value.nanoseconds, $0.key) < ($0.value.nanoseconds, $1.key) }
        let nodeTotal = Double(nodes.reduce(0) { $0 + $1.nanoseconds })
        // Microseconds for models that run in under a millisecond, so that their nodes do not all read 0.000.
        let (unit, scale) = runMilliseconds < 1 ? ("µs/run", 1e3) : ("ms/run", 1e6)
        func perRun(_ nanoseconds: UInt64) -> String { String(format: "%.3f", Double(nanoseconds) / Double(runs) / scale) }
        func share(_ nanoseconds: UInt64) -> String {
            String(format: "%.1f", nodeTotal > 0 ? 100 * Double(nanoseconds) / nodeTotal : 0)
        }
        var lines = [
            "\(runs) run\(runs == 1 ? "" : "s") on \(threads) thread\(threads == 1 ? "" : "s"): "
                + String(format: "%.3f", runMilliseconds) + " ms per run, of which nodes "
                + String(format: "%.3f", nodeTotal / Double(runs) / 1e6) + " ms",
            "",
        ]
        lines += Self.table(
            header: ["op type", "nodes", unit, "%"], leftAligned: 1,
            rows: ops.map { [$0.key, String($0.value.nodes), perRun($0.value.nanoseconds), share($0.value.nanoseconds)] })
        lines.append("")
        let shown = top == 0 ? nodes[...] : nodes.prefix(top)
        lines += Self.table(
            header: ["node", "op", unit, "%"], leftAligned: 2,
            rows: shown.map { [$0.name, $0.op, perRun($0.nanoseconds), share($0.nanoseconds)] })
        if shown.count < nodes.count {
            lines.append("… \(nodes.count - shown.count) more nodes (--top 0 shows all)")
        }
        return lines.joined(separator: "\n")
    }

    /// Rows in columns: the first `leftAligned` ones left-aligned, the rest right-aligned.
    private static func table(header: [String], leftAligned: Int, rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < leftAligned ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
