import OnyxCore

/// A copy of an n-dimensional box of elements between two buffers: the one loop that Transpose, Slice, Concat,
/// Split, Pad, Tile, DepthToSpace and the rest share instead of each walking indices by hand.
///
/// The element at multi-index `i` (`0 ≤ i < extents`) moves from `source[sourceOffset + Σ i·sourceStrides]`
/// to `destination[destinationOffset + Σ i·destinationStrides]`. Strides count elements; a negative source
/// stride reads backwards, a zero one repeats an element.
struct StridedRegion {
    var extents: [Int]
    var sourceStrides: [Int]
    var sourceOffset: Int
    var destinationStrides: [Int]
    var destinationOffset: Int

    init(
        extents: [Int], sourceStrides: [Int], sourceOffset: Int = 0, destinationStrides: [Int],
        destinationOffset: Int = 0
    ) {
        precondition(extents.count == sourceStrides.count && extents.count == destinationStrides.count)
        self.extents = extents
        self.sourceStrides = sourceStrides
        self.sourceOffset = sourceOffset
        self.destinationStrides = destinationStrides
        self.destinationOffset = destinationOffset
    }

    /// The box of `extents` starting at `sourceStart` of a row-major tensor of `sourceShape` (stepping by
    /// `sourceSteps`, default 1, along each axis), copied to `destinationStart` of one of `destinationShape`.
    init(
        box extents: [Int], from sourceShape: [Int], start sourceStart: [Int], steps sourceSteps: [Int]? = nil,
        to destinationShape: [Int], start destinationStart: [Int]
    ) {
        let sourceStrides = RowMajor.strides(sourceShape)
        let destinationStrides = RowMajor.strides(destinationShape)
        let steps = sourceSteps ?? Array(repeating: 1, count: extents.count)
        self.init(
            extents: extents,
            sourceStrides: zip(sourceStrides, steps).map { $0 * $1 },
            sourceOffset: zip(sourceStart, sourceStrides).reduce(0) { $0 + $1.0 * $1.1 },
            destinationStrides: destinationStrides,
            destinationOffset: zip(destinationStart, destinationStrides).reduce(0) { $0 + $1.0 * $1.1 })
    }

    /// All of a row-major tensor of `shape`, copied to one of the same shape.
    init(whole shape: [Int]) {
        let strides = RowMajor.strides(shape)
        self.init(extents: shape, sourceStrides: strides, destinationStrides: strides)
    }

    /// The whole of a row-major tensor of `shape`, read with its axes in `permutation` order: the copy that
    /// writes the transposed tensor contiguously.
    init(transposing shape: [Int], permutation: [Int]) {
        let strides = RowMajor.strides(shape)
        let extents = permutation.map { shape[$0] }
        self.init(
            extents: extents, sourceStrides: permutation.map { strides[$0] },
            destinationStrides: RowMajor.strides(extents))
    }

    /// Copies the region. Every addressed element must lie inside both buffers (checked); `source` may be
    /// `destination` itself when the two parts do not overlap.
    func copy<E: MovableElement>(from source: UnsafeBufferPointer<E>, to destination: UnsafeMutableBufferPointer<E>) {
        guard !extents.contains(0) else { return }
        precondition(Self.addresses(sourceOffset, sourceStrides, extents, within: source.count), "source out of bounds")
        precondition(
            Self.addresses(destinationOffset, destinationStrides, extents, within: destination.count),
            "destination out of bounds")
        guard let sourceBase = source.baseAddress, let destinationBase = destination.baseAddress else { return }
        simplified().run(from: sourceBase + sourceOffset, to: destinationBase + destinationOffset)
    }

    private static func addresses(_ offset: Int, _ strides: [Int], _ extents: [Int], within count: Int) -> Bool {
        var low = offset
        var high = offset
        for (stride, extent) in zip(strides, extents) {
            let span = stride * (extent - 1)
            if span < 0 { low += span } else { high += span }
        }
        return low >= 0 && high < count
    }

    /// The same copy with unit axes dropped and adjacent axes merged wherever both sides are contiguous
    /// across them, so that copies of contiguous runs become a few long moves.
    private func simplified() -> StridedRegion {
        var extents: [Int] = []
        var sourceStrides: [Int] = []
        var destinationStrides: [Int] = []
        for axis in self.extents.indices where self.extents[axis] != 1 {
            let extent = self.extents[axis]
            let sourceStride = self.sourceStrides[axis]
            let destinationStride = self.destinationStrides[axis]
            if let last = extents.indices.last,
                sourceStrides[last] == extent * sourceStride, destinationStrides[last] == extent * destinationStride
            {
                extents[last] *= extent
                sourceStrides[last] = sourceStride
                destinationStrides[last] = destinationStride
            } else {
                extents.append(extent)
                sourceStrides.append(sourceStride)
                destinationStrides.append(destinationStride)
            }
        }
        return StridedRegion(extents: extents, sourceStrides: sourceStrides, destinationStrides: destinationStrides)
    }

