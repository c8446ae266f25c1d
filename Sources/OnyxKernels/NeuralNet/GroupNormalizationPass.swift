import COnyxSIMD
import OnyxCore

// The GroupNormalization engine (see GroupNormalization.swift): the batches and threads, the interleaved passes,
// the moments and the coefficients, with Swift loops; the AVX2 ones are in GroupNormalizationVectorized.swift.

/// One run of the engine over `input`, writing `output`.
struct GroupNormalizationPass<Element: NormalizedElement, T: NetFloat>: Sendable {
    let parameters: GroupNormalizationParameters
    let input: NeuralNet.ReadBuffer<Element>
    let output: NeuralNet.WriteBuffer<Element>

    var layout: GroupNormalizationLayout { parameters.layout }

    func run(threads: Int) {
        // A thread pays for its dispatch only with a few hundred thousand values to itself: below that, two
        // threads over an input that the caches hold took longer than one.
        let workers = min(threads, max(1, layout.items * layout.itemValues / (4 * NeuralNet.minimumParallelWork)))
        let wantedTasks = workers * NeuralNet.tasksPerThread
        if workers > 1 && layout.items < wantedTasks {
            runInPieces(
                parts: min(layout.itemLength, (wantedTasks + layout.items - 1) / layout.items), threads: workers)
            return
        }
        // One range of items per thread: each range's first batch has its statistics read alone, so fewer ranges
        // leave less of that pass unoverlapped (at the price of balancing the threads less finely).
        let ranges = min(layout.items, workers)
        NeuralNet.runTasks(ranges, threads: workers) { range in
            runPipelined(layout.items * range / ranges..<layout.items * (range + 1) / ranges)
        }
    }

