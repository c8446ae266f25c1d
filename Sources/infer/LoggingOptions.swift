import ArgumentParser
import Logging

/// `--verbose`: debug logging to stderr through swift-log.
struct LoggingOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log load, pass and plan timings, what each pass changed and each node's kernel to stderr.")
    var verbose = false

    /// Sends every logger's messages to stderr: debug and up when `verbose`, warnings and up otherwise.
    /// Call once, before any `Logger` is made.
    static func bootstrap(verbose: Bool) {
        let level: Logger.Level = verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// A command that takes `--verbose`; `Infer.main` bootstraps logging from it before running the command.
protocol LoggingCommand {
    var logging: LoggingOptions { get }
}
