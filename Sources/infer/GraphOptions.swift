import ArgumentParser
import Onyx

/// `--lower` and `--no-fusion`: how `run`, `check` and `inspect --optimized` rewrite a model's graph.
struct GraphOptions: ParsableArguments {
    @Option(
        name: .customLong("lower"),
        help: ArgumentHelp(
            "Rewrite an op type into primitive ops instead of running its kernel; repeatable. One of: "
                + GraphPasses.lowerableOperators.joined(separator: ", ") + ".",
            valueName: "OP"))
    var lowering: [String] = []

    @Flag(help: "Keep decomposed patterns (such as GroupNormalization spelled in primitive ops) as they are.")
    var noFusion = false

    func validate() throws {
        for op in lowering where !GraphPasses.lowerableOperators.contains(op) {
            throw ValidationError(
                "--lower \(op): ops that can be lowered are \(GraphPasses.lowerableOperators.joined(separator: ", "))")
        }
    }

    func sessionOptions(threads: Int = 1, registry: KernelRegistry) -> SessionOptions {
        SessionOptions(threads: threads, registry: registry, lowering: Set(lowering), fusion: !noFusion)
    }

    /// `model` loaded into a session with these passes, `threads` and the kernels `kernels` adds.
    func session(_ model: String, threads: Int, kernels: KernelOptions) throws -> Session {
        try Session(contentsOf: model, options: sessionOptions(threads: threads, registry: kernels.registry()))
    }

    /// The same options as arguments for a child `infer` process.
    var arguments: [String] {
        lowering.flatMap { ["--lower", $0] } + (noFusion ? ["--no-fusion"] : [])
    }
}