    /// Normalises `items` a batch at a time, summing the next batch's statistics while it normalises this one,
    /// chunk by chunk: the statistics pass is bound by reading X and the normalisation by writing Y, and
    /// interleaved the two overlap as BatchNormalization's read and write do, while the normalisation's own read
    /// of X finds it in L2. The AVX2 loops interleave always; the Swift loops only small items of large inputs
    /// (see ``GroupNormalizationLayout/interleavedInputBytes``), and otherwise run the passes one after the other.
    /// Two small cases go whole to one AVX2 loop, which reads memory once: short items, eight at a time, and
    /// channels-last samples that fit L1, one at a time.
    private func runPipelined(_ items: Range<Int>) {
        if vectorizedSteps && layout.shortItems {
            normalizeShortItems(items)
            return
        }
        if vectorizedSteps && layout.sampleFitsL1 {
            normalizeSamplesInL1(items)
            return
        }
        let itemValues = layout.itemValues
        let interleaved =
            vectorizedSteps
            || (itemValues <= GroupNormalizationLayout.interleavedItemValues
                && layout.items * itemValues * MemoryLayout<Element>.stride
                    >= GroupNormalizationLayout.interleavedInputBytes)
        let batchItems = max(1, GroupNormalizationLayout.batchValues(interleaved: interleaved) / itemValues)
        let statistics = BatchStatistics<T>(layout, items: min(batchItems, items.count), pieces: 1)
        let scratch = Scratch<T>(layout)
        // Items of up to 64 KB with the AVX2 loops: float sums (channels-first in 16 lanes per group, channels-last
        // one sum per channel over the item's rows) go to vectorised moments or coefficients, and only a batch whose
        // sums would cancel has its moments taken exactly.
        let floatSums =
            vectorizedSteps && itemValues <= GroupNormalizationLayout.interleavedItemValues
            && (!layout.channelsLast || layout.channelsPerGroup <= GroupNormalizationLayout.vectorizedChannelsPerGroup)
        if floatSums && !layout.channelsLast {
            runItemBatches(items, batchItems: batchItems, statistics, scratch)
            return
        }
        // Positions of one interleaved step: a block of rows channels-last; channels-first a chunk, four times
        // longer for the AVX2 loop, whose 16 float lanes stay accurate over it and whose calls then cost less.
        let span =
            layout.channelsLast
            ? layout.blockRows : GroupNormalizationLayout.chunkLength * (vectorizedSteps ? 4 : 1)
        let chunksPerItem = (layout.itemLength + span - 1) / span
        func batch(from first: Int) -> Range<Int> { first..<min(items.upperBound, first + batchItems) }
        var current = batch(from: items.lowerBound)
        if floatSums {
            for index in 0..<current.count {
                rowsStep(
                    rows: layout.spatial, normalizing: nil, summing: (current.lowerBound + index) * itemValues,
                    into: statistics.floatSums + index * layout.channels,
                    squares: statistics.floatSquares + index * layout.channels)
            }
        } else {
            sumMoments(of: current, statistics, scratch)
        }
        while !current.isEmpty {
            if !floatSums || !vectorizedCoefficients(of: current, statistics) {
                if floatSums { sumMoments(of: current, statistics, scratch) }
                coefficients(of: current, pieces: 1, statistics)
            }
            let next = batch(from: current.upperBound)
            for index in 0..<current.count {
                let (item, nextItem) = (current.lowerBound + index, next.lowerBound + index)
                let (factors, shifts) = (
                    statistics.factors + index * layout.itemChannels, statistics.shifts + index * layout.itemChannels
                )
                guard interleaved && index < next.count else {
                    normalize(item, at: 0..<layout.itemLength, scratch, factors: factors, shifts: shifts)
                    continue
                }
                if floatSums {
                    rowsStep(
                        rows: layout.spatial,
                        normalizing: (item * itemValues, UnsafePointer(factors), UnsafePointer(shifts)),
                        summing: nextItem * itemValues, into: statistics.floatSums + index * layout.channels,
                        squares: statistics.floatSquares + index * layout.channels)
                    continue
                }
                let slots = statistics.clearedMoments(index)
                for piece in 0..<chunksPerItem {
                    let positions = piece * span..<min(layout.itemLength, (piece + 1) * span)
                    if vectorizedSteps && layout.channelsLast {
                        normalizeRows(
                            item, at: positions, scratch, factors: factors, shifts: shifts,
                            addingMomentsOf: nextItem, to: slots)
                    } else if vectorizedSteps {
                        normalizeChunk(
                            item, at: positions, factors: factors, shifts: shifts, addingMomentsOf: nextItem, to: slots)
                    } else if Element.self == T.self && !layout.channelsLast {
                        normalize(
                            item, at: positions, factors: factors, shifts: shifts, addingMomentsOf: nextItem, to: slots)
                    } else {
                        normalize(item, at: positions, scratch, factors: factors, shifts: shifts)
                        addMoments(of: nextItem, at: positions, to: slots, scratch)
                    }
                }
            }
            if !interleaved { sumMoments(of: next, statistics, scratch) }
            current = next
        }
    }

    /// Channels-first items of up to 64 KB with the AVX2 loops, `batchItems` a batch: whole batches go to
    /// COnyxSIMD, which normalises one batch while it sums the next and computes each channel's coefficients as it
    /// reaches the channel; a batch whose float sums would cancel has its moments taken exactly.
    private func runItemBatches(
        _ items: Range<Int>, batchItems: Int, _ statistics: BatchStatistics<T>, _ scratch: Scratch<T>
    ) {
        func batch(from first: Int) -> Range<Int> { first..<min(items.upperBound, first + batchItems) }
        var current = batch(from: items.lowerBound)
        normalizeItems(current.lowerBound..<current.lowerBound, summing: current, statistics)
        while !current.isEmpty {
            if !vectorizedMoments(of: current, statistics) {
                sumMoments(of: current, statistics, scratch)
                moments(of: current, pieces: 1, statistics)
                for index in 0..<current.count { statistics.floatMeans[index] = Float(statistics.groupMeans[index]) }
            }
            let next = batch(from: current.upperBound)
            normalizeItems(current, summing: next, statistics)
            current = next
        }
    }

    /// The exact moments of every item of `batch`, into the batch's slots.
    private func sumMoments(of batch: Range<Int>, _ statistics: BatchStatistics<T>, _ scratch: Scratch<T>) {
        for index in 0..<batch.count {
            addMoments(
                of: batch.lowerBound + index, at: 0..<layout.itemLength, to: statistics.clearedMoments(index), scratch)
        }
    }

