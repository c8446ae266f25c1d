import Foundation
import OnyxCore
import OnyxFormat

/// Runs ONNX backend test cases (a folder with `model.onnx` and `test_data_set_N/{input,output}_J.pb`) and
/// compares outputs the way ONNX's own runner does.
public enum Conformance {
    /// The tolerance ONNX's backend runner uses for floating-point outputs.
    public static let relativeTolerance = 1e-3
    public static let absoluteTolerance = 1e-7

    /// Every case folder (one holding `model.onnx`) at or below each of `paths`, sorted by name.
    public static func caseFolders(under paths: [String]) -> [String] {
        var found: [String] = []
        let manager = FileManager.default
        for path in paths {
            if manager.fileExists(atPath: path + "/model.onnx") {
                found.append(path)
                continue
            }
            guard let enumerator = manager.enumerator(atPath: path) else { continue }
            while let relative = enumerator.nextObject() as? String {
                if relative.hasSuffix("model.onnx") && (relative == "model.onnx" || relative.hasSuffix("/model.onnx")) {
                    found.append(path + "/" + String(relative.dropLast("/model.onnx".count)))
                    enumerator.skipDescendants()
                }
            }
        }
        return found.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            .sorted { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }
    }

    /// Runs one case; returns nil when it passes, else the reason it fails.
    public static func run(caseFolder: String, options: SessionOptions = SessionOptions()) -> String? {
        do {
            let session = try Session(contentsOf: caseFolder + "/model.onnx", options: options)
            let sets = try FileManager.default.contentsOfDirectory(atPath: caseFolder)
                .filter { $0.hasPrefix("test_data_set_") }.sorted()
            guard !sets.isEmpty else { return "no test_data_set_* folder" }
            for set in sets {
                let folder = caseFolder + "/" + set
                var feeds: [String: Value] = [:]
                for (index, input) in session.inputs.enumerated() {
                    let path = folder + "/input_\(index).pb"
                    guard FileManager.default.fileExists(atPath: path) else { continue }
                    feeds[input.name] = try TensorFiles.readValue(path, expected: input.type)
                }
                let outputs = try session.runOrdered(feeds)
                for (index, output) in session.outputs.enumerated() {
                    let expected = try TensorFiles.readValue(folder + "/output_\(index).pb", expected: output.type)
                    if let mismatch = compare(outputs[index], expected) {
                        return "\(set) output '\(output.name)': \(mismatch)"
                    }
                }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Nil when `actual` matches `expected` within the tolerance (a float matches when
    /// `|actual − expected| ≤ absoluteTolerance + relativeTolerance × |expected|`), else a description of the
    /// difference. The defaults are the runner's.
    public static func compare(
        _ actual: Value, _ expected: Value, relativeTolerance: Double = relativeTolerance,
        absoluteTolerance: Double = absoluteTolerance
    ) -> String? {
        compare(actual, expected, Tolerance(relative: relativeTolerance, absolute: absoluteTolerance))
    }

    /// Compares tensors: shapes and types exactly, floats within the tolerance (NaN equals NaN), the rest exactly.
    public static func compare(
        _ actual: Tensor, _ expected: Tensor, relativeTolerance: Double = relativeTolerance,
        absoluteTolerance: Double = absoluteTolerance
    ) -> String? {
        compare(actual, expected, Tolerance(relative: relativeTolerance, absolute: absoluteTolerance))
    }

    private struct Tolerance {
        let relative: Double
        let absolute: Double
    }

    private static func compare(_ actual: Value, _ expected: Value, _ tolerance: Tolerance) -> String? {
        switch (actual, expected) {
        case (.tensor(let actual), .tensor(let expected)):
            return compare(actual, expected, tolerance)
        case (.sequence(let actual, _), .sequence(let expected, _)):
            guard actual.count == expected.count else { return "sequence of \(actual.count), expected \(expected.count)" }
            for (index, pair) in zip(actual, expected).enumerated() {
                if let mismatch = compare(pair.0, pair.1, tolerance) { return "element \(index): \(mismatch)" }
            }
            return nil
        case (.optional(let actual, _), .optional(let expected, _)):
            switch (actual, expected) {
            case (nil, nil): return nil
            case (let actual?, let expected?): return compare(actual, expected, tolerance)
            default: return "optional presence differs"
            }
        case (.optional(let inner?, _), _): return compare(inner, expected, tolerance)
        case (_, .optional(let inner?, _)): return compare(actual, inner, tolerance)
        default:
            return "got \(actual), expected \(expected)"
        }
    }

    private static func compare(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance) -> String? {
        guard actual.dataType == expected.dataType else { return "type \(actual.dataType), expected \(expected.dataType)" }
        guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
        switch actual.dataType {
        case .string:
            return actual.elements(as: String.self) == expected.elements(as: String.self) ? nil : "strings differ"
        case .complex64:
            return compareFloats(
                actual.elements(as: Complex64.self).flatMap { [Double($0.real), Double($0.imaginary)] },
                expected.elements(as: Complex64.self).flatMap { [Double($0.real), Double($0.imaginary)] }, tolerance)
        case .complex128:
            return compareFloats(
                actual.elements(as: Complex128.self).flatMap { [$0.real, $0.imaginary] },
                expected.elements(as: Complex128.self).flatMap { [$0.real, $0.imaginary] }, tolerance)
        default:
            guard let got = actual.doubleValues(), let want = expected.doubleValues() else { return "cannot compare" }
            if actual.dataType.isFloatingPoint { return compareFloats(got, want, tolerance) }
            if actual.dataType == .int64 || actual.dataType == .uint64 {
                return actual == expected ? nil : firstDifference(got, want)
            }
            return got == want ? nil : firstDifference(got, want)
        }
    }

    private static func compareFloats(_ actual: [Double], _ expected: [Double], _ tolerance: Tolerance) -> String? {
        var worst: (index: Int, excess: Double)?
        for index in actual.indices {
            let (a, e) = (actual[index], expected[index])
            if a.isNaN && e.isNaN { continue }
            if a == e { continue }
            let excess = abs(a - e) - (tolerance.absolute + tolerance.relative * abs(e))
            if !(excess <= 0), excess > (worst?.excess ?? -1) || excess.isNaN {
                worst = (index, excess.isNaN ? .infinity : excess)
            }
        }
        guard let worst else { return nil }
        let mismatched = actual.indices.filter {
            !(actual[$0].isNaN && expected[$0].isNaN) && actual[$0] != expected[$0]
                && !(abs(actual[$0] - expected[$0]) <= tolerance.absolute + tolerance.relative * abs(expected[$0]))
        }.count
        return "\(mismatched) of \(actual.count) values differ; worst at \(worst.index): got \(actual[worst.index]), expected \(expected[worst.index])"
    }

    private static func firstDifference(_ actual: [Double], _ expected: [Double]) -> String {
        let index = actual.indices.first { actual[$0] != expected[$0] } ?? 0
        let mismatched = actual.indices.filter { actual[$0] != expected[$0] }.count
        return "\(mismatched) of \(actual.count) values differ; first at \(index): got \(actual[index]), expected \(expected[index])"
    }
}
