import OnyxCore

// GroupNormalization in every form Onyx runs: ONNX's InstanceNormalization (one group per channel), ONNX's
// GroupNormalization (opsets 18–20: scale and bias per group; from 21: per channel, with stash_type) and Onyx's own
// (domain ai.onyx, made by the graph's fusion pass: per-channel scale and bias that may be computed at run time,
// a channels-last layout, and a SiLU applied in the same pass).
//
// One engine serves them all, reading the tensor twice and writing it once: a read pass for the statistics, then a
// read-write pass applying y = a·x + b per channel (a = scale / √(variance + ε), b = bias − mean · a) and the
// activation. The statistics are moments built chunk by chunk (per group channels-first, per channel channels-last):
// each chunk's sum and sum of squares, or — when those would cancel, the values lying far from zero compared with
// their spread — the sums of its deviations from its mean and of their squares, taken again while the chunk is in
// L1. Chunks merge in Double (Chan, Golub and LeVeque), so the variance stays accurate for any offset, and
// half-precision inputs accumulate in Float.
//
// The work goes in items: a (sample, group) channels-first, whose values are one contiguous run, and a whole sample
// channels-last, where every row interleaves all groups (read row by row with per-channel vectors; no transpose is
// made). Items go in batches of about 128 KB: statistics, then coefficients (the square roots and divisions of many
// small groups side by side), then normalisation, which finds the batch still in L2. When there are too few items
// for the threads, each is also cut into pieces, and the two passes run one after the other over all pieces.

/// InstanceNormalization and GroupNormalization (ONNX's and Onyx's): each sample's groups of channels standardised
/// by their own mean and variance, then every channel scaled and shifted, then the activation.
struct GroupNormalizationKernel: Kernel {
    /// The operator a node is.
    enum Form {
        /// ONNX InstanceNormalization: every channel is its own group.
        case instance
        /// ONNX GroupNormalization.
        case onnx
        /// Onyx's GroupNormalization (domain ai.onyx): per-channel scale and bias, `channels_last`, `activation`.
        case onyx
    }

    let op: String
    /// nil when every channel is its own group.
    let groups: Int?
    let epsilon: Float
    /// ONNX opsets 18 to 20 give scale and bias per group.
    let perGroupParameters: Bool
    /// stash_type 11 asks for statistics in Double even for narrower inputs.
    let doubleStatistics: Bool
    /// X and Y are [N, spatial…, C] rather than [N, C, spatial…].
    let channelsLast: Bool
    /// Y = y · sigmoid(y) of the normalised, scaled and shifted y.
    let silu: Bool