    /// Channels-last samples that fit L1, each summed and normalised whole by COnyxSIMD; a sample whose float sums
    /// would cancel takes the exact moments instead.
    private func normalizeSamplesInL1(_ samples: Range<Int>) {
        // The C loop works on the stack; the exact path's buffers are made only for a sample that needs them (on the
        // founding note's 400 KB input, making them every run cost about 4% of the op).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: sampleWorkspaceFloats) { workspace in
            var exact: (statistics: BatchStatistics<T>, scratch: Scratch<T>)?
            for sample in samples {
                if normalizeSample(sample, workspace: workspace.baseAddress!) { continue }
                let (statistics, scratch) =
                    exact ?? (BatchStatistics<T>(layout, items: 1, pieces: 1), Scratch<T>(layout))
                exact = (statistics, scratch)
                addMoments(of: sample, at: 0..<layout.itemLength, to: statistics.clearedMoments(0), scratch)
                coefficients(of: sample..<sample + 1, pieces: 1, statistics)
                normalize(
                    sample, at: 0..<layout.itemLength, scratch, factors: statistics.factors, shifts: statistics.shifts)
            }
        }
    }

    /// Values normalised between steps of the interleaved statistics: short enough that both streams stay in
    /// flight, long enough to amortise the switch.
    private static var interleaveStep: Int { 64 }

    /// Channels-first, with no conversion: normalises `positions` of `item` and adds the same positions of
    /// `nextItem` to its moments at `slots`, alternating in steps of ``interleaveStep`` values.
    private func normalize(
        _ item: Int, at positions: Range<Int>, factors: UnsafePointer<T>, shifts: UnsafePointer<T>,
        addingMomentsOf nextItem: Int, to slots: UnsafeMutablePointer<Moments>
    ) {
        let source = UnsafeRawPointer(input.base + item * layout.itemLength).assumingMemoryBound(to: T.self)
        let next = UnsafeRawPointer(input.base + nextItem * layout.itemLength).assumingMemoryBound(to: T.self)
        let target = UnsafeMutableRawPointer(output.base + item * layout.itemLength).assumingMemoryBound(to: T.self)
        var sums = NeuralNet.RunningSums<T>()
        var position = positions.lowerBound
        var channel = position / layout.spatial
        while position < positions.upperBound {
            let planeEnd = (channel + 1) * layout.spatial
            let end = min(positions.upperBound, planeEnd)
            let (factor, shift) = (factors[channel], shifts[channel])
            for step in stride(from: position, to: end, by: Self.interleaveStep) {
                let count = min(Self.interleaveStep, end - step)
                NeuralNet.scaleShift(
                    UnsafeBufferPointer(start: source + step, count: count), into: target + step, scale: factor,
                    shift: shift)
                if parameters.silu { applySiLU(target + step, count: count) }
                sums.add(UnsafeBufferPointer(start: next + step, count: count))
            }
            position = end
            if position == planeEnd { channel += 1 }
        }
        let (sum, squares) = sums.totals
        slots[0].add(
            chunkSums(UnsafeBufferPointer(start: next + positions.lowerBound, count: positions.count), sum, squares))
    }

    /// Too few items to keep every thread busy: cuts each item into `parts` pieces, sums every piece's moments,
    /// merges them per item, then normalises every piece.
    private func runInPieces(parts: Int, threads: Int) {
        let items = layout.items
        let statistics = BatchStatistics<T>(layout, items: items, pieces: parts)
        let scratches = (0..<min(items * parts, threads)).map { _ in Scratch<T>(layout) }
        NeuralNet.runTasks(items * parts, threads: threads) { piece, worker in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            let slots = statistics.clearedMoments(piece)
            addMoments(of: item, at: layout.positions(part: part, of: parts), to: slots, scratches[worker])
        }
        coefficients(of: 0..<items, pieces: parts, statistics)
        NeuralNet.runTasks(items * parts, threads: threads) { piece, worker in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            normalize(
                item, at: layout.positions(part: part, of: parts), scratches[worker],
                factors: statistics.factors + item * layout.itemChannels,
                shifts: statistics.shifts + item * layout.itemChannels)
        }
    }

    /// Adds the values of `item` over `positions` to its moments at `slots` (one per
    /// ``GroupNormalizationLayout/itemGroups``), a chunk at a time.
    private func addMoments(
        of item: Int, at positions: Range<Int>, to slots: UnsafeMutablePointer<Moments>, _ scratch: Scratch<T>
    ) {
        if layout.channelsLast {
            addChannelsLastMoments(of: item, at: positions, to: slots, scratch)
            return
        }
        let (start, chunkLength) = (item * layout.itemLength, GroupNormalizationLayout.chunkLength)
        for offset in stride(from: positions.lowerBound, to: positions.upperBound, by: chunkLength) {
            let count = min(chunkLength, positions.upperBound - offset)
            let run = UnsafeBufferPointer(start: widened(at: start + offset, count: count, scratch), count: count)
            let (sum, squares) = NeuralNet.sumAndSumOfSquares(run)
            slots[0].add(chunkSums(run, sum, squares))
        }
    }

    /// What `run`, whose sum and sum of squares are given, adds to moments: those sums, or — when they would cancel
    /// — the sums of its deviations from its mean, taken again while it is in cache.
    @inline(__always)
    func chunkSums(_ run: UnsafeBufferPointer<T>, _ sum: T, _ squares: T) -> ChunkSums {
        let sums = ChunkSums(count: run.count, center: 0, deviations: Double(sum), squaredDeviations: Double(squares))
        guard sums.cancels else { return sums }
        let center = T(sums.mean)
        let (deviations, squaredDeviations) = NeuralNet.deviationSums(run, from: center)
        return ChunkSums(
            count: run.count, center: Double(center), deviations: Double(deviations),
            squaredDeviations: Double(squaredDeviations))
    }

    /// ``addMoments(of:at:to:_:)`` for a channels-last sample's `rows`: blocks of whole rows, every channel at once.
    private func addChannelsLastMoments(
        of sample: Int, at rows: Range<Int>, to slots: UnsafeMutablePointer<Moments>, _ scratch: Scratch<T>
    ) {
        let channels = layout.channels
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: layout.blockRows) {
            let count = min(layout.blockRows, rows.upperBound - start)
            let block = widened(at: (sample * layout.spatial + start) * channels, count: count * channels, scratch)
            #if arch(x86_64)
                if vectorizedSteps {
                    rowsStep(
                        rows: count, normalizing: nil, summing: (sample * layout.spatial + start) * channels,
                        into: floats(scratch.sums), squares: floats(scratch.squares))
                    addGroupMoments(of: block, rows: count, to: slots, scratch)
                    continue
                }
            #endif
            NeuralNet.columnSumsAndSumsOfSquares(
                block, rows: count, width: channels, into: scratch.sums, squares: scratch.squares)
            addGroupMoments(of: block, rows: count, to: slots, scratch)
        }
    }

    /// Adds a channels-last block of `rows` rows, whose column sums and sums of squares are in `scratch`, to the
    /// moments of its groups at `slots`: per group from its channels' sums, or — where those cancel — from the
    /// deviations of its values from the group's mean, summed again.
    func addGroupMoments(
        of block: UnsafePointer<T>, rows: Int, to slots: UnsafeMutablePointer<Moments>, _ scratch: Scratch<T>
    ) {
        let (channels, channelsPerGroup) = (layout.channels, layout.channelsPerGroup)
        let (sums, sumsOfSquares, centers) = (scratch.sums, scratch.squares, scratch.centers)
        func groupSums(_ group: Int, center: Double) -> ChunkSums {
            var (sum, squares) = (0.0, 0.0)
            for channel in group * channelsPerGroup..<(group + 1) * channelsPerGroup {
                sum += Double(sums[channel])
                squares += Double(sumsOfSquares[channel])
            }
            return ChunkSums(
                count: rows * channelsPerGroup, center: center, deviations: sum, squaredDeviations: squares)
        }
        var recenter = false
        for group in 0..<layout.groups {
            let chunk = groupSums(group, center: 0)
            let center = chunk.cancels ? T(chunk.mean) : 0
            recenter = recenter || chunk.cancels
            for channel in group * channelsPerGroup..<(group + 1) * channelsPerGroup { centers[channel] = center }
        }
        if recenter {
            NeuralNet.columnDeviationSums(
                block, rows: rows, width: channels, from: centers, into: sums, squares: sumsOfSquares)
        }
        for group in 0..<layout.groups {
            slots[group].add(groupSums(group, center: Double(centers[group * channelsPerGroup])))
        }
    }

    /// Writes to `statistics` each group's mean and 1/√(variance + ε) (in `variances`) of `items`, from the
    /// moments of their pieces: those of item i's piece p start at slot
    /// `((i − items.lowerBound) · pieces + p) · itemGroups`.
    private func moments(of items: Range<Int>, pieces: Int, _ statistics: BatchStatistics<T>) {
        let itemGroups = layout.itemGroups
        let groupCount = items.count * itemGroups
        // Every group holds the same number of values.
        let inverseCount = 1 / Double(layout.groupValues)
        let (means, variances) = (statistics.groupMeans, statistics.variances)
        for index in 0..<items.count {
            for group in 0..<itemGroups {
                var moments = statistics.moments[index * pieces * itemGroups + group]
                for piece in 1..<max(1, pieces) {
                    moments.merge(statistics.moments[(index * pieces + piece) * itemGroups + group])
                }
                means[index * itemGroups + group] = moments.mean
                variances[index * itemGroups + group] = T(moments.squares * inverseCount + parameters.epsilon)
            }
        }
        // 1/√(variance + ε) in T, eight groups side by side.
        let wholeVectors = groupCount / 8 * 8
        for group in stride(from: 0, to: wholeVectors, by: 8) {
            let raw = UnsafeMutableRawPointer(variances + group)
            raw.storeBytes(of: 1 / raw.loadUnaligned(as: SIMD8<T>.self).squareRoot(), as: SIMD8<T>.self)
        }
        for group in wholeVectors..<groupCount { variances[group] = 1 / variances[group].squareRoot() }
    }

    /// Writes to `statistics` the factor a and shift b (y = a·x + b) of each channel of `items`, from the moments
    /// of their pieces (as ``moments(of:pieces:_:)`` reads them).
    /// Tight loops, since with small groups this runs once every few hundred values.
    private func coefficients(of items: Range<Int>, pieces: Int, _ statistics: BatchStatistics<T>) {
        moments(of: items, pieces: pieces, statistics)
        let (channelsPerGroup, itemGroups) = (layout.channelsPerGroup, layout.itemGroups)
        let (means, variances) = (statistics.groupMeans, statistics.variances)
        parameters.withScaleAndBias { scale, bias in
            // The group of the tensor each item's first group is; channels-last an item holds every group.
            var firstGroup = layout.channelsLast ? 0 : items.lowerBound % layout.groups
            for index in 0..<items.count {
                for group in 0..<itemGroups {
                    let slot = index * itemGroups + group
                    let (mean, inverse) = (means[slot], Double(variances[slot]))
                    let channel = (firstGroup + group) * channelsPerGroup
                    let local = slot * channelsPerGroup
                    for offset in 0..<channelsPerGroup {
                        let factor = scale[channel + offset] * inverse
                        statistics.factors[local + offset] = T(factor)
                        statistics.shifts[local + offset] = T(bias[channel + offset] - mean * factor)
                    }
                }
                if !layout.channelsLast {
                    firstGroup += 1
                    if firstGroup == layout.groups { firstGroup = 0 }
                }
            }
        }
    }

    /// Writes `item` over `positions` normalised: a·x + b per channel, then the activation.
    private func normalize(
        _ item: Int, at positions: Range<Int>, _ scratch: Scratch<T>, factors: UnsafePointer<T>,
        shifts: UnsafePointer<T>
    ) {
        if layout.channelsLast {
            let channels = layout.channels
            for start in stride(from: positions.lowerBound, to: positions.upperBound, by: layout.blockRows) {
                let rows = min(layout.blockRows, positions.upperBound - start)
                let offset = (item * layout.spatial + start) * channels
                #if arch(x86_64)
                    if vectorizedSteps {
                        rowsStep(
                            rows: rows, normalizing: (offset, factors, shifts), summing: nil, into: nil, squares: nil)
                        continue
                    }
                #endif
                map(at: offset, count: rows * channels, scratch) { block, target in
                    NeuralNet.affineRows(
                        block, rows: rows, width: channels, factors: factors, shifts: shifts, into: target)
                }
            }
            return
        }
        // Runs within one channel's plane, a chunk at most.
        let start = item * layout.itemLength
        var position = positions.lowerBound
        var channel = position / layout.spatial
        while position < positions.upperBound {
            let planeEnd = (channel + 1) * layout.spatial
            let end = min(positions.upperBound, planeEnd, position + GroupNormalizationLayout.chunkLength)
            map(at: start + position, count: end - position, scratch) { run, target in
                NeuralNet.scaleShift(
                    UnsafeBufferPointer(start: run, count: end - position), into: target, scale: factors[channel],
                    shift: shifts[channel])
            }
            position = end
            if position == planeEnd { channel += 1 }
        }
    }

    /// The `count` input values from `offset` on as `T`: the input itself when `Element` is `T`, else a converted
    /// copy in scratch.
    @inline(__always)
    private func widened(at offset: Int, count: Int, _ scratch: Scratch<T>) -> UnsafePointer<T> {
        if Element.self == T.self { return UnsafeRawPointer(input.base + offset).assumingMemoryBound(to: T.self) }
        Element.widen(input.base + offset, count: count, into: scratch.values)
        return UnsafePointer(scratch.values)
    }

    /// Runs `transform` (reading `count` values as `T`, writing as many) from the input at `offset` to the output
    /// there, then the activation; through scratch when `Element` is not `T`.
    @inline(__always)
    private func map(
        at offset: Int, count: Int, _ scratch: Scratch<T>,
        _ transform: (UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void
    ) {
        if Element.self == T.self {
            let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: T.self)
            transform(UnsafeRawPointer(input.base + offset).assumingMemoryBound(to: T.self), target)
            if parameters.silu { applySiLU(target, count: count) }
        } else {
            Element.widen(input.base + offset, count: count, into: scratch.values)
            transform(scratch.values, scratch.values)
            if parameters.silu { applySiLU(scratch.values, count: count) }
            Element.narrow(scratch.values, count: count, into: output.base + offset)
        }
    }
}

