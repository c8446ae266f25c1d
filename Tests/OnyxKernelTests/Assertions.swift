import OnyxCore
import XCTest

/// Fails unless `actual` holds as many values as `expected`, each equal to it (NaN to NaN, infinity to infinity)
/// or within `tolerance` of it (relative above 1).
func assertClose(
    _ actual: Tensor, _ expected: [Double], tolerance: Double = 1e-5, file: StaticString = #filePath,
    line: UInt = #line
) {
    guard let values = actual.doubleValues(), values.count == expected.count else {
        return XCTFail("got \(actual), expected \(expected)", file: file, line: line)
    }
    for (got, want) in zip(values, expected)
    where !(got == want) && !(got.isNaN && want.isNaN) && !(abs(got - want) <= tolerance * max(1, abs(want))) {
        return XCTFail("got \(values), expected \(expected)", file: file, line: line)
    }
}