    init(_ node: KernelNode, form: Form) throws {
        op = form == .onyx ? "GroupNormalization (ai.onyx)" : node.opType
        epsilon = try node.float("epsilon", default: 1e-5)
        if form == .instance {
            groups = nil
        } else {
            guard let count = try node.int("num_groups"), count >= 1 else {
                throw KernelError.invalidAttribute("num_groups", "is required and must be ≥ 1")
            }
            groups = count
        }
        perGroupParameters = form == .onnx && node.opsetVersion < 21
        let stashType = form == .onnx ? try node.int("stash_type", default: 1) : 1
        doubleStatistics = stashType == Int(DataType.double.rawValue)
        let layout = form == .onyx ? try node.int("channels_last", default: 0) : 0
        guard layout == 0 || layout == 1 else {
            throw KernelError.invalidAttribute("channels_last", "must be 0 or 1, got \(layout)")
        }
        channelsLast = layout == 1
        let activation = form == .onyx ? try node.string("activation", default: "") : ""
        guard activation == "" || activation == "silu" else {
            throw KernelError.invalidAttribute("activation", "must be \"\" or \"silu\", got \"\(activation)\"")
        }
        silu = activation == "silu"
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try inputs.tensor(0)
        let scale = try inputs.tensor(1)
        let bias = try inputs.tensor(2)
        try x.requireNetFloat("\(op) input X")
        try scale.requireNetFloat("\(op) scale")
        try bias.requireNetFloat("\(op) bias")
        guard x.rank >= 2 else { throw KernelError.invalidInput("\(op) needs X of rank ≥ 2, got \(x.shape)") }
        let channels = x.shape[channelsLast ? x.rank - 1 : 1]
        let groups = groups ?? max(1, channels)
        guard channels % groups == 0 else {
            throw KernelError.invalidInput("\(op): \(channels) channels do not split into \(groups) groups")
        }
        // Opset-18 models exported with per-channel parameters are accepted too (the later opset's layout).
        let perGroup = perGroupParameters && scale.count == groups && groups != channels
        let parameterCount = perGroup ? groups : channels
        guard scale.count == parameterCount, bias.count == parameterCount else {
            throw KernelError.invalidInput(
                "\(op) scale and bias must have \(parameterCount) elements, got \(scale.shape) and \(bias.shape)")
        }
        guard x.count > 0 else { return [.tensor(x)] }
        let layout = GroupNormalizationLayout(
            samples: x.shape[0], channels: channels, groups: groups, spatial: x.count / (x.shape[0] * channels),
            channelsLast: channelsLast)
        let perChannel = { (values: [Double]) in
            perGroup ? (0..<channels).map { values[$0 / layout.channelsPerGroup] } : values
        }
        let parameters = GroupNormalizationParameters(
            layout: layout, scale: perChannel(try scale.netElements()), bias: perChannel(try bias.netElements()),
            epsilon: Double(epsilon), silu: silu)
        func normalize<Element: NormalizedElement>(_: Element.Type) -> Tensor {
            let values = x.elements(as: Element.self)
            let output =
                doubleStatistics || Element.self == Double.self
                ? parameters.normalize(values, computingIn: Double.self, threads: context.threads)
                : parameters.normalize(values, computingIn: Float.self, threads: context.threads)
            return Tensor(shape: x.shape, elements: output)
        }
        switch x.dataType {
        case .float: return [.tensor(normalize(Float.self))]
        case .double: return [.tensor(normalize(Double.self))]
        case .float16: return [.tensor(normalize(Float16.self))]
        default: return [.tensor(normalize(BFloat16.self))]
        }
    }
}

/// Where the values of each sample, channel and group of a GroupNormalization input lie, and the units the work is
/// cut into.
struct GroupNormalizationLayout {
    let samples: Int
    let channels: Int
    let groups: Int
    /// Positions per channel and sample: the product of the spatial extents.
    let spatial: Int
    /// [N, spatial…, C] rather than [N, C, spatial…].
    let channelsLast: Bool

    var channelsPerGroup: Int { channels / groups }
    /// Units of work. Channels-first one is a (sample, group): one contiguous run of `channelsPerGroup · spatial`
    /// values. Channels-last one is a sample: `spatial` rows of `channels` values, the groups interleaved in each.
    var items: Int { channelsLast ? samples : samples * groups }
    /// What an item is cut along into pieces: its values channels-first, its rows channels-last.
    var itemLength: Int { channelsLast ? spatial : channelsPerGroup * spatial }
    /// Moments per piece: one for the whole group channels-first, one per channel channels-last.
    var slots: Int { channelsLast ? channels : 1 }
    /// Channels an item covers.
    var itemChannels: Int { channelsLast ? channels : channelsPerGroup }
    /// Groups an item covers.
    var itemGroups: Int { channelsLast ? groups : 1 }

    /// Values the statistics pass sums in the compute type before merging the sums into the Double moments
    /// (channels-first), and rows it sums so per channel (channels-last).
    static let chunkLength = 2048

    /// Values of the scratch space other element types are converted through, a chunk or a block at a time.
    static let scratchLength = 8192

