import Foundation
import Onyx
import XCTest

/// README's "Using Onyx as a library" example compiles and runs: the code between the markers below is the
/// README's, which the second test checks word for word.
final class ReadmeExampleTests: XCTestCase {
    override func setUp() {
        // The example names the model relative to the package root, as a reader runs it.
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(packageRoot))
    }

    func testLibraryExampleRuns() throws {
        // README example begin
        // Load and plan the model once; a session then runs any number of times, from any thread.
        let session = try Session(contentsOf: "Models/digits-gn/model.onnx")

        // Inputs are tensors by name, made from Swift arrays in row-major order.
        let image = Tensor(shape: [1, 1, 8, 8], elements: [Float](repeating: 0.5, count: 64))
        let outputs = try session.run(["input": image])

        // Outputs come back by name; read a tensor's elements back as a Swift array.
        let probabilities = outputs["probabilities"]!.elements(as: Float.self)
        print(probabilities.firstIndex(of: probabilities.max()!)!)
        // README example end
        XCTAssertEqual(probabilities.count, 10)
        XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
    }

    func testReadmeShowsTheExampleAsTested() throws {
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let section = try XCTUnwrap(readme.range(of: "## Using Onyx as a library"), "README lacks the library section")
        let block = try XCTUnwrap(readme[section.upperBound...].components(separatedBy: "```swift\n").dropFirst().first)
        let code = block.components(separatedBy: "```")[0]
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let marked = source.components(separatedBy: "// README example begin\n")[1].components(separatedBy: "        // README example end")[0]
        let dedented = marked.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }.joined(separator: "\n")
        XCTAssertEqual(code, "import Onyx\n\n" + dedented)
    }
}