/// The sums a chunk of values contributes to ``Moments``: of their deviations from `center` and of the squares.
struct ChunkSums {
    let count: Int
    let center: Double
    let deviations: Double
    let squaredDeviations: Double

    // Reciprocals rather than divisions: when the counts are the same for many channels, they are computed once.

    /// The chunk's mean.
    var mean: Double { center + deviations * (1 / Double(count)) }

    /// The chunk's sum of squared deviations from its mean.
    var squares: Double { max(0, squaredDeviations - deviations * deviations * (1 / Double(count))) }

    /// True when the variance Σd² − (Σd)²/n would lose too much to cancellation: when Σd² exceeds 8 times the
    /// result, i.e. the center is more than about 2.6 deviations from the mean. The error of float sums then grows
    /// past about 10⁻⁴ of the variance, and the chunk's sums are taken again about its mean. (NaN cancels too; the
    /// second pass keeps it NaN.)
    var cancels: Bool { !(squaredDeviations <= 8 * squares) }
}

/// Count, mean and sum of squared deviations from the mean of a growing set of values.
struct Moments {
    var count = 0
    var mean = 0.0
    var squares = 0.0

    /// Adds a chunk's sums.
    @inline(__always)
    mutating func add(_ chunk: ChunkSums) {
        merge(Moments(count: chunk.count, mean: chunk.mean, squares: chunk.squares))
    }

