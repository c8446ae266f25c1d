import COnyxSIMD
import OnyxCore

// GroupNormalization's AVX2 and FMA steps: the Swift side of COnyxSIMD's loops, for Float inputs on CPUs that have
// them (`VectorExtensions`). Unsafe pointers are cast to Float here, where `vectorizedSteps` guarantees it.

extension GroupNormalizationPass {
    /// Short channels-first items (``GroupNormalizationLayout/shortItems``): normalises `items` in one call of
    /// COnyxSIMD's loop, which reads each item from memory once.
    func normalizeShortItems(_ items: Range<Int>) {
        #if arch(x86_64)
            let offset = items.lowerBound * layout.itemValues
            let target = outputFloats(at: offset)
            parameters.withScaleAndBias { scale, bias in
                onyx_gn_short_items_f32(
                    inputFloats(at: offset), target, items.count, layout.itemLength, layout.spatial,
                    scale.baseAddress, bias.baseAddress, Float(parameters.epsilon), items.lowerBound % layout.groups,
                    layout.groups)
            }
            if parameters.silu { applySiLU(target, count: items.count * layout.itemValues) }
        #endif
    }

    /// Channels-last samples that fit L1 (``GroupNormalizationLayout/sampleFitsL1``): sums and normalises `sample`
    /// in one call of COnyxSIMD, which works in `workspace` (``sampleWorkspaceFloats`` Floats); false, with nothing
    /// written, when some group's float sums would cancel.
    func normalizeSample(_ sample: Int, workspace: UnsafeMutablePointer<Float>) -> Bool {
        #if arch(x86_64)
            let offset = sample * layout.itemValues
            let target = outputFloats(at: offset)
            let normalized = parameters.withScaleAndBias { scale, bias in
                onyx_gn_sample_f32(
                    inputFloats(at: offset), target, layout.spatial, layout.channels, layout.channelsPerGroup,
                    scale.baseAddress, bias.baseAddress, Float(parameters.epsilon), workspace) == 0
            }
            if normalized && parameters.silu { applySiLU(target, count: layout.itemValues) }
            return normalized
        #else
            return false
        #endif
    }

    /// The Floats ``normalizeSample(_:workspace:)`` works in.
    var sampleWorkspaceFloats: Int { 4 * layout.channels }

    /// Channels-first with float sums, in one call of COnyxSIMD's loop over whole items: normalises the items of
    /// `batch` with the batch's float means and inverses, and writes the float sums and sums of squares of the
    /// items of `nextBatch` to the batch's float sums. Either may be empty.
    func normalizeItems(_ batch: Range<Int>, summing nextBatch: Range<Int>, _ statistics: BatchStatistics<T>) {
        #if arch(x86_64)
            let (offset, nextOffset) = (batch.lowerBound * layout.itemValues, nextBatch.lowerBound * layout.itemValues)
            let target = outputFloats(at: offset)
            parameters.withScaleAndBias { scale, bias in
                onyx_gn_items_normalize_and_sum_f32(
                    inputFloats(at: offset), target, batch.count, inputFloats(at: nextOffset), nextBatch.count,
                    layout.itemLength, layout.spatial, statistics.floatMeans, floats(statistics.variances),
                    scale.baseAddress, bias.baseAddress, batch.lowerBound % layout.groups, layout.groups,
                    statistics.floatSums, statistics.floatSquares)
            }
            if parameters.silu { applySiLU(target, count: batch.count * layout.itemValues) }
        #endif
    }

    /// Channels-first with float sums: the float mean and 1/√(variance + ε) of each item of `batch` from its float
    /// sums, eight side by side in COnyxSIMD; false, with nothing usable written, when some item's sums would
    /// cancel.
    func vectorizedMoments(of batch: Range<Int>, _ statistics: BatchStatistics<T>) -> Bool {
        #if arch(x86_64)
            onyx_gn_moments_f32(
                statistics.floatSums, statistics.floatSquares, batch.count, layout.groupValues,
                Float(parameters.epsilon), statistics.floatMeans, floats(statistics.variances)) == 0
        #else
            false
        #endif
    }

