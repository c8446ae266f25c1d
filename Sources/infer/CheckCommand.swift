import ArgumentParser
import Foundation
import Onyx

struct CheckCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run ONNX backend test cases and compare outputs as ONNX's runner does.",
        discussion: """
            Every folder under DIR that holds model.onnx and test_data_set_N/ is a case. Prints `pass NAME` or \
            `fail NAME: reason` per case and closes with `N passed, M failed`. Cases run in a worker process, so \
            a crash or a hang fails that case only. Tolerance: rtol 1e-3, atol 1e-7, NaN equals NaN, exact for \
            integers, bools and strings.

            \(exitCodesHelp) A failing case gives exit code 1.

            Examples:
              infer check .conformance/node
              infer check .conformance/node/test_group_norm* --lower GroupNormalization
              infer check my_cases/ --kernels ./libmykernels.so --threads 2
            """)

    @Argument(help: "Case folders, or folders containing them.")
    var paths: [String]

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @Option(help: "Seconds one case may take before it is failed as a hang.")
    var timeout: Double = 120

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    @Flag(help: .hidden)
    var worker = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let options = graphOptions.sessionOptions(threads: threads, registry: try kernelOptions.registry())
        if worker {
            for folder in paths {
                let name = (folder as NSString).lastPathComponent
                let reason = Conformance.run(caseFolder: folder, options: options)
                let line = reason.map { "fail \(name): " + $0.replacingOccurrences(of: "\n", with: " ") } ?? "pass \(name)"
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            return
        }
        let folders = Conformance.caseFolders(under: paths)
        guard !folders.isEmpty else { throw CLIFailure("no case folder (one holding model.onnx) under \(paths.joined(separator: " "))") }
        let supervisor = CaseSupervisor(
            threads: threads, timeout: timeout, workerArguments: graphOptions.arguments + kernelOptions.arguments)
        let results = try supervisor.run(folders) { print($0) }
        let failed = results.filter { !$0 }.count
        print("\(results.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode.failure }
    }
}

/// Runs cases in a child `infer check --worker` process, restarting it after a crash or a hang so that one
/// case can never stop the run.
struct CaseSupervisor {
    let threads: Int
    let timeout: Double
    /// `--lower`, `--no-fusion` and `--kernels` arguments the worker gets.
    var workerArguments: [String] = []

    /// Runs every folder; `report` gets each result line. Returns pass/fail per case in order.
    func run(_ folders: [String], report: (String) -> Void) throws -> [Bool] {
        var results: [Bool] = []
        var next = 0
        while next < folders.count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            process.arguments = ["check", "--worker", "--threads", String(threads)] + workerArguments + folders[next...]
            let pipe = Pipe()
            process.standardOutput = pipe
            let lines = LineReader(pipe.fileHandleForReading)
            try process.run()
            while next < folders.count {
                let name = (folders[next] as NSString).lastPathComponent
                switch lines.next(timeout: timeout) {
                case .line(let line):
                    report(line)
                    results.append(line.hasPrefix("pass "))
                    next += 1
                    continue
                case .timedOut:
                    process.terminate()
                    report("fail \(name): timed out after \(Int(timeout)) s")
                case .ended:
                    process.waitUntilExit()
                    report("fail \(name): the worker crashed (exit status \(process.terminationStatus))")
                }
                results.append(false)
                next += 1
                break
            }
            process.waitUntilExit()
        }
        return results
    }
}

/// Reads lines from a pipe on a background thread so the reader can wait with a timeout.
final class LineReader: @unchecked Sendable {
    enum Event { case line(String), timedOut, ended }

    private let lock = NSLock()
    private let available = DispatchSemaphore(value: 0)
    private var queue: [String?] = []

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    push(line)
                }
            }
            push(nil)
        }
    }

    private func push(_ line: String?) {
        lock.lock()
        queue.append(line)
        lock.unlock()
        available.signal()
    }

    func next(timeout: Double) -> Event {
        guard available.wait(timeout: .now() + timeout) == .success else { return .timedOut }
        lock.lock()
        defer { lock.unlock() }
        let line = queue.removeFirst()
        if line == nil {
            queue.insert(nil, at: 0)
            available.signal()
        }
        return line.map { .line($0) } ?? .ended
    }
}
