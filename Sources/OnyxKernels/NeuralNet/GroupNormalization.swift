import OnyxCore

// GroupNormalization in every form Onyx runs: ONNX's InstanceNormalization (one group per channel), ONNX's
// GroupNormalization (opsets 18–20: scale and bias per group; from 21: per channel, with stash_type) and Onyx's own
// (domain ai.onyx, made by the graph's fusion pass: per-channel scale and bias that may be computed at run time,
// a channels-last layout, and a SiLU applied in the same pass).
//
// One engine serves them all, reading the tensor twice and writing it once: a read pass for the statistics, then a
// read-write pass applying y = a·x + b per channel (a = scale / √(variance + ε), b = bias − mean · a) and the
// activation. (A group or sample small enough to stay in L1 between the two is read from memory once.) The
// statistics are moments built chunk by chunk (per group channels-first, per channel channels-last): each chunk's
// sum and sum of squares, or — when those would cancel, the values lying far from zero compared with their spread —
// the sums of its deviations from its mean and of their squares, taken again while the chunk is in L1. Chunks merge
// in Double (Chan, Golub and LeVeque), so the variance stays accurate for any offset, and half-precision inputs
// accumulate in Float.
//
// The work goes in items: a (sample, group) channels-first, whose values are one contiguous run, and a whole sample
// channels-last, where every row interleaves all groups (read row by row with per-channel vectors; no transpose is
// made). Items go in batches: statistics, then coefficients (the square roots and divisions of many small groups side
// by side), then normalisation, which finds the batch still in L2. On large inputs with small groups the statistics
// of the next batch are summed in short steps between the steps normalising this one, so that the read and the
// write streams overlap (see `runPipelined`). When there are too few items for the threads, each is also cut into
// pieces, and the two passes run one after the other over all pieces.
//
// This file holds the operators' attributes and checks and the layout; GroupNormalizationPass.swift the engine;
// GroupNormalizationVectorized.swift its AVX2 loops (COnyxSIMD).

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
    /// Values of one item.
    var itemValues: Int { itemChannels * spatial }
    /// Values of one group.
    var groupValues: Int { channelsPerGroup * spatial }
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
    /// such batches (this one read, the next one read, this one written) fit L2. Also the largest item whose sums
    /// the AVX2 loops keep in float: channels-first 16 lanes of at most 1,024 values each, channels-last a channel's
    /// sum over at most 16,384 rows (one channel a sample), which the cancellation test does not cover.
    static let interleavedItemValues = 16384

    /// The most channels a group may have for COnyxSIMD's channels-last coefficients, whose C loop folds groups
    /// into tiles of 512 channels.
    static let vectorizedChannelsPerGroup = 512

    /// Inputs smaller than this (in bytes) are not interleaved by the Swift loops: X and Y then stay in the
    /// last-level cache, the statistics pass reads quickly, and the Swift loop's extra instructions (baseline
    /// x86-64 has no FMA and 4-lane vectors) cost more than the overlap gains; on the benchmark machine the
    /// crossover lies between 4 and 8 MiB. The AVX2 loops interleave every input.
    static let interleavedInputBytes = 6 << 20

    /// True when COnyxSIMD's AVX2 loop for short items takes these, eight at a time, reading each value from memory
    /// once: channels-first items of at most 128 values and two channels, planes of at least 8 values.
    var shortItems: Bool { !channelsLast && itemLength <= 128 && channelsPerGroup <= 2 && spatial >= 8 }

    /// True when COnyxSIMD's AVX2 loop can take a channels-last sample whole — summed, then normalised while L1
    /// still holds it: samples of at most 4,096 values (16 KB), 8 channels or more.
    var sampleFitsL1: Bool {
        channelsLast && itemValues <= 4096 && channels >= 8 && channelsPerGroup <= Self.vectorizedChannelsPerGroup
    }

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
    /// Float inputs may run the AVX2 and FMA loops of COnyxSIMD.
    let usesAVX2FMA: Bool

    /// Runs `body` with the per-channel scale and bias.
    func withScaleAndBias<R>(_ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>) -> R) -> R {
        scale.withUnsafeBufferPointer { scale in bias.withUnsafeBufferPointer { bias in body(scale, bias) } }
    }

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
