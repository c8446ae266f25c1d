import ArgumentParser
import Onyx

/// `--kernels`: kernel plug-in libraries to load next to the built-in kernels.
struct KernelOptions: ParsableArguments {
    @Option(
        name: .customLong("kernels"),
        help: ArgumentHelp(
            "A kernel plug-in (a shared library built against onyx_plugin.h, see docs/custom-kernels.md) whose "
                + "kernels to add; repeatable.",
            valueName: "LIBRARY"))
    var plugins: [String] = []

    /// The built-in kernels plus every plug-in's.
    func registry() throws -> KernelRegistry {
        var registry = KernelRegistry.standard
        for path in plugins { try registry.loadPlugin(at: path) }
        return registry
    }

    /// The same options as arguments for a child `infer` process.
    var arguments: [String] {
        plugins.flatMap { ["--kernels", $0] }
    }
}
