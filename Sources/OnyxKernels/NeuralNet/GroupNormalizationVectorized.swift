import COnyxSIMD
import OnyxCore

// GroupNormalization's AVX2 and FMA steps: the Swift side of COnyxSIMD's loops, for Float inputs on CPUs that have
// them (`VectorExtensions`). Unsafe pointers are cast to Float here, where `vectorizedSteps` guarantees it.

extension GroupNormalizationPass {
    /// Channels-first with float sums: normalises `count` items from `first` on and writes the float sums and
    /// sums of squares of as many items from `nextFirst` on to the batch's group sums, in one call of COnyxSIMD.
    func normalizeItems(_ first: Int, count: Int, summing nextFirst: Int, _ statistics: BatchStatistics<T>) {
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
    func normalizeRows(
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
    func sumGroups(
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
    func foldChannelSums(
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
    func vectorizedCoefficients(of items: Range<Int>, _ statistics: BatchStatistics<T>) -> Bool {
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
            let target = UnsafeMutableRawPointer(output.base + offset).assumingMemoryBound(to: Float.self)
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
}
