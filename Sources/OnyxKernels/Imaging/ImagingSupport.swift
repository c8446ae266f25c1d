import OnyxCore

// Helpers shared by the Imaging kernels, which compute in Double.

/// The product of `dimensions` when all are nonnegative and it stays within 2^30 elements (a guard against
/// bogus shapes asking for huge buffers), nil otherwise.
func checkedElementCount(_ dimensions: [Int]) -> Int? {
    OnyxCore.checkedElementCount(dimensions, limit: 1 << 30)
}

/// `x` truncated toward zero to an index, clamped far outside any real extent (and NaN sent to -1) so that
/// wild coordinates read as out of range instead of trapping.
func clampedIndex(_ x: Double) -> Int {
    x.isNaN ? -1 : Int(Swift.min(Swift.max(x, -1e12), 1e12))
}

/// Keys' cubic convolution weights with coefficient `a` for the taps at -1, 0, 1 and 2 around a fraction `t`.
func cubicConvolutionWeights(_ t: Double, a: Double) -> [Double] {
    let (up, down) = (t + 1, 2 - t)
    return [
        ((a * up - 5 * a) * up + 8 * a) * up - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
        ((a * down - 5 * a) * down + 8 * a) * down - 4 * a,
    ]
}

/// Converts the Double results of an Imaging kernel to a tensor of the visited type: integers round half to even,
/// and every type saturates at its finite range, as the reference's saturate_cast does.
struct SaturatingTensor: NumericVisitor {
    let values: [Double]
    let shape: [Int]

    func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
        let range = limits(T.self)
        let rounds = T.self is any FixedWidthInteger.Type
        let converted = values.map { value -> T in
            let rounded = rounds ? value.rounded(.toNearestOrEven) : value
            return T(
                converting: value.isNaN ? value : Swift.min(Swift.max(rounded, range.lowerBound), range.upperBound))
        }
        return Tensor(shape: shape, elements: converted)
    }

    private func limits<T: NumericElement>(_: T.Type) -> ClosedRange<Double> {
        switch T.self {
        case is Float.Type: -Double(Float.greatestFiniteMagnitude)...Double(Float.greatestFiniteMagnitude)
        case is Float16.Type: -Double(Float16.greatestFiniteMagnitude)...Double(Float16.greatestFiniteMagnitude)
        case let integer as any FixedWidthInteger.Type: integerLimits(integer)
        default: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        }
    }

    private func integerLimits<I: FixedWidthInteger>(_: I.Type) -> ClosedRange<Double> {
        // A 64-bit maximum rounds up to a power of two that would wrap around; stay just below it.
        let upper = Double(I.max)
        return Double(I.min)...(Double(exactly: I.max) == nil ? upper.nextDown : upper)
    }
}
