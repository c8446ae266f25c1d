import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// StringConcat, StringSplit, RegexFullMatch and StringNormalizer.
final class StringsTests: XCTestCase {
    func testStringConcatBroadcasts() throws {
        let x = Tensor(shape: [2, 1], elements: ["a", "é"])
        let y = Tensor(shape: [2], elements: ["1", ""])
        let z = try run("StringConcat", [.tensor(x), .tensor(y)])[0]
        XCTAssertEqual(z, Tensor(shape: [2, 2], elements: ["a1", "a", "é1", "é"]))
        XCTAssertThrowsError(
            try run("StringConcat", [.tensor(x), .tensor(Tensor(shape: [3, 1], elements: ["", "", ""]))]))
        XCTAssertThrowsError(try run("StringConcat", [.tensor(x), .tensor(Tensor(scalar: Float(1)))]))
    }

    func testStringSplitOnADelimiterKeepsEmptyPieces() throws {
        let input = Tensor(shape: [2], elements: ["a--b-", "c"])
        let outputs = try run("StringSplit", [.tensor(input)], attributes: ["delimiter": .string(Array("-".utf8))])
        XCTAssertEqual(outputs[0], Tensor(shape: [2, 4], elements: ["a", "", "b", "", "c", "", "", ""]))
        XCTAssertEqual(outputs[1], Tensor(shape: [2], elements: [Int64(4), 1]))
    }

    func testStringSplitOnWhitespaceWithMaxsplit() throws {
        let input = Tensor(shape: [3], elements: ["  one two  three ", "", "x"])
        let outputs = try run("StringSplit", [.tensor(input)], attributes: ["maxsplit": .int(1)])
        XCTAssertEqual(outputs[0], Tensor(shape: [3, 2], elements: ["one", "two  three ", "", "", "x", ""]))
        XCTAssertEqual(outputs[1], Tensor(shape: [3], elements: [Int64(2), 0, 1]))
        let empty = try run("StringSplit", [.tensor(Tensor(shape: [0], elements: [String]()))])
        XCTAssertEqual(empty[0].shape, [0, 0])
        XCTAssertThrowsError(try run("StringSplit", [.tensor(input)], attributes: ["maxsplit": .int(-1)]))
    }

    func testRegexFullMatchUsesSimpleWordBoundaries() throws {
        let input = Tensor(shape: [3], elements: ["www.google.com", "www.google.com.au", "google.com"])
        let pattern = AttributeValue.string(Array(#"www\.[\w.-]+\.\bcom\b"#.utf8))
        let matches = try run("RegexFullMatch", [.tensor(input)], attributes: ["pattern": pattern])[0]
        XCTAssertEqual(matches, Tensor(shape: [3], elements: [true, false, false]))
        let word = AttributeValue.string(Array(#"\w+"#.utf8))
        let ascii = try run(
            "RegexFullMatch", [.tensor(Tensor(shape: [2], elements: ["abc_1", "é"]))], attributes: ["pattern": word])
        XCTAssertEqual(ascii[0], Tensor(shape: [2], elements: [true, false]))
        XCTAssertThrowsError(
            try run("RegexFullMatch", [.tensor(input)], attributes: ["pattern": .string(Array("(".utf8))]))
        XCTAssertThrowsError(try run("RegexFullMatch", [.tensor(input)]))
    }

    func testStringNormalizerDropsStopwordsAndChangesCase() throws {
        let input = Tensor(shape: [1, 4], elements: ["Monday", "tuesday", "monday", "Straße"])
        let stopwords = AttributeValue.strings([Array("monday".utf8)])
        let insensitive = try run(
            "StringNormalizer", [.tensor(input)],
            attributes: ["stopwords": stopwords, "case_change_action": .string(Array("UPPER".utf8))])[0]
        XCTAssertEqual(insensitive, Tensor(shape: [1, 2], elements: ["TUESDAY", "STRASSE"]))
        let sensitive = try run(
            "StringNormalizer", [.tensor(input)], attributes: ["stopwords": stopwords, "is_case_sensitive": .int(1)])[0]
        XCTAssertEqual(sensitive, Tensor(shape: [1, 3], elements: ["Monday", "tuesday", "Straße"]))
        let emptied = try run(
            "StringNormalizer", [.tensor(Tensor(shape: [1], elements: ["MONDAY"]))],
            attributes: ["stopwords": stopwords])[0]
        XCTAssertEqual(emptied, Tensor(shape: [1], elements: [""]))
        XCTAssertThrowsError(try run("StringNormalizer", [.tensor(Tensor(shape: [2, 1], elements: ["a", "b"]))]))
        XCTAssertThrowsError(
            try run(
                "StringNormalizer", [.tensor(input)], attributes: ["case_change_action": .string(Array("TITLE".utf8))]))
    }

    // MARK: - Helpers

    private func run(_ op: String, _ inputs: [Value?], attributes: [String: AttributeValue] = [:]) throws -> [Tensor] {
        let node = KernelNode(opType: op, opsetVersion: 20, attributes: attributes, outputCount: 2)
        return try KernelRegistry.standard.evaluate(node, inputs: inputs).map { value in
            guard let tensor = value.tensor else { throw KernelError.invalidInput("\(op) returned a non-tensor") }
            return tensor
        }
    }
}
