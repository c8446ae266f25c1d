import Foundation
import OnyxCore
import XCTest

@testable import OnyxFormat

/// Fixtures come from tools/gen-fixtures.py (numpy and onnx wrote them).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

final class TensorFileTests: XCTestCase {
    private func value(_ name: String) throws -> Tensor {
        try XCTUnwrap(TensorFiles.readValue("\(fixtures)/values/\(name)").tensor)
    }

    func testPbAndNpyOfEveryNumpyTypeDecodeToTheSameTensor() throws {
        let names = ["float", "double", "float16", "int8", "uint8", "int16", "uint16", "int32", "int64", "uint32",
                     "uint64", "bool", "complex64", "string", "scalar", "empty"]
        for name in names {
            let fromProto = try value("\(name).pb")
            let fromNumpy = try value("\(name).npy")
            XCTAssertEqual(fromProto.dataType, fromNumpy.dataType, name)
            XCTAssertEqual(fromProto.shape, fromNumpy.shape, name)
            if fromProto.dataType == .string {
                XCTAssertEqual(fromProto.elements(as: String.self), fromNumpy.elements(as: String.self))
            } else {
                XCTAssertEqual(fromProto.littleEndianBytes(), fromNumpy.littleEndianBytes(), name)
            }
        }
    }

    func testDecodedValuesMatchWhatNumpyWrote() throws {
        let floats = try value("float.pb")
        XCTAssertEqual(floats.shape, [2, 2])
        let elements = floats.elements(as: Float.self)
        XCTAssertEqual(Array(elements[0..<3]), [1.5, -2, .infinity])
        XCTAssertTrue(elements[3].isNaN)
        XCTAssertEqual(try value("int64.pb").elements(as: Int64.self), [Int64.min, 1 << 62])
        XCTAssertEqual(try value("uint64.pb").elements(as: UInt64.self), [UInt64.max])
        XCTAssertEqual(try value("bool.pb").elements(as: Bool.self), [true, false, true])
        XCTAssertEqual(try value("string.pb").elements(as: String.self), ["héllo", ""])
        XCTAssertEqual(try value("float16.pb").elements(as: Float16.self), [0.5, -65504])
        XCTAssertEqual(try value("scalar.pb").shape, [])
        XCTAssertEqual(try value("empty.pb").shape, [0, 3])
        let complex = try value("complex64.pb").elements(as: Complex64.self)
        XCTAssertEqual(complex, [Complex64(real: 1, imaginary: 2)])
    }

    func testTypedFieldsDecode() throws {
        XCTAssertEqual(try value("typed_float.pb").elements(as: Float.self), [1, 2])
        XCTAssertEqual(try value("typed_int64.pb").elements(as: Int64.self), [-1, 9])
        XCTAssertEqual(try value("typed_float16.pb").elements(as: Float16.self), [1, -2])
        XCTAssertEqual(try value("typed_bfloat16.pb").elements(as: BFloat16.self).map(\.floatValue), [1.5])
        XCTAssertEqual(try value("typed_int4.pb").elements(as: Int4.self).map(\.value), [-8, 7, 1])
        XCTAssertEqual(try value("typed_uint4_raw.pb").elements(as: UInt4.self).map(\.value), [1, 15, 2])
    }

    func testTensorProtoAndNpyRoundTrip() throws {
        for name in ["float", "double", "int8", "uint64", "bool", "string", "scalar", "empty", "typed_int4", "typed_bfloat16"] {
            let original = try value("\(name).pb")
            let encoded = ProtoEncoder.tensor(original, name: name)
            let decoded = try ProtoDecoder.tensor(from: encoded, source: name)
            XCTAssertEqual(decoded.name, name)
            XCTAssertEqual(decoded.tensor.shape, original.shape, name)
            XCTAssertEqual(decoded.tensor.dataType, original.dataType, name)
            if original.dataType == .string {
                XCTAssertEqual(decoded.tensor.elements(as: String.self), original.elements(as: String.self))
            } else {
                XCTAssertEqual(decoded.tensor.rawDataForProto(), original.rawDataForProto(), name)
            }
        }
        for name in ["float", "int16", "bool", "string", "scalar"] {
            let original = try value("\(name).npy")
            let decoded = try Npy.decode(try Npy.encode(original), source: name)
            XCTAssertEqual(decoded.shape, original.shape)
            if original.dataType == .string {
                XCTAssertEqual(decoded.elements(as: String.self), original.elements(as: String.self))
            } else {
                XCTAssertEqual(decoded.littleEndianBytes(), original.littleEndianBytes())
            }
        }
    }