    /// Adds another set's moments (the pairwise update of Chan, Golub and LeVeque).
    @inline(__always)
    mutating func merge(_ other: Moments) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        let weight = Double(other.count) * (1 / Double(count + other.count))
        let offset = other.mean - mean
        mean += offset * weight
        squares += other.squares + offset * offset * Double(count) * weight
        count += other.count
    }
}

/// One worker's working memory: a chunk of converted values and, channels-last, per-channel sums. Unchecked
/// Sendable because each worker uses its own.
final class Scratch<T: NetFloat>: @unchecked Sendable {
    let values: UnsafeMutablePointer<T>
    let centers: UnsafeMutablePointer<T>
    let sums: UnsafeMutablePointer<T>
    let squares: UnsafeMutablePointer<T>

    init(_ layout: GroupNormalizationLayout) {
        // A channels-last block fits the scratch length, or is one row when rows are longer.
        values = .allocate(capacity: max(GroupNormalizationLayout.scratchLength, layout.channels))
        let channels = layout.channelsLast ? layout.channels : 0
        centers = .allocate(capacity: channels)
        sums = .allocate(capacity: channels)
        squares = .allocate(capacity: channels)
    }

    deinit {
        for pointer in [values, centers, sums, squares] { pointer.deallocate() }
    }
}