    /// Values of the items normalised as one batch: their statistics first, then their coefficients, then their
    /// normalisation, which finds them still in L2.
    static let batchValues = 32_768

    /// Rows a channels-last block holds: as many as fit the scratch space, up to a chunk, at least one.
    var blockRows: Int { max(1, min(Self.chunkLength, Self.scratchLength / channels)) }

    /// The positions of `part` when an item's ``itemLength`` positions are cut into `parts` near-equal ranges.
    func positions(part: Int, of parts: Int) -> Range<Int> {
        itemLength * part / parts..<itemLength * (part + 1) / parts
    }
}

/// A GroupNormalization with its per-channel parameters known, ready to run on values of any element type.
struct GroupNormalizationParameters: Sendable {
    let layout: GroupNormalizationLayout
    let scale: [Double]
    let bias: [Double]
    let epsilon: Double
    let silu: Bool

    /// `values` normalised, computing in `T` (Float, or Double).
    func normalize<Element: NormalizedElement, T: NetFloat>(
        _ values: [Element], computingIn: T.Type, threads: Int
    ) -> [Element] {
        [Element](unsafeUninitializedCapacity: values.count) { buffer, initialized in
            values.withUnsafeBufferPointer { source in
                GroupNormalizationPass<Element, T>(
                    parameters: self, input: NeuralNet.ReadBuffer(source), output: NeuralNet.WriteBuffer(buffer)
                ).run(threads: threads)
            }
            initialized = values.count
        }
    }
}

/// An element type GroupNormalization reads and writes, converted to and from the type it computes in one chunk at
/// a time (no conversion when the two are the same).
protocol NormalizedElement: TensorElement {
    /// Writes the `count` values at `source` as `T` to `target`.
    static func widen<T: NetFloat>(_ source: UnsafePointer<Self>, count: Int, into target: UnsafeMutablePointer<T>)
    /// Writes the `count` values at `source` rounded to this type to `target`.
    static func narrow<T: NetFloat>(_ source: UnsafePointer<T>, count: Int, into target: UnsafeMutablePointer<Self>)
}

extension NormalizedElement where Self: BinaryFloatingPoint {
    static func widen<T: NetFloat>(_ source: UnsafePointer<Self>, count: Int, into target: UnsafeMutablePointer<T>) {
        for index in 0..<count { target[index] = T(source[index]) }
    }

    static func narrow<T: NetFloat>(_ source: UnsafePointer<T>, count: Int, into target: UnsafeMutablePointer<Self>) {
        for index in 0..<count { target[index] = Self(source[index]) }
    }
}

extension Float: NormalizedElement {}
extension Double: NormalizedElement {}
extension Float16: NormalizedElement {}

extension BFloat16: NormalizedElement {
    static func widen<T: NetFloat>(_ source: UnsafePointer<Self>, count: Int, into target: UnsafeMutablePointer<T>) {
        for index in 0..<count { target[index] = T(source[index].floatValue) }
    }

    static func narrow<T: NetFloat>(_ source: UnsafePointer<T>, count: Int, into target: UnsafeMutablePointer<Self>) {
        for index in 0..<count { target[index] = BFloat16(Float(source[index])) }
    }
}

/// One run of the engine over `input`, writing `output`.
private struct GroupNormalizationPass<Element: NormalizedElement, T: NetFloat>: Sendable {
    let parameters: GroupNormalizationParameters
    let input: NeuralNet.ReadBuffer<Element>
    let output: NeuralNet.WriteBuffer<Element>

    private var layout: GroupNormalizationLayout { parameters.layout }

