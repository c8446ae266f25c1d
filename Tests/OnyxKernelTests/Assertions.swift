import OnyxCore
import XCTest

/// Fails unless `actual` holds as many values as `expected`, each equal to it (NaN to NaN, infinity to infinity)
/// or within `tolerance` of it (relative above 1).
func assertClose(
    _ actual: Tensor, _ expected: [Double], tolerance: Double = 1e-5, file: StaticString = #filePath,
    line: UInt = #line
) {
    guard let values = actual.doubleValues() else {
        return XCTFail("got \(actual), expected \(expected)", file: file, line: line)
    }
    assertClose(values, expected, tolerance: tolerance, file: file, line: line)
}

/// The same check on values; a failure names `label` and, past 64 values, only the first element out of tolerance.
func assertClose(
    _ actual: [Double], _ expected: [Double], tolerance: Double = 1e-5, _ label: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    let prefix = label.isEmpty ? "" : "\(label): "
    guard actual.count == expected.count else {
        return XCTFail("\(prefix)\(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    if let index = expected.indices.first(where: { index in
        let (got, want) = (actual[index], expected[index])
        // Infinities match only themselves: against one, |got − want| ≤ tolerance · ∞ would pass any value.
        return !(got == want) && !(got.isNaN && want.isNaN)
            && !(got.isFinite && want.isFinite && abs(got - want) <= tolerance * max(1, abs(want)))
    }) {
        let message =
            expected.count > 64
            ? "element \(index) is \(actual[index]), expected \(expected[index])"
            : "got \(actual), expected \(expected)"
        XCTFail(prefix + message, file: file, line: line)
    }
}
