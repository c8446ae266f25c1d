import COnyxSIMD
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
// made). Items go in batches: statistics, then coefficients (the square roots and divisions of many small groups side
// by side), then normalisation, which finds the batch still in L2. On large inputs with small groups the statistics
// of the next batch are summed in short steps between the steps normalising this one, so that the read and the
// write streams overlap (see `runPipelined`). When there are too few items for the threads, each is also cut into
// pieces, and the two passes run one after the other over all pieces.

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
            epsilon: Double(epsilon), silu: silu, usesAVX2FMA: VectorExtensions.useAVX2FMA)
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
    /// Stored rather than computed: the per-item loops read it, and a division there costs as much as a small
    /// group's arithmetic.
    let channelsPerGroup: Int

    init(samples: Int, channels: Int, groups: Int, spatial: Int, channelsLast: Bool) {
        (self.samples, self.channels, self.groups, self.spatial) = (samples, channels, groups, spatial)
        self.channelsLast = channelsLast
        channelsPerGroup = channels / groups
    }
    /// Units of work. Channels-first one is a (sample, group): one contiguous run of `channelsPerGroup · spatial`
    /// values. Channels-last one is a sample: `spatial` rows of `channels` values, the groups interleaved in each.
    var items: Int { channelsLast ? samples : samples * groups }
    /// What an item is cut along into pieces: its values channels-first, its rows channels-last.
    var itemLength: Int { channelsLast ? spatial : channelsPerGroup * spatial }
    /// Moments per piece: one per group the item covers.
    var slots: Int { itemGroups }
    /// Values of one item.
    var itemValues: Int { itemChannels * spatial }
    /// Values of one group in one item.
    var groupValues: Int { channelsLast ? spatial * channelsPerGroup : itemLength }
    /// Channels an item covers.
    var itemChannels: Int { channelsLast ? channels : channelsPerGroup }
    /// Groups an item covers.
    var itemGroups: Int { channelsLast ? groups : 1 }

    /// Values the statistics pass sums in the compute type before merging the sums into the Double moments
    /// (channels-first), and rows it sums so per channel (channels-last).
    static let chunkLength = 2048

    /// Values of the scratch space other element types are converted through, a chunk or a block at a time.
    static let scratchLength = 8192

    /// Values of the items normalised as one batch (or one item, if larger): their coefficients are computed
    /// together, and their normalisation finds them still in L2. Interleaved batches are smaller, because three
    /// of them (this one read, the next one read, this one written) share L2.
    static func batchValues(interleaved: Bool) -> Int { interleaved ? 8192 : 32_768 }

    /// The largest item whose normalisation the Swift loops interleave with the next batch's statistics: three
    /// such batches (this one read, the next one read, this one written) fit L2.
    static let interleavedItemValues = 16384

    /// Inputs smaller than this (in bytes) are not interleaved by the Swift loops: X and Y then stay in the
    /// last-level cache, the statistics pass reads quickly, and the Swift loop's extra instructions (baseline
    /// x86-64 has no FMA and 4-lane vectors) cost more than the overlap gains; on the benchmark machine the
    /// crossover lies between 4 and 8 MiB. The AVX2 loops interleave every input.
    static let interleavedInputBytes = 6 << 20

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
    /// Float's interleaved steps may run the AVX2 and FMA loop of COnyxSIMD.
    let usesAVX2FMA: Bool

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
    private func runPipelined(_ items: Range<Int>) {
        let itemValues = layout.itemChannels * layout.spatial
        let interleaved =
            vectorizedSteps
            || (itemValues <= GroupNormalizationLayout.interleavedItemValues
                && layout.items * itemValues * MemoryLayout<Element>.stride
                    >= GroupNormalizationLayout.interleavedInputBytes)
        let batchItems = max(1, GroupNormalizationLayout.batchValues(interleaved: interleaved) / itemValues)
        let statistics = BatchStatistics<T>(layout, items: min(batchItems, items.count), pieces: 1)
        let scratch = Scratch<T>(layout)
        // Positions of one interleaved step: a block of rows channels-last; channels-first a chunk, four times
        // longer for the AVX2 loop, whose 16 float lanes stay accurate over it and whose calls then cost less.
        let span =
            layout.channelsLast
            ? layout.blockRows : GroupNormalizationLayout.chunkLength * (vectorizedSteps ? 4 : 1)
        let chunksPerItem = (layout.itemLength + span - 1) / span
        // Items of up to 64 KB with the AVX2 loops: each group's float sums (16 lanes of at most 1,024 values) go
        // to vectorised coefficients, and only a batch whose sums would cancel has its moments taken exactly.
        let floatSums =
            vectorizedSteps && layout.itemValues <= GroupNormalizationLayout.interleavedItemValues
            && layout.channelsPerGroup <= 512
        func batch(from first: Int) -> Range<Int> { first..<min(items.upperBound, first + batchItems) }
        func sumStatistics(of batch: Range<Int>) {
            for index in 0..<batch.count {
                let slots = statistics.moments + index * layout.slots
                slots.update(repeating: Moments(), count: layout.slots)
                addMoments(of: batch.lowerBound + index, at: 0..<layout.itemLength, to: slots, scratch)
            }
        }

        var current = batch(from: items.lowerBound)
        if floatSums {
            for index in 0..<current.count {
                sumGroups(
                    of: current.lowerBound + index, into: statistics.groupSums + index * layout.itemGroups,
                    squares: statistics.groupSquares + index * layout.itemGroups, scratch)
            }
        } else {
            sumStatistics(of: current)
        }
        while !current.isEmpty {
            if !floatSums || !vectorizedCoefficients(of: current, statistics) {
                if floatSums { sumStatistics(of: current) }
                coefficients(of: current, pieces: 1, statistics)
            }
            let next = batch(from: current.upperBound)
            // Channels-first items with float sums go to COnyxSIMD a batch at a time.
            let batched = floatSums && !layout.channelsLast ? min(current.count, next.count) : 0
            if batched > 0 {
                normalizeItems(current.lowerBound, count: batched, summing: next.lowerBound, statistics)
            }
            for index in batched..<current.count {
                let (item, nextItem) = (current.lowerBound + index, next.lowerBound + index)
                let (factors, shifts) = (
                    statistics.factors + index * layout.itemChannels, statistics.shifts + index * layout.itemChannels
                )
                guard interleaved && index < next.count else {
                    normalize(item, at: 0..<layout.itemLength, scratch, factors: factors, shifts: shifts)
                    continue
                }
                if floatSums {
                    normalizeRows(
                        item, factors: factors, shifts: shifts, summingGroupsOf: nextItem,
                        into: statistics.groupSums + index * layout.itemGroups,
                        squares: statistics.groupSquares + index * layout.itemGroups, scratch)
                    continue
                }
                let slots = statistics.moments + index * layout.slots
                slots.update(repeating: Moments(), count: layout.slots)
                for piece in 0..<chunksPerItem {
                    let positions = piece * span..<min(layout.itemLength, (piece + 1) * span)
                    if vectorizedSteps && layout.channelsLast {
                        normalizeRows(
                            item, at: positions, scratch, factors: factors, shifts: shifts,
                            addingMomentsOf: nextItem, to: slots)
                    } else if Element.self == T.self && !layout.channelsLast {
                        normalize(
                            item, at: positions, factors: factors, shifts: shifts, addingMomentsOf: nextItem, to: slots)
                    } else {
                        normalize(item, at: positions, scratch, factors: factors, shifts: shifts)
                        addMoments(of: nextItem, at: positions, to: slots, scratch)
                    }
                }
            }
            if !interleaved { sumStatistics(of: next) }
            current = next
        }
    }

    /// Channels-first with float sums: normalises `count` items from `first` on and writes the float sums and
    /// sums of squares of as many items from `nextFirst` on to the batch's group sums, in one call of COnyxSIMD.
    private func normalizeItems(_ first: Int, count: Int, summing nextFirst: Int, _ statistics: BatchStatistics<T>) {
        #if arch(x86_64)
            let offset = first * layout.itemValues
            let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: Float.self)
            onyx_gn_items_normalize_and_sum_f32(
                inputFloats(at: offset), target, inputFloats(at: nextFirst * layout.itemValues), count,
                layout.itemLength, layout.spatial, floats(statistics.factors), floats(statistics.shifts),
                statistics.groupSums, statistics.groupSquares)
            if parameters.silu { applySiLU(target, count: count * layout.itemValues) }
        #endif
    }

    /// Channels-last with float sums: normalises the whole of `sample` and writes the float sums and sums of
    /// squares of each group of `nextSample` to `sums` and `squares`, in one pass of COnyxSIMD's loop.
    private func normalizeRows(
        _ sample: Int, factors: UnsafePointer<T>, shifts: UnsafePointer<T>, summingGroupsOf nextSample: Int,
        into sums: UnsafeMutablePointer<Float>, squares: UnsafeMutablePointer<Float>, _ scratch: Scratch<T>
    ) {
        #if arch(x86_64)
            let (offset, nextOffset) = (sample * layout.itemValues, nextSample * layout.itemValues)
            let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: Float.self)
            onyx_gn_rows_normalize_and_sum_f32(
                inputFloats(at: offset), target, inputFloats(at: nextOffset), layout.spatial, layout.channels,
                floats(factors), floats(shifts), floats(scratch.sums), floats(scratch.squares))
            foldChannelSums(scratch, into: sums, squares: squares)
            if parameters.silu { applySiLU(target, count: layout.itemValues) }
        #endif
    }

    /// With float group sums: writes the float sums and sums of squares of each group of `item` to `sums` and
    /// `squares`.
    private func sumGroups(
        of item: Int, into sums: UnsafeMutablePointer<Float>, squares: UnsafeMutablePointer<Float>,
        _ scratch: Scratch<T>
    ) {
        #if arch(x86_64)
            let offset = item * layout.itemValues
            if layout.channelsLast {
                onyx_gn_rows_normalize_and_sum_f32(
                    nil, nil, inputFloats(at: offset), layout.spatial, layout.channels, nil, nil,
                    floats(scratch.sums), floats(scratch.squares))
                foldChannelSums(scratch, into: sums, squares: squares)
            } else {
                (sums[0], squares[0]) = NeuralNet.sumAndSumOfSquares(
                    UnsafeBufferPointer(start: inputFloats(at: offset), count: layout.itemLength))
            }
        #endif
    }

    /// Channels-last: each group's sums from its channels' sums in scratch.
    private func foldChannelSums(
        _ scratch: Scratch<T>, into sums: UnsafeMutablePointer<Float>, squares: UnsafeMutablePointer<Float>
    ) {
        let (channelSums, channelSquares) = (floats(scratch.sums), floats(scratch.squares))
        let channelsPerGroup = layout.channelsPerGroup
        for group in 0..<layout.groups {
            var (sum, square): (Float, Float) = (0, 0)
            for channel in group * channelsPerGroup..<(group + 1) * channelsPerGroup {
                sum += channelSums[channel]
                square += channelSquares[channel]
            }
            (sums[group], squares[group]) = (sum, square)
        }
    }

    /// With float group sums: the coefficients of `items` computed side by side by COnyxSIMD; false, with nothing
    /// usable written, when some group's sums would cancel.
    private func vectorizedCoefficients(of items: Range<Int>, _ statistics: BatchStatistics<T>) -> Bool {
        #if arch(x86_64)
            parameters.scale.withUnsafeBufferPointer { scale in
                parameters.bias.withUnsafeBufferPointer { bias in
                    onyx_gn_coefficients_f32(
                        statistics.groupSums, statistics.groupSquares, items.count * layout.itemGroups,
                        layout.groupValues, layout.channelsPerGroup, layout.channelsLast ? 0 : items.lowerBound,
                        layout.groups, scale.baseAddress, bias.baseAddress, Float(parameters.epsilon),
                        floats(statistics.factors), floats(statistics.shifts)) == 0
                }
            }
        #else
            false
        #endif
    }

    /// Float's interleaved steps run the AVX2 and FMA loops of COnyxSIMD, whose arithmetic stays below the
    /// memory time at any input size (the Swift loops, compiled for baseline x86-64, do not).
    private var vectorizedSteps: Bool {
        parameters.usesAVX2FMA && Element.self == Float.self && T.self == Float.self
    }

    /// Channels-last with ``vectorizedSteps``: normalises the block of `rows` of `sample` and adds the same rows
    /// of `nextSample` to its moments at `slots`, in one pass of COnyxSIMD's loop.
    private func normalizeRows(
        _ sample: Int, at rows: Range<Int>, _ scratch: Scratch<T>, factors: UnsafePointer<T>,
        shifts: UnsafePointer<T>, addingMomentsOf nextSample: Int, to slots: UnsafeMutablePointer<Moments>
    ) {
        #if arch(x86_64)
            let channels = layout.channels
            let offset = (sample * layout.spatial + rows.lowerBound) * channels
            let nextOffset = (nextSample * layout.spatial + rows.lowerBound) * channels
            let nextBlock = UnsafeRawPointer(input.base + nextOffset).assumingMemoryBound(to: T.self)
            let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: T.self)
            onyx_gn_rows_normalize_and_sum_f32(
                inputFloats(at: offset), floats(target), floats(nextBlock), rows.count, channels, floats(factors),
                floats(shifts), floats(scratch.sums), floats(scratch.squares))
            if parameters.silu { applySiLU(target, count: rows.count * channels) }
            addGroupMoments(of: nextBlock, rows: rows.count, to: slots, scratch)
        #endif
    }

    /// `pointer` as the Float pointer it is when ``vectorizedSteps``.
    @inline(__always)
    private func floats(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    @inline(__always)
    private func floats(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
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
        #if arch(x86_64)
            if vectorizedSteps {
                var (sum, squares): (Float, Float) = (0, 0)
                onyx_gn_normalize_and_sum_f32(
                    floats(source), floats(target), floats(next), positions.lowerBound, positions.count,
                    layout.spatial, floats(factors), floats(shifts), &sum, &squares)
                if parameters.silu { applySiLU(target + positions.lowerBound, count: positions.count) }
                slots[0].add(
                    chunkSums(
                        UnsafeBufferPointer(start: next + positions.lowerBound, count: positions.count), T(sum),
                        T(squares)))
                return
            }
        #endif
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
        NeuralNet.runTasks(items * parts, threads: threads) { piece in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            let slots = statistics.moments + piece * layout.slots
            slots.update(repeating: Moments(), count: layout.slots)
            addMoments(of: item, at: layout.positions(part: part, of: parts), to: slots, Scratch<T>(layout))
        }
        coefficients(of: 0..<items, pieces: parts, statistics)
        NeuralNet.runTasks(items * parts, threads: threads) { piece in
            let (item, part) = piece.quotientAndRemainder(dividingBy: parts)
            normalize(
                item, at: layout.positions(part: part, of: parts), Scratch<T>(layout),
                factors: statistics.factors + item * layout.itemChannels,
                shifts: statistics.shifts + item * layout.itemChannels)
        }
    }

    /// Adds the values of `item` over `positions` to its moments at `slots` (one per
    /// ``GroupNormalizationLayout/slots``), a chunk at a time.
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
    private func chunkSums(_ run: UnsafeBufferPointer<T>, _ sum: T, _ squares: T) -> ChunkSums {
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
                    onyx_gn_rows_normalize_and_sum_f32(
                        nil, nil, floats(block), count, channels, nil, nil, floats(scratch.sums),
                        floats(scratch.squares))
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
    private func addGroupMoments(
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

    /// Writes to `statistics` the factor a and shift b (y = a·x + b) of each channel of `items`, from the moments
    /// of their pieces: those of item i's piece p start at slot `((i − items.lowerBound) · pieces + p) · slots`.
    /// Tight loops, since with small groups this runs once every few hundred values.
    private func coefficients(of items: Range<Int>, pieces: Int, _ statistics: BatchStatistics<T>) {
        let (channelsPerGroup, itemGroups) = (layout.channelsPerGroup, layout.itemGroups)
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
        parameters.scale.withUnsafeBufferPointer { scale in
            parameters.bias.withUnsafeBufferPointer { bias in
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
                        let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: T.self)
                        onyx_gn_rows_normalize_and_sum_f32(
                            inputFloats(at: offset), floats(target), nil, rows, channels,
                            floats(factors), floats(shifts), nil, nil)
                        if parameters.silu { applySiLU(target, count: rows * channels) }
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

    /// The input from `offset` on, as the Float values it holds when ``vectorizedSteps``.
    @inline(__always)
    private func inputFloats(at offset: Int) -> UnsafePointer<Float> {
        UnsafeRawPointer(input.base + offset).assumingMemoryBound(to: Float.self)
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

/// One task's working memory: a chunk of converted values and per-channel sums.
private final class Scratch<T: NetFloat> {
    let values: UnsafeMutablePointer<T>
    let centers: UnsafeMutablePointer<T>
    let sums: UnsafeMutablePointer<T>
    let squares: UnsafeMutablePointer<T>

    init(_ layout: GroupNormalizationLayout) {
        // A channels-last block fits the scratch length, or is one row when rows are longer.
        values = .allocate(capacity: max(GroupNormalizationLayout.scratchLength, layout.channels))
        centers = .allocate(capacity: layout.itemChannels)
        sums = .allocate(capacity: layout.itemChannels)
        squares = .allocate(capacity: layout.itemChannels)
    }

    deinit {
        for pointer in [values, centers, sums, squares] { pointer.deallocate() }
    }
}

/// The statistics of a batch of items: their pieces' moments (each piece summed by one task into its own slots),
/// their groups' means and variances, and their channels' coefficients.
private final class BatchStatistics<T: NetFloat>: @unchecked Sendable {
    let moments: UnsafeMutablePointer<Moments>
    /// Each group's sum and sum of squares in float, for the vectorised coefficients.
    let groupSums: UnsafeMutablePointer<Float>
    let groupSquares: UnsafeMutablePointer<Float>
    let groupMeans: UnsafeMutablePointer<Double>
    /// Each group's variance + ε, then replaced by 1/√(variance + ε).
    let variances: UnsafeMutablePointer<T>
    let factors: UnsafeMutablePointer<T>
    let shifts: UnsafeMutablePointer<T>

    /// Room for `items` items cut into `pieces` pieces each.
    init(_ layout: GroupNormalizationLayout, items: Int, pieces: Int) {
        moments = .allocate(capacity: items * pieces * layout.slots)
        moments.initialize(repeating: Moments(), count: items * pieces * layout.slots)
        groupMeans = .allocate(capacity: items * layout.itemGroups)
        variances = .allocate(capacity: items * layout.itemGroups)
        groupSums = .allocate(capacity: items * layout.itemGroups)
        groupSquares = .allocate(capacity: items * layout.itemGroups)
        factors = .allocate(capacity: items * layout.itemChannels)
        shifts = .allocate(capacity: items * layout.itemChannels)
    }

    deinit {
        moments.deallocate()
        for pointer in [groupSums, groupSquares] { pointer.deallocate() }
        groupMeans.deallocate()
        for pointer in [variances, factors, shifts] { pointer.deallocate() }
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
