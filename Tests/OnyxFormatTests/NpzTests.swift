import Foundation
import OnyxCore
import XCTest

@testable import OnyxFormat

/// `.npz` archives: numpy's stored and deflated files, round trips, and refusals of broken archives.
final class NpzTests: XCTestCase {
    private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    func testReadsNumpySavezAndSavezCompressed() throws {
        let stored = try TensorFiles.readNpz(fixtures + "/symbolic_inputs.npz")
        XCTAssertEqual(stored.map(\.name), ["a", "b", "n"])
        XCTAssertEqual(stored[0].tensor, Tensor(shape: [2, 3], elements: [Float(0), 1, 2, 3, 4, 5]))
        XCTAssertEqual(stored[2].tensor, Tensor(shape: [2], elements: [Int64(4), 5]))
        let deflated = try TensorFiles.readNpz(fixtures + "/symbolic_inputs_compressed.npz")
        XCTAssertEqual(deflated.map(\.name), ["arr_0", "arr_1", "arr_2"])
        XCTAssertEqual(deflated[1].tensor, Tensor(shape: [2, 3], elements: [Float](repeating: 1, count: 6)))
    }

    func testRoundTrip() throws {
        let tensors: [(name: String, tensor: Tensor)] = [
            ("output:0", Tensor(shape: [2], elements: [Float(1.5), -2])),
            ("labels", Tensor(shape: [1], elements: ["héllo"])),
            ("empty", Tensor(shape: [0, 3], elements: [Int32]())),
        ]
        let decoded = try Npz.decode(try Npz.encode(tensors), source: "memory")
        XCTAssertEqual(decoded.map(\.name), tensors.map(\.name))
        for (got, want) in zip(decoded, tensors) { XCTAssertEqual(got.tensor, want.tensor) }
    }

    func testBrokenArchivesAreRefusedWithTheirReason() throws {
        let good = try Npz.encode([("x", Tensor(shape: [3], elements: [Float(1), 2, 3]))])
        var corrupted = good
        corrupted[60] ^= 0xFF  // a data byte: the CRC no longer matches
        // Method 9 (Deflate64) in the local header and the central directory entry ("PK\u{1}\u{2}", method at +10).
        var deflate64 = good
        deflate64[8] = 9
        let central = try XCTUnwrap((0..<good.count - 4).first { Array(good[$0..<$0 + 4]) == [0x50, 0x4B, 1, 2] })
        deflate64[central + 10] = 9
        let cases: [([UInt8], String)] = [
            (Array("not a zip file at all, just some text".utf8), "no zip end-of-central-directory record (not a .npz file?)"),
            (Array(good.prefix(good.count / 2)), "no zip end-of-central-directory record (not a .npz file?)"),
            (corrupted, "entry 'x.npy' fails its CRC check"),
            (deflate64, "entry 'x.npy' uses compression method 9; only stored and deflated entries are supported"),
        ]
        for (bytes, reason) in cases {
            XCTAssertThrowsError(try Npz.decode(bytes, source: "f.npz")) { error in
                XCTAssertEqual(error as? FormatError, .invalidNpz(path: "f.npz", reason: reason))
            }
        }
    }
}