    func testSequenceAndOptionalProtosRoundTrip() throws {
        let first = Tensor(shape: [2], elements: [Float(1), 2])
        let second = Tensor(shape: [1, 1], elements: [Int64(7)])
        let sequence = Value.sequence([.tensor(first), .tensor(second)], elementType: nil)
        let decoded = try ProtoDecoder.sequence(from: try ProtoEncoder.value(sequence, name: "s"), source: "s")
        XCTAssertEqual(decoded.name, "s")
        guard case .sequence(let elements, _) = decoded.value else { return XCTFail("not a sequence: \(decoded.value)") }
        XCTAssertEqual(elements.map(\.tensor), [first, second])

        let optional = Value.optional(.tensor(first), type: nil)
        guard case .optional(let inner?, _) = try ProtoDecoder.optional(from: try ProtoEncoder.value(optional, name: "o"), source: "o").value
        else { return XCTFail("optional lost its value") }
        XCTAssertEqual(inner.tensor, first)
        let empty = try ProtoDecoder.optional(from: try ProtoEncoder.value(.optional(nil, type: nil), name: "e"), source: "e").value
        guard case .optional(nil, _) = empty else { return XCTFail("empty optional decoded as \(empty)") }
    }

    func testCorruptFilesGiveErrorsNotCrashes() throws {
        let model = try TensorFiles.readBytes("\(fixtures)/add_one.onnx")
        for length in stride(from: 1, to: model.count - 1, by: 7) {
            XCTAssertThrowsError(
                try ProtoDecoder.model(from: Array(model[0..<length]), modelDirectory: nil, source: "cut"), "cut at \(length)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let noise = (0..<200).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Random bytes either fail to parse or parse into something without a graph; never crash.
            _ = try? ProtoDecoder.model(from: noise, modelDirectory: nil, source: "noise")
        }
        XCTAssertThrowsError(try ProtoDecoder.model(from: [0xFF, 0xFF, 0xFF], modelDirectory: nil, source: "noise")) {
            XCTAssertEqual($0 as? FormatError, .corruptMessage(what: "ONNX model", source: "noise"))
        }
        XCTAssertThrowsError(try Npy.decode(Array("not numpy".utf8), source: "x.npy"))
        let npy = try TensorFiles.readBytes("\(fixtures)/values/float.npy")
        XCTAssertThrowsError(try Npy.decode(Array(npy.dropLast(3)), source: "short.npy"))
    }

    func testExternalDataIsReadInsideTheModelFolderOnly() throws {
        let model = try TensorFiles.loadModel("\(fixtures)/external_ok.onnx")
        XCTAssertEqual(model.graph.initializers.first?.tensor.elements(as: Float.self), [0, 1, 2, 3])
        XCTAssertThrowsError(try TensorFiles.loadModel("\(fixtures)/external_escape.onnx")) {
            XCTAssertEqual($0 as? FormatError, .externalDataOutsideModelFolder(tensor: "w", location: "../../../etc/passwd"))
        }
    }

    func testModelFieldsDecode() throws {
        let model = try TensorFiles.loadModel("\(fixtures)/local_function.onnx")
        XCTAssertEqual(model.irVersion, 10)
        XCTAssertEqual(Set(model.opsetImports), [OpsetImport(domain: "", version: 21), OpsetImport(domain: "local", version: 1)])
        XCTAssertEqual(model.functions.map(\.name), ["DoublePlus"])
        XCTAssertEqual(model.graph.inputs.first?.type, .tensor(.float, shape: [.value(3)]))
        XCTAssertEqual(model.graph.nodes.map(\.opType), ["DoublePlus", "DoublePlus"])
    }
}