    /// Channels-last: one pass of COnyxSIMD's rows loop over `rows` rows. With `normalizing`, normalises the rows
    /// from that value offset of the input into the output (then SiLU); with `summing`, writes the float sums and
    /// sums of squares of each channel over the rows from that value offset to `sums` and `squares`.
    func rowsStep(
        rows: Int, normalizing: (offset: Int, factors: UnsafePointer<T>, shifts: UnsafePointer<T>)?,
        summing nextOffset: Int?, into sums: UnsafeMutablePointer<Float>?, squares: UnsafeMutablePointer<Float>?
    ) {
        #if arch(x86_64)
            let target = normalizing.map { outputFloats(at: $0.offset) }
            onyx_gn_rows_normalize_and_sum_f32(
                normalizing.map { inputFloats(at: $0.offset) }, target, nextOffset.map(inputFloats(at:)), rows,
                layout.channels, normalizing.map { floats($0.factors) }, normalizing.map { floats($0.shifts) }, sums,
                squares)
            if let target, parameters.silu { applySiLU(target, count: rows * layout.channels) }
        #endif
    }

    /// Channels-last with float sums: the coefficients of the samples of `batch` computed side by side by
    /// COnyxSIMD from their channels' float sums; false, with nothing usable written, when some group's sums
    /// would cancel.
    func vectorizedCoefficients(of batch: Range<Int>, _ statistics: BatchStatistics<T>) -> Bool {
        #if arch(x86_64)
            parameters.withScaleAndBias { scale, bias in
                onyx_gn_coefficients_f32(
                    statistics.floatSums, statistics.floatSquares, batch.count, layout.channels,
                    layout.channelsPerGroup, layout.spatial, scale.baseAddress, bias.baseAddress,
                    Float(parameters.epsilon), floats(statistics.factors), floats(statistics.shifts)) == 0
            }
        #else
            false
        #endif
    }

    /// Float inputs run the AVX2 and FMA loops of COnyxSIMD, whose arithmetic stays below the memory time at any
    /// input size (the Swift loops, compiled for baseline x86-64, do not).
    var vectorizedSteps: Bool {
        parameters.usesAVX2FMA && Element.self == Float.self && T.self == Float.self
    }

    /// Channels-first with ``vectorizedSteps``: normalises `positions` of `item` and adds the same positions of
    /// `nextItem` to its moments at `slots`, in one pass of COnyxSIMD's loop.
    func normalizeChunk(
        _ item: Int, at positions: Range<Int>, factors: UnsafePointer<T>, shifts: UnsafePointer<T>,
        addingMomentsOf nextItem: Int, to slots: UnsafeMutablePointer<Moments>
    ) {
        #if arch(x86_64)
            let (offset, nextOffset) = (item * layout.itemLength, nextItem * layout.itemLength)
            let target = outputFloats(at: offset)
            var (sum, squares): (Float, Float) = (0, 0)
            onyx_gn_normalize_and_sum_f32(
                inputFloats(at: offset), target, inputFloats(at: nextOffset), positions.lowerBound, positions.count,
                layout.spatial, floats(factors), floats(shifts), &sum, &squares)
            if parameters.silu { applySiLU(target + positions.lowerBound, count: positions.count) }
            let next = UnsafeRawPointer(input.base + nextOffset + positions.lowerBound).assumingMemoryBound(to: T.self)
            slots[0].add(
                chunkSums(UnsafeBufferPointer(start: next, count: positions.count), T(sum), T(squares)))
        #endif
    }

    /// Channels-last with ``vectorizedSteps``: normalises the block of `rows` of `sample` and adds the same rows
    /// of `nextSample` to its moments at `slots`, in one pass of COnyxSIMD's loop.
    func normalizeRows(
        _ sample: Int, at rows: Range<Int>, _ scratch: Scratch<T>, factors: UnsafePointer<T>,
        shifts: UnsafePointer<T>, addingMomentsOf nextSample: Int, to slots: UnsafeMutablePointer<Moments>
    ) {
        let nextOffset = (nextSample * layout.spatial + rows.lowerBound) * layout.channels
        rowsStep(
            rows: rows.count,
            normalizing: ((sample * layout.spatial + rows.lowerBound) * layout.channels, factors, shifts),
            summing: nextOffset, into: floats(scratch.sums), squares: floats(scratch.squares))
        let nextBlock = UnsafeRawPointer(input.base + nextOffset).assumingMemoryBound(to: T.self)
        addGroupMoments(of: nextBlock, rows: rows.count, to: slots, scratch)
    }

    /// `pointer` as the Float pointer it is when ``vectorizedSteps``.
    @inline(__always)
    func floats(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    @inline(__always)
    func floats(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    /// The input from `offset` on, as the Float values it holds when ``vectorizedSteps``.
    @inline(__always)
    func inputFloats(at offset: Int) -> UnsafePointer<Float> {
        UnsafeRawPointer(input.base + offset).assumingMemoryBound(to: Float.self)
    }

    /// The output from `offset` on, as the Float values it holds when ``vectorizedSteps``.
    @inline(__always)
    func outputFloats(at offset: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: Float.self)
    }
}