    /// Runs a simplified copy (offsets already applied to the pointers).
    private func run<E>(from source: UnsafePointer<E>, to destination: UnsafeMutablePointer<E>) {
        guard let inner = extents.indices.last else {
            destination.pointee = source.pointee
            return
        }
        let count = extents[inner]
        let sourceStride = sourceStrides[inner]
        let destinationStride = destinationStrides[inner]
        if sourceStride == 1 && destinationStride == 1 {
            forEachRow(outerAxes: inner, source, destination) { from, to in to.update(from: from, count: count) }
        } else if destinationStride == 1,
            let across = extents.indices.dropLast().last(where: { sourceStrides[$0] == 1 })
        {
            // A transposition: reading rows of the source writes columns of the destination. Copy in square
            // tiles so that both sides stay in cache.
            var tiled = self
            for list in [\StridedRegion.extents, \.sourceStrides, \.destinationStrides] {
                tiled[keyPath: list].insert(tiled[keyPath: list].remove(at: across), at: inner - 1)
            }
            let rows = tiled.extents[inner - 1]
            let rowStride = tiled.destinationStrides[inner - 1]
            tiled.forEachRow(outerAxes: inner - 1, source, destination) { from, to in
                Self.copyTiles(
                    from: from, to: to, rows: rows, columns: count, sourceStride: sourceStride, rowStride: rowStride)
            }
        } else {
            forEachRow(outerAxes: inner, source, destination) { from, to in
                for index in 0..<count { to[index * destinationStride] = from[index * sourceStride] }
            }
        }
    }

    /// Calls `body` with the start of every row: each combination of indices of the first `outerAxes` axes.
    private func forEachRow<E>(
        outerAxes: Int, _ source: UnsafePointer<E>, _ destination: UnsafeMutablePointer<E>,
        _ body: (UnsafePointer<E>, UnsafeMutablePointer<E>) -> Void
    ) {
        var index = [Int](repeating: 0, count: outerAxes)
        var sourceOffset = 0
        var destinationOffset = 0
        while true {
            body(source + sourceOffset, destination + destinationOffset)
            var axis = outerAxes - 1
            while axis >= 0 {
                index[axis] += 1
                sourceOffset += sourceStrides[axis]
                destinationOffset += destinationStrides[axis]
                if index[axis] < extents[axis] { break }
                sourceOffset -= sourceStrides[axis] * extents[axis]
                destinationOffset -= destinationStrides[axis] * extents[axis]
                index[axis] = 0
                axis -= 1
            }
            if axis < 0 { return }
        }
    }

    /// `to[r·rowStride + c] = from[r + c·sourceStride]` for every row `r` and column `c`, tile by tile.
    private static func copyTiles<E>(
        from source: UnsafePointer<E>, to destination: UnsafeMutablePointer<E>,
        rows: Int, columns: Int, sourceStride: Int, rowStride: Int
    ) {
        let tile = 32
        for rowStart in stride(from: 0, to: rows, by: tile) {
            let rowEnd = min(rowStart + tile, rows)
            for columnStart in stride(from: 0, to: columns, by: tile) {
                let columnEnd = min(columnStart + tile, columns)
                for row in rowStart..<rowEnd {
                    let from = source + row
                    let to = destination + row * rowStride
                    for column in columnStart..<columnEnd { to[column] = from[column * sourceStride] }
                }
            }
        }
    }
}

/// One copy into a tensor being assembled: from one of the source tensors, or from the part of the output
/// already written (to replicate it, as Tile and Pad's edge modes do).
struct RegionCopy {
    enum Source {
        case input(Int)
        case output
    }
    var source: Source
    var region: StridedRegion
}

/// What an assembled tensor holds before its copies run.
enum AssemblyBackground {
    /// Nothing: the copies write every element.
    case none
    /// Every element zero (`""` for strings).
    case zero
    /// Every element the single element of this tensor.
    case element(Tensor)
}

/// Builds a tensor of `dataType` and `shape` from `background` and then `copies`, run in order, moving
/// elements by byte size (strings generically). Throws when a source has another element type.
func assembleTensor(
    _ dataType: DataType, shape: [Int], background: AssemblyBackground = .none, sources: [Tensor] = [],
    copies: [RegionCopy]
) throws -> Tensor {
    var used = sources
    if case .element(let fill) = background { used.append(fill) }
    for tensor in used where tensor.dataType != dataType {
        throw KernelError.invalidInput("expected \(dataType) values, got \(tensor.dataType)")
    }
    return try dataType.visitMovable(
        TensorAssembler(dataType: dataType, shape: shape, background: background, sources: sources, copies: copies))
}

private struct TensorAssembler: MovableVisitor {
    let dataType: DataType
    let shape: [Int]
    let background: AssemblyBackground
    let sources: [Tensor]
    let copies: [RegionCopy]

    func visit<E: MovableElement>(_: E.Type) throws -> Tensor {
        try E.makeTensor(dataType, shape: shape) { output in
            switch background {
            case .none: break
            case .zero: output.update(repeating: E.zero)
            case .element(let fill):
                guard fill.count == 1 else {
                    throw KernelError.invalidInput("expected a single fill value, got shape \(fill.shape)")
                }
                output.update(repeating: E.withElements(of: fill) { $0[0] })
            }
            for copy in copies {
                switch copy.source {
                case .output: copy.region.copy(from: UnsafeBufferPointer(output), to: output)
                case .input(let index): E.withElements(of: sources[index]) { copy.region.copy(from: $0, to: output) }
                }
            }
        }
    }
}
