import Foundation
import XCTest

/// Runs the regenerated ONNX backend node tests and the model-zoo cases through `infer check` (the release
/// binary from `ONYX_INFER` when set, as tools/test does) and holds them to the ratchet: every case in
/// ratchet.txt must pass, every other case must be listed in known-failures.txt with its reason.
final class NodeSuiteTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    private static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

    func testNodeSuiteHoldsTheRatchet() throws {
        let suites = [".conformance/node", ".conformance/light"].map { Self.root + "/" + $0 }
        for suite in suites where !FileManager.default.fileExists(atPath: suite) {
            XCTFail("\(suite) is missing: run tools/gen-conformance and tools/gen-light-cases (tools/test does)")
            return
        }
        let results = try runCheck(suites)
        let ratchet = try lines(of: "ratchet.txt")
        let knownFailures = try Dictionary(
            lines(of: "known-failures.txt").map { line -> (String, String) in
                let parts = line.split(separator: ":", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
            }, uniquingKeysWith: { first, _ in first })
        for (name, reason) in knownFailures.sorted(by: { $0.key < $1.key }) {
            XCTAssertFalse(reason.isEmpty, "known failure \(name) is listed without its reason")
            if results[name] == nil { XCTFail("known failure \(name) was not run") }
        }
        XCTAssertTrue(Set(ratchet).isDisjoint(with: knownFailures.keys), "a case is both ratcheted and a known failure")

        for name in ratchet {
            guard let result = results[name] else {
                XCTFail("ratchet case \(name) was not run")
                continue
            }
            if let reason = result { XCTFail("ratchet case \(name) no longer passes: \(reason)") }
        }
        for (name, result) in results.sorted(by: { $0.key < $1.key }) {
            if let reason = result, knownFailures[name] == nil {
                XCTFail("\(name) fails and is not listed in known-failures.txt: \(reason)")
            }
            if result == nil && !ratchet.contains(name) {
                print("newly passing (add it to ratchet.txt with tools/update-ratchet): \(name)")
            }
        }
        let unaccounted = Set(results.keys).subtracting(ratchet).subtracting(knownFailures.keys)
        XCTAssertTrue(unaccounted.isEmpty, "cases in neither list: \(unaccounted.sorted())")
        let passed = results.values.filter { $0 == nil }.count
        print("conformance: \(passed) of \(results.count) cases pass (\(ratchet.count) in the ratchet)")
    }

    /// Case name → nil when it passed, or its failure reason.
    private func runCheck(_ suites: [String]) throws -> [String: String?] {
        let process = Process()
        let environment = ProcessInfo.processInfo.environment
        let infer =
            environment["ONYX_INFER"]
            ?? Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("infer").path
        process.executableURL = URL(fileURLWithPath: infer)
        process.arguments = ["check", "--timeout", "300"] + suites
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // 0: every case passed; 1: some failed. Anything else means the run itself broke.
        XCTAssertTrue(
            [0, 1].contains(process.terminationStatus), "infer check exited with \(process.terminationStatus)")
        var results: [String: String?] = [:]
        for line in output.split(separator: "\n") {
            if line.hasPrefix("pass ") {
                results[String(line.dropFirst(5))] = .some(nil)
            } else if line.hasPrefix("fail ") {
                guard let colon = line.firstIndex(of: ":") else {
                    results[String(line.dropFirst(5))] = .some("no reason given: \(line)")
                    continue
                }
                let name = String(line[line.index(line.startIndex, offsetBy: 5)..<colon])
                results[name] = .some(String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            }
        }
        XCTAssertFalse(results.isEmpty, "infer check printed no results: \(output.suffix(500))")
        return results
    }

    private func lines(of file: String) throws -> [String] {
        try String(contentsOfFile: Self.here + "/" + file, encoding: .utf8).split(separator: "\n")
            .map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }
}