    func run(threads: Int) {
        let (items, length) = (layout.items, layout.itemLength)
        let itemValues = layout.itemChannels * layout.spatial
        let wantedTasks = threads * NeuralNet.tasksPerThread
        let parallel = threads > 1 && items * itemValues >= NeuralNet.minimumParallelWork
        guard parallel && items < wantedTasks else {
            // Statistics, coefficients, normalisation, a batch of items at a time: the normalisation finds the
            // batch still in cache, and the coefficients of many small groups are computed side by side.
            let batchItems = max(1, GroupNormalizationLayout.batchValues / itemValues)
            NeuralNet.forEachChunk(of: items, threads: threads, workPerItem: 4 * itemValues) { range in
                let scratch = Scratch<T>(layout)
                let statistics = BatchStatistics<T>(layout, items: min(batchItems, range.count), parts: 1)
                for first in stride(from: range.lowerBound, to: range.upperBound, by: batchItems) {
                    let batch = first..<min(range.upperBound, first + batchItems)
                    for item in batch {
                        let slot = (item - first) * layout.slots
                        moments(
                            of: item, at: 0..<length, scratch, means: statistics.means + slot,
                            squares: statistics.squares + slot)
                    }
                    coefficients(of: batch, pieceCounts: [length], statistics)
                    for item in batch {
                        let channel = (item - first) * layout.itemChannels
                        normalize(
                            item, at: 0..<length, scratch, factors: statistics.factors + channel,
                            shifts: statistics.shifts + channel)
                    }
                }
            }
            return
        }
        // Too few items to keep every thread busy: cut each into parts, compute every piece's moments, merge them
        // per item, then normalise every piece.
        let parts = min(length, (wantedTasks + items - 1) / items)
        let statistics = BatchStatistics<T>(layout, items: items, parts: parts)
        NeuralNet.runTasks(items * parts, threads: threads) { piece in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            moments(
                of: item, at: layout.positions(part: part, of: parts), Scratch<T>(layout),
                means: statistics.means + piece * layout.slots, squares: statistics.squares + piece * layout.slots)
        }
        coefficients(
            of: 0..<items, pieceCounts: (0..<parts).map { layout.positions(part: $0, of: parts).count }, statistics)
        NeuralNet.runTasks(items * parts, threads: threads) { piece in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            normalize(
                item, at: layout.positions(part: part, of: parts), Scratch<T>(layout),
                factors: statistics.factors + item * layout.itemChannels,
                shifts: statistics.shifts + item * layout.itemChannels)
        }
    }

    /// Writes the moments of `item` over `positions` — the mean to `means[s]` and the sum of squared deviations
    /// from it to `squares[s]` for each of the layout's ``GroupNormalizationLayout/slots``.
    private func moments(
        of item: Int, at positions: Range<Int>, _ scratch: Scratch<T>, means: UnsafeMutablePointer<Double>,
        squares: UnsafeMutablePointer<Double>
    ) {
        if layout.channelsLast {
            channelsLastMoments(of: item, at: positions, scratch, means: means, squares: squares)
            return
        }
        let (start, chunkLength) = (item * layout.itemLength, GroupNormalizationLayout.chunkLength)
        var moments = Moments()
        for offset in stride(from: positions.lowerBound, to: positions.upperBound, by: chunkLength) {
            let count = min(chunkLength, positions.upperBound - offset)
            let run = UnsafeBufferPointer(start: widened(at: start + offset, count: count, scratch), count: count)
            let (sum, sumOfSquares) = NeuralNet.sumAndSumOfSquares(run)
            var sums = ChunkSums(
                count: count, center: 0, deviations: Double(sum), squaredDeviations: Double(sumOfSquares))
            if sums.cancels {
                let center = T(sums.mean)
                let (deviations, squaredDeviations) = NeuralNet.deviationSums(run, from: center)
                sums = ChunkSums(
                    count: count, center: Double(center), deviations: Double(deviations),
                    squaredDeviations: Double(squaredDeviations))
            }
            moments.add(sums)
        }
        means[0] = moments.mean
        squares[0] = moments.squares
    }

