import Foundation

/// Runs the `infer` executable that `swift test` built next to the test bundle (or `ONYX_INFER`).
struct InferProcess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var executable: String {
        if let path = ProcessInfo.processInfo.environment["ONYX_INFER"] { return path }
        return Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("infer").path
    }

    static func run(_ arguments: [String]) throws -> Result {
        try launch(executable, arguments)
    }

    /// Runs another program, found on PATH, from the package root.
    static func runTool(_ tool: String, _ arguments: [String]) throws -> Result {
        try launch("/usr/bin/env", [tool] + arguments)
    }

    private static func launch(_ executable: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a full pipe cannot block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
