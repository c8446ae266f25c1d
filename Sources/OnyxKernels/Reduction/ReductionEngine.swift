import OnyxCore

// The one reduction loop under ReduceSum, ReduceMean, ReduceMax and the rest: a reducer (initial value,
// accumulate, finish) folded over an arbitrary set of axes of a row-major tensor.

/// One reduction: how elements fold into an accumulator and what an accumulator yields.
protocol Reducer {
    associatedtype Element: ReducibleElement
    associatedtype Accumulator
    /// The accumulator of an empty set.
    var initial: Accumulator { get }
    func accumulate(_ accumulator: inout Accumulator, _ value: Element)
    /// Folds a contiguous run: the hot case of a reduction over the innermost axes.
    func accumulate(_ accumulator: inout Accumulator, run: UnsafeBufferPointer<Element>)
    /// The output element for an accumulator that folded `count` elements.
    func result(_ accumulator: Accumulator, count: Int) -> Element
}

extension Reducer {
    func accumulate(_ accumulator: inout Accumulator, run: UnsafeBufferPointer<Element>) {
        for value in run { accumulate(&accumulator, value) }
    }
}

/// A row-major shape with some axes reduced, coalesced into alternating runs of kept and reduced axes
/// (axes of extent 1 dropped, neighbours of the same kind merged), so that the loop visits the input in
/// order, one contiguous block of the last run at a time.
struct ReductionGeometry {
    /// The coalesced runs, outermost first; never empty.
    let runs: [(extent: Int, reduced: Bool)]
    /// Output elements: the product of the kept extents.
    let outputCount: Int
    /// Input elements folded into each output element: the product of the reduced extents.
    let reducedCount: Int

    /// `axes` must be valid, non-negative and distinct.
    init(shape: [Int], reducing axes: Set<Int>) {
        var runs: [(extent: Int, reduced: Bool)] = []
        for (axis, extent) in shape.enumerated() where extent != 1 {
            let reduced = axes.contains(axis)
            if let last = runs.last, last.reduced == reduced {
                runs[runs.count - 1].extent *= extent
            } else {
                runs.append((extent, reduced))
            }
        }
        if runs.isEmpty { runs = [(1, false)] }
        self.runs = runs
        outputCount = runs.filter { !$0.reduced }.reduce(1) { $0 * $1.extent }
        reducedCount = runs.filter(\.reduced).reduce(1) { $0 * $1.extent }
    }
}

/// A shape seen as [outer, extent, inner] around one axis: the layout of the single-axis kernels
/// (ArgMax, CumSum, TopK, DFT, softmax over classes).
struct AxisSplit {
    let outer: Int
    let extent: Int
    let inner: Int

    /// `axis` must be a valid non-negative axis of `shape`.
    init(shape: [Int], axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        extent = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }
}

/// Folds `input` (laid out as `geometry` says) with `reducer`; returns one element per output position, in
/// row-major order of the kept axes.
func reduce<R: Reducer>(_ input: [R.Element], _ geometry: ReductionGeometry, with reducer: R) -> [R.Element] {
    var accumulators = [R.Accumulator](repeating: reducer.initial, count: geometry.outputCount)
    if !input.isEmpty {
        accumulators.withUnsafeMutableBufferPointer { accumulators in
            input.withUnsafeBufferPointer { input in
                fold(input, geometry, reducer, into: accumulators)
            }
        }
    }
    return [R.Element](unsafeUninitializedCapacity: geometry.outputCount) { buffer, initializedCount in
        for (index, accumulator) in accumulators.enumerated() {
            buffer.initializeElement(at: index, to: reducer.result(accumulator, count: geometry.reducedCount))
        }
        initializedCount = geometry.outputCount
    }
}

/// Walks the input block by block (a block is one stretch of the last run) with an odometer over the outer
/// runs that tracks where each block's outputs start.
private func fold<R: Reducer>(
    _ input: UnsafeBufferPointer<R.Element>, _ geometry: ReductionGeometry, _ reducer: R,
    into accumulators: UnsafeMutableBufferPointer<R.Accumulator>
) {
    let runs = geometry.runs
    let block = runs[runs.count - 1]
    let outerRuns = runs.count - 1
    // Output stride of each outer run: kept runs step through the output, reduced runs stay in place.
    var outputStrides = [Int](repeating: 0, count: outerRuns)
    var step = block.reduced ? 1 : block.extent
    for run in stride(from: outerRuns - 1, through: 0, by: -1) where !runs[run].reduced {
        outputStrides[run] = step
        step *= runs[run].extent
    }
    var counters = [Int](repeating: 0, count: outerRuns)
    var outputOffset = 0
    for inputOffset in stride(from: 0, to: input.count, by: block.extent) {
        let values = UnsafeBufferPointer(rebasing: input[inputOffset..<inputOffset + block.extent])
        if block.reduced {
            reducer.accumulate(&accumulators[outputOffset], run: values)
        } else {
            // Rebased so that the loop indexes without offset arithmetic, which lets it vectorise.
            let targets = UnsafeMutableBufferPointer(rebasing: accumulators[outputOffset..<outputOffset + block.extent])
            for index in 0..<block.extent { reducer.accumulate(&targets[index], values[index]) }
        }
        var run = outerRuns - 1
        while run >= 0 {
            counters[run] += 1
            outputOffset += outputStrides[run]
            if counters[run] < runs[run].extent { break }
            outputOffset -= outputStrides[run] * counters[run]
            counters[run] = 0
            run -= 1
        }
    }
}