    /// ``moments(of:at:_:means:squares:)`` of a channels-last sample's rows: blocks of whole rows, every channel at
    /// once.
    private func channelsLastMoments(
        of sample: Int, at rows: Range<Int>, _ scratch: Scratch<T>, means: UnsafeMutablePointer<Double>,
        squares: UnsafeMutablePointer<Double>
    ) {
        let channels = layout.channels
        means.initialize(repeating: 0, count: channels)
        squares.initialize(repeating: 0, count: channels)
        var merged = 0
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: layout.blockRows) {
            let count = min(layout.blockRows, rows.upperBound - start)
            let block = widened(at: (sample * layout.spatial + start) * channels, count: count * channels, scratch)
            let (sums, sumsOfSquares) = (scratch.sums, scratch.squares)
            NeuralNet.columnSumsAndSumsOfSquares(
                block, rows: count, width: channels, into: sums, squares: sumsOfSquares)
            let recenter = (0..<channels).contains { channel in
                ChunkSums(
                    count: count, center: 0, deviations: Double(sums[channel]),
                    squaredDeviations: Double(sumsOfSquares[channel])
                ).cancels
            }
            if recenter {
                for channel in 0..<channels { scratch.centers[channel] = sums[channel] / T(count) }
                NeuralNet.columnDeviationSums(
                    block, rows: count, width: channels, from: scratch.centers, into: sums, squares: sumsOfSquares)
            }
            for channel in 0..<channels {
                var moments = Moments(count: merged, mean: means[channel], squares: squares[channel])
                moments.add(
                    ChunkSums(
                        count: count, center: recenter ? Double(scratch.centers[channel]) : 0,
                        deviations: Double(sums[channel]), squaredDeviations: Double(sumsOfSquares[channel])))
                means[channel] = moments.mean
                squares[channel] = moments.squares
            }
            merged += count
        }
    }

    /// Writes to `statistics` the factor a and shift b (y = a·x + b) of each channel of `items`, from the moments of
    /// their pieces: piece p of item i covered `pieceCounts[p]` positions and its moments are in slots from
    /// `((i − items.lowerBound) · pieceCounts.count + p) · slots` on.
    private func coefficients(of items: Range<Int>, pieceCounts: [Int], _ statistics: BatchStatistics<T>) {
        let (channelsPerGroup, slots, itemGroups) = (layout.channelsPerGroup, layout.slots, layout.itemGroups)
        // Channels-last, a group's moments are its channels'; channels-first the item has one group and one slot.
        let groupSlots = layout.channelsLast ? channelsPerGroup : 1
        let inverseTotal = 1 / Double(pieceCounts.reduce(0, +) * groupSlots)
        for index in 0..<items.count {
            let pieceSlots = index * pieceCounts.count * slots
            for group in 0..<itemGroups {
                let groupStart = group * groupSlots
                var sum = 0.0
                for (piece, count) in pieceCounts.enumerated() {
                    let start = pieceSlots + piece * slots + groupStart
                    for slot in start..<start + groupSlots { sum += Double(count) * statistics.means[slot] }
                }
                let mean = sum * inverseTotal
                var squaredDeviations = 0.0
                for (piece, count) in pieceCounts.enumerated() {
                    let start = pieceSlots + piece * slots + groupStart
                    for slot in start..<start + groupSlots {
                        let offset = statistics.means[slot] - mean
                        squaredDeviations += statistics.squares[slot] + Double(count) * offset * offset
                    }
                }
                statistics.groupMeans[index * itemGroups + group] = mean
                statistics.groupVariances[index * itemGroups + group] = squaredDeviations * inverseTotal
            }
        }
        // Apart, so that the square roots and divisions of many groups run side by side; in T, where they are
        // quicker for Float and the coefficients end up anyway.
        for group in 0..<items.count * itemGroups {
            let variance = T(statistics.groupVariances[group] + parameters.epsilon)
            statistics.inverseDeviations[group] = 1 / variance.squareRoot()
        }
        for (index, item) in items.enumerated() {
            for group in 0..<itemGroups {
                let slot = index * itemGroups + group
                let (mean, inverse) = (statistics.groupMeans[slot], Double(statistics.inverseDeviations[slot]))
                // The first channel of the group, counted in the tensor and counted within the item.
                let channel = (layout.channelsLast ? group : item % layout.groups) * channelsPerGroup
                let local = index * layout.itemChannels + group * channelsPerGroup
                for offset in 0..<channelsPerGroup {
                    let factor = parameters.scale[channel + offset] * inverse
                    statistics.factors[local + offset] = T(factor)
                    statistics.shifts[local + offset] = T(parameters.bias[channel + offset] - mean * factor)
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
private struct ChunkSums {
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
private struct Moments {
    var count = 0
    var mean = 0.0
    var squares = 0.0

    /// Adds a chunk (the pairwise update of Chan, Golub and LeVeque).
    @inline(__always)
    mutating func add(_ chunk: ChunkSums) {
        guard chunk.count > 0 else { return }
        let (addedMean, addedSquares) = (chunk.mean, chunk.squares)
        guard count > 0 else {
            (count, mean, squares) = (chunk.count, addedMean, addedSquares)
            return
        }
        let weight = Double(chunk.count) * (1 / Double(count + chunk.count))
        let offset = addedMean - mean
        mean += offset * weight
        squares += addedSquares + offset * offset * Double(count) * weight
        count += chunk.count
    }
}

/// One task's working memory: a chunk of converted values and per-channel sums.
private final class Scratch<T: NetFloat> {
    let values: UnsafeMutablePointer<T>
    let centers: UnsafeMutablePointer<T>
    let sums: UnsafeMutablePointer<T>
    let squares: UnsafeMutablePointer<T>

    init(_ layout: GroupNormalizationLayout) {
        // A channels-last block fits the scratch length, or is one row when rows are longer.
        values = .allocate(capacity: max(GroupNormalizationLayout.scratchLength, layout.channels))
        centers = .allocate(capacity: layout.slots)
        sums = .allocate(capacity: layout.slots)
        squares = .allocate(capacity: layout.slots)
    }

    deinit {
        for pointer in [values, centers, sums, squares] { pointer.deallocate() }
    }
}

/// The statistics of a batch of items: their pieces' moments (written by the statistics tasks, each to its own
/// slots), their groups' means and inverse deviations, and their channels' coefficients.
private final class BatchStatistics<T: NetFloat>: @unchecked Sendable {
    let means: UnsafeMutablePointer<Double>
    let squares: UnsafeMutablePointer<Double>
    let groupMeans: UnsafeMutablePointer<Double>
    let groupVariances: UnsafeMutablePointer<Double>
    let inverseDeviations: UnsafeMutablePointer<T>
    let factors: UnsafeMutablePointer<T>
    let shifts: UnsafeMutablePointer<T>

    /// Room for `items` items cut into `parts` pieces each.
    init(_ layout: GroupNormalizationLayout, items: Int, parts: Int) {
        means = .allocate(capacity: items * parts * layout.slots)
        squares = .allocate(capacity: items * parts * layout.slots)
        groupMeans = .allocate(capacity: items * layout.itemGroups)
        groupVariances = .allocate(capacity: items * layout.itemGroups)
        inverseDeviations = .allocate(capacity: items * layout.itemGroups)
        factors = .allocate(capacity: items * layout.itemChannels)
        shifts = .allocate(capacity: items * layout.itemChannels)
    }

    deinit {
        for pointer in [means, squares, groupMeans, groupVariances] { pointer.deallocate() }
        for pointer in [inverseDeviations, factors, shifts] { pointer.deallocate() }
    }
}

/// `values[i] = y · sigmoid(y)` for each `y = values[i]`, eight Float lanes at a time.
private func applySiLU<T: NetFloat>(_ values: UnsafeMutablePointer<T>, count: Int) {
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
