import Foundation
import XCTest

/// `--kernels`: a plug-in built from C against onyx_plugin.h adds a custom-domain op to `run` and `check`.
final class PluginTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-plugin-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Builds Tests/Fixtures/plugin/NAME.c into a shared library in the temporary folder.
    private func build(_ name: String) throws -> String {
        let library = "\(folder)/lib\(name).so"
        let cc = try InferProcess.runTool(
            "cc", ["-shared", "-fPIC", "-Wall", "-Werror", "-I", "Sources/COnyxPlugin/include", "Tests/Fixtures/plugin/\(name).c", "-o", library])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        return library
    }

    func testRunLoadsThePluginsKernel() throws {
        let plugin = try build("scale_shift")
        let input = ["--input", "x=Tests/Fixtures/add_one_input.pb"]
        let result = try InferProcess.run(["run", "Tests/Fixtures/plugin_op.onnx", "--kernels", plugin] + input)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "y: float [2, 3]: [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]\n")
        let without = try InferProcess.run(["run", "Tests/Fixtures/plugin_op.onnx"] + input)
        XCTAssertEqual(without.stderr, "error: no kernel for 1 node: ScaleShift (domain com.example, opset 1, node 'scale_shift')\n")
    }

    func testCheckPassesThePluginToItsWorkers() throws {
        let plugin = try build("scale_shift")
        let set = "\(folder)/scale_shift/test_data_set_0"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
        let fixtures = InferProcess.packageRoot + "/Tests/Fixtures/"
        try FileManager.default.copyItem(atPath: fixtures + "plugin_op.onnx", toPath: "\(folder)/scale_shift/model.onnx")
        try FileManager.default.copyItem(atPath: fixtures + "add_one_input.pb", toPath: "\(set)/input_0.pb")
        try FileManager.default.copyItem(atPath: fixtures + "plugin_op_output.pb", toPath: "\(set)/output_0.pb")
        let result = try InferProcess.run(["check", folder, "--kernels", plugin])
        XCTAssertEqual(result.stdout, "pass scale_shift\n1 passed, 0 failed\n", result.stderr)
        XCTAssertEqual(result.status, 0)
    }

    func testLoadAndKernelFailuresAreOneLineErrors() throws {
        let model = ["run", "Tests/Fixtures/plugin_op.onnx", "--input", "x=Tests/Fixtures/add_one_input.pb", "--kernels"]
        let cases: [(arguments: [String], message: String)] = [
            (model + ["\(folder)/libmissing.so"], "cannot load kernel plug-in \(folder)/libmissing.so: no such file"),
            (model + [try build("not_a_plugin")],
             "\(folder)/libnot_a_plugin.so is not an Onyx kernel plug-in: it does not export onyx_plugin_abi_version (see onyx_plugin.h)"),
            (model + [try build("wrong_abi")],
             "\(folder)/libwrong_abi.so was built for plug-in ABI version 999, this Onyx has version 1; rebuild it against this onyx_plugin.h"),
            (model + [try build("bad_registration")],
             "kernel plug-in \(folder)/libbad_registration.so: register_kernel refused op 'ScaleShift': it needs a domain, "
                + "an op type, since_version ≥ 1 and a compute function"),
            (["run", "Tests/Fixtures/plugin_op_no_scale.onnx", "--input", "x=Tests/Fixtures/add_one_input.pb", "--kernels", try build("scale_shift")],
             "node 'scale_shift' (ScaleShift, domain com.example): ScaleShift needs a float attribute 'scale'"),
            (model + [try build("misbehaving")],
             "node 'scale_shift' (ScaleShift, domain com.example): allocate_output(0): element type 8 is not a plain-data ONNX type"),
        ]
        for (arguments, message) in cases {
            let result = try InferProcess.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertEqual(result.stderr, "error: \(message)\n")
        }
    }
}