/// The statistics of a batch of items: their pieces' moments (each piece summed by one task into its own slots),
/// their groups' means and variances, and their channels' coefficients.
final class BatchStatistics<T: NetFloat>: @unchecked Sendable {
    /// One per group of every item (or piece of an item).
    let moments: UnsafeMutablePointer<Moments>
    private let itemGroups: Int
    /// Float sums and sums of squares for COnyxSIMD: channels-first each item's, channels-last each channel's.
    let floatSums: UnsafeMutablePointer<Float>
    let floatSquares: UnsafeMutablePointer<Float>
    let groupMeans: UnsafeMutablePointer<Double>
    /// Each group's mean in float, for COnyxSIMD's loop over whole channels-first items.
    let floatMeans: UnsafeMutablePointer<Float>
    /// Each group's variance + ε, then replaced by 1/√(variance + ε).
    let variances: UnsafeMutablePointer<T>
    let factors: UnsafeMutablePointer<T>
    let shifts: UnsafeMutablePointer<T>

    /// The moments of item (or piece) `index`'s groups, emptied for a new sum.
    func clearedMoments(_ index: Int) -> UnsafeMutablePointer<Moments> {
        let slots = moments + index * itemGroups
        slots.update(repeating: Moments(), count: itemGroups)
        return slots
    }

