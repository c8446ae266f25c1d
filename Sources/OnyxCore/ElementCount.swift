/// The number of elements of `shape`, or nil when an extent is negative or the product overflows or exceeds
/// `limit`. Shapes read from files or computed from input data pass through this before anything is allocated,
/// so that a bogus shape can never ask for a huge buffer.
public func checkedElementCount(_ shape: [Int], limit: Int) -> Int? {
    var count = 1
    for extent in shape {
        guard extent >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: extent)
        guard !overflow, product <= limit else { return nil }
        count = product
    }
    return count
}
