import ArgumentParser
import Foundation
import Onyx

struct RunCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on input tensors; print, save or check its outputs.",
        discussion: """
            Inputs: --input NAME=FILE with a .npy or ONNX TensorProto .pb file; --input FILE.npz for several \
            inputs in one file (arrays named as inputs, or arr_N for the Nth input); --input NAME=@random for \
            seeded random values of the declared type and shape (floats uniform in [-1, 1), integers 0 to 9; \
            symbolic dimensions need --dim). --dim NAME=VALUE sets a symbolic dimension, and inputs must agree with it.

            Outputs: each is printed with its name, type, shape and first values. With --output-dir they are written \
            as DIR/<name>.npy (--output-format pb: DIR/<name>.pb; npz: DIR/outputs.npz); characters outside \
            [A-Za-z0-9._-] in file names become _.

            --compare-to checks every output against an expected one, from a folder holding <name>.npy, <name>.pb \
            or output_N.pb (as in ONNX test data sets), or from an .npz. It prints `match NAME` or \
            `mismatch NAME: reason` per output and exits 1 on any mismatch. A float matches when \
            |actual - expected| <= atol + rtol * |expected|; integers, bools and strings must be equal.

            Batch mode (--batch DIR) runs every input set in DIR, in name order. An input set is: a subfolder \
            holding one file per input (<name>.npy, <name>.pb or input_N.pb) or one .npz; or an .npz file; or, for \
            a one-input model, a .npy or .pb file. Each set prints its outputs as `SET NAME: value`, or with \
            --compare-to (expected outputs in DIR2/<set>/ or DIR2/<set>.npz) `pass SET` or `fail SET: reason`; a \
            set whose inputs are bad fails alone. Outputs go to OUT/<set>/ (npz: OUT/<set>.npz). The run closes \
            with `N passed, M failed`. A progress bar shows on a terminal; when stderr is not one, a line per set.

            \(exitCodesHelp)

            Examples:
              infer run model.onnx --input x=x.npy --output-dir out --threads 2
              infer run model.onnx --input inputs.npz --output-dir out --output-format npz
              infer run model.onnx --input inputs.npz --compare-to expected.npz --rtol 1e-4
              infer run model.onnx --input x=@random --dim batch=8 --seed 7
              infer run model.onnx --batch test_data/ --compare-to test_data/
              infer run model.onnx --input x.npy --kernels ./libmykernels.so
            """)

    @Argument(help: "The .onnx model file.")
    var model: String

    @OptionGroup var inputOptions: InputOptions

    @Option(help: ArgumentHelp("Run every input set in DIR instead of --input (see above).", valueName: "DIR"))
    var batch: String?

    @Option(help: "Folder to write the outputs to.")
    var outputDir: String?

    @Option(help: "File format of --output-dir: npy (the default), pb or npz.")
    var outputFormat: OutputFormat?

    @Option(help: ArgumentHelp("Expected outputs: a folder or an .npz file (see above).", valueName: "DIR_OR_NPZ"))
    var compareTo: String?

    @Option(help: "Relative tolerance of --compare-to.")
    var rtol: Double = Conformance.relativeTolerance

    @Option(help: "Absolute tolerance of --compare-to.")
    var atol: Double = Conformance.absoluteTolerance

    @Option(help: "Threads kernels may use.")
    var threads: Int = 1

    @OptionGroup var kernelOptions: KernelOptions

    @OptionGroup var graphOptions: GraphOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard rtol >= 0, atol >= 0 else { throw ValidationError("--rtol and --atol must not be negative") }
        if outputFormat != nil && outputDir == nil { throw ValidationError("--output-format needs --output-dir") }
        if batch != nil && !inputOptions.inputs.isEmpty {
            throw ValidationError("--batch takes the inputs from its folder; leave out --input")
        }
    }

    func run() throws {
        let session = try graphOptions.session(model, threads: threads, kernels: kernelOptions)
        let writer = outputDir.map { OutputWriter(folder: $0, format: outputFormat ?? .npy) }
        if let batch {
            let run = BatchRun(
                session: session, folder: batch, dimensions: try inputOptions.dimensions(), seed: inputOptions.seed,
                writer: writer, compareTo: compareTo, relativeTolerance: rtol, absoluteTolerance: atol)
            if try !run.run() { throw ExitCode.failure }
            return
        }
        let expected = try compareTo.map(ExpectedOutputs.init(path:))
        let outputs = try session.runOrdered(inputOptions.feeds(for: session))
        for (info, value) in zip(session.outputs, outputs) { print("\(info.name): \(value)") }
        try writer?.write(Array(zip(session.outputs.map(\.name), outputs)))
        guard let expected else { return }
        let mismatches = expected.mismatches(
            outputs, of: session.outputs, relativeTolerance: rtol, absoluteTolerance: atol)
        for (info, mismatch) in zip(session.outputs, mismatches) {
            print(mismatch.map { "mismatch \(info.name): \($0)" } ?? "match \(info.name)")
        }
        if mismatches.contains(where: { $0 != nil }) { throw ExitCode.failure }
    }
}