    /// Room for `items` items cut into `pieces` pieces each.
    init(_ layout: GroupNormalizationLayout, items: Int, pieces: Int) {
        itemGroups = layout.itemGroups
        moments = .allocate(capacity: items * pieces * itemGroups)
        moments.initialize(repeating: Moments(), count: items * pieces * itemGroups)
        groupMeans = .allocate(capacity: items * layout.itemGroups)
        floatMeans = .allocate(capacity: items * layout.itemGroups)
        variances = .allocate(capacity: items * layout.itemGroups)
        floatSums = .allocate(capacity: items * layout.itemChannels)
        floatSquares = .allocate(capacity: items * layout.itemChannels)
        factors = .allocate(capacity: items * layout.itemChannels)
        shifts = .allocate(capacity: items * layout.itemChannels)
    }

    // (Freeing these one by one, without the arrays, moved glibc's heap layout enough to slow the next large
    // allocations: commit 465b78d.)
    deinit {
        moments.deallocate()
        for pointer in [floatSums, floatSquares, floatMeans] { pointer.deallocate() }
        groupMeans.deallocate()
        for pointer in [variances, factors, shifts] { pointer.deallocate() }
    }
}

/// `values[i] = y · sigmoid(y)` for each `y = values[i]`, eight Float lanes at a time.
func applySiLU<T: NetFloat>(_ values: UnsafeMutablePointer<T>, count: Int) {
    guard T.self == Float.self else {
        for index in 0..<count { values[index] /= 1 + T.netExp(-values[index]) }
        return
    }
    let raw = UnsafeMutableRawPointer(values)
    let width = FloatVectorMath.Vector.scalarCount
    let vectorCount = count / width * width
    for index in stride(from: 0, to: vectorCount, by: width) {
        let offset = index * MemoryLayout<Float>.stride
        let y = raw.loadUnaligned(fromByteOffset: offset, as: FloatVectorMath.Vector.self)
        raw.storeBytes(of: y * FloatVectorMath.sigmoid(y), toByteOffset: offset, as: FloatVectorMath.Vector.self)
    }
    for index in vectorCount..<count { values[index] /= 1 + T.netExp(-values[index]) }
}
