import Dispatch

// Single-precision matrix multiplication, the engine under MatMul, Gemm, Conv and ConvTranspose.
//
// The structure is the classic Goto/BLIS one: B is packed in KC×NC blocks of NR-wide column panels, A in
// MC×KC blocks of MR-high row panels, and a register-blocked micro-kernel multiplies one A panel by one B
// panel into an MR×NR tile of C held in registers. The package builds for baseline x86-64 (SSE, no FMA), so
// the micro-kernel is written with SIMD8 vectors that the compiler splits into 128-bit halves: 6×8 tile =
// 12 accumulator registers of the 16 available. Measured on the 2-core AVX2 development machine (Zen 3) in a
// release build: about 39 GFLOP/s on one thread for 512³ and 1024³ products.

enum FloatGEMM {
    /// Rows of the register tile.
    static let mr = 6
    /// Columns of the register tile (one SIMD8).
    static let nr = 8
    /// Depth of one packed block: a KC×NR panel of B (8 KiB) stays in L1.
    static let kc = 256
    /// Rows of one packed A block: MC×KC, four copies of each element (192 KiB), stays in L2.
    static let mc = 48
    /// Columns of one packed B block: KC×NC (2 MiB) stays in L3.
    static let nc = 2048
    /// Below this many multiply-adds a problem runs on the calling thread: dispatch would cost more.
    static let parallelThreshold = 1 << 20

    /// Computes `C = alpha · A·B` (`accumulate` false) or `C += alpha · A·B` (true), where A is m×k, B is
    /// k×n and C is m×n row-major with row stride `ldc`. With `accumulate` false, C need not be initialised.
    /// Work is split across up to `threads` threads.
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: GemmOperand<Float>, b: GemmOperand<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if !accumulate {
                for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
            }
            return
        }
        if m == 1 {
            multiplyRow(n: n, k: k, alpha: alpha, a: a, b: b, c: c, accumulate: accumulate, threads: threads)
            return
        }
        let workers = m * n * k < parallelThreshold ? 1 : max(1, threads)
        multiplyBlocked(
            m: m, n: n, k: k, alpha: alpha, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate, workers: workers)
    }

    /// A single row of A (a fully connected layer on one sample): packing would cost as much as the product,
    /// so B is streamed directly, as dot products along its contiguous columns or as row updates along its
    /// contiguous rows. Output columns are split across threads.
    private static func multiplyRow(
        n: Int, k: Int, alpha: Float, a: GemmOperand<Float>, b: GemmOperand<Float>, c: UnsafeMutablePointer<Float>,
        accumulate: Bool, threads: Int
    ) {
        let row = [Float](unsafeUninitializedCapacity: k) { buffer, initialized in
            for p in 0..<k { buffer[p] = alpha * a.base[p * a.columnStride] }
            initialized = k
        }
        let output = NeuralNet.WriteBuffer(c)
        NeuralNet.forEachChunk(of: n, threads: threads, workPerItem: k) { columns in
            row.withUnsafeBufferPointer { row in
                if b.rowStride == 1 {
                    for j in columns {
                        let dot = dotProduct(row, b.base + j * b.columnStride)
                        output.base[j] = accumulate ? output.base[j] + dot : dot
                    }
                } else {
                    let target = output.base + columns.lowerBound
                    if !accumulate { target.update(repeating: 0, count: columns.count) }
                    for p in 0..<k {
                        let source = b.base + p * b.rowStride + columns.lowerBound * b.columnStride
                        let factor = row[p]
                        if b.columnStride == 1 {
                            var j = 0
                            while j + 8 <= columns.count {
                                let raw = UnsafeMutableRawPointer(target + j)
                                let update =
                                    raw.loadUnaligned(as: SIMD8<Float>.self)
                                    + SIMD8(repeating: factor)
                                    * UnsafeRawPointer(source + j).loadUnaligned(as: SIMD8<Float>.self)
                                raw.storeBytes(of: update, as: SIMD8<Float>.self)
                                j += 8
                            }
                            while j < columns.count {
                                target[j] += factor * source[j]
                                j += 1
                            }
                        } else {
                            for j in 0..<columns.count { target[j] += factor * source[j * b.columnStride] }
                        }
                    }
                }
            }
        }
    }

    /// Σ x[i] · y[i] over the `x.count` contiguous elements of both.
    private static func dotProduct(_ x: UnsafeBufferPointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        guard let xBase = x.baseAddress else { return 0 }
        var sums = (SIMD8<Float>(), SIMD8<Float>())
        var i = 0
        while i + 16 <= x.count {
            sums.0 +=
                UnsafeRawPointer(xBase + i).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            sums.1 +=
                UnsafeRawPointer(xBase + i + 8).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            i += 16
        }
        var total = (sums.0 + sums.1).sum()
        while i < x.count {
            total += xBase[i] * y[i]
            i += 1
        }
        return total
    }

    /// The blocked product. Each KC×NC block of B is packed once and shared; the work under it is split into
    /// tasks of one MC-row block of A (packed by the task, into its worker's buffer) times a run of B panels,
    /// several tasks per worker so that a worker slowed by other load does not hold up the rest.
    private static func multiplyBlocked(
        m: Int, n: Int, k: Int, alpha: Float, a: GemmOperand<Float>, b: GemmOperand<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, workers: Int
    ) {
        let blockDepth = min(k, kc)
        let packedBCount = blockDepth * roundUp(min(n, nc), nr)
        let packedACount = 4 * blockDepth * roundUp(min(m, mc), mr)
        let packedB = allocateFloats(packedBCount)
        let packedA = allocateFloats(packedACount * workers)
        defer {
            packedB.deallocate()
            packedA.deallocate()
        }
        let sharedB = NeuralNet.ReadBuffer(UnsafePointer(packedB))
        let packingB = NeuralNet.WriteBuffer(packedB)
        let scratchA = NeuralNet.WriteBuffer(packedA)
        let output = NeuralNet.WriteBuffer(c)
        let rowBlocks = (m + mc - 1) / mc
        for column in stride(from: 0, to: n, by: nc) {
            let columns = min(nc, n - column)
            let panels = (columns + nr - 1) / nr
            // Split the panels too when there are too few row blocks to keep every worker busy.
            let panelRuns = workers == 1 ? 1 : min(panels, max(1, workers * NeuralNet.tasksPerThread / rowBlocks))
            let panelsPerRun = (panels + panelRuns - 1) / panelRuns
            for depth in stride(from: 0, to: k, by: kc) {
                let depthCount = min(kc, k - depth)
                let block = b.offset(rows: depth, columns: column)
                NeuralNet.forEachChunk(of: panels, threads: workers, workPerItem: depthCount * nr) { range in
                    packB(block, depth: depthCount, columns: columns, panels: range, into: packingB.base)
                }
                let add = accumulate || depth > 0
                NeuralNet.runTasks(rowBlocks * panelRuns, threads: workers) { task, worker in
                    let row = task / panelRuns * mc
                    let rows = min(mc, m - row)
                    let firstPanel = task % panelRuns * panelsPerRun
                    guard firstPanel < panels else { return }
                    let packedBlock = scratchA.base + worker * packedACount
                    packA(a.offset(rows: row, columns: depth), rows: rows, depth: depthCount, into: packedBlock)
                    for panel in firstPanel..<min(panels, firstPanel + panelsPerRun) {
                        let panelColumn = panel * nr
                        for panelRow in stride(from: 0, to: rows, by: mr) {
                            microKernel(
                                depth: depthCount, a: packedBlock + 4 * panelRow * depthCount,
                                b: sharedB.base + panelColumn * depthCount, alpha: alpha,
                                c: output.base + (row + panelRow) * ldc + column + panelColumn, ldc: ldc,
                                rows: min(mr, rows - panelRow), columns: min(nr, columns - panelColumn), accumulate: add
                            )
                        }
                    }
                }
            }
        }
    }

    /// Uninitialised floats aligned for vector loads.
    private static func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    /// Packs `panels` of the `depth`×`columns` block of B: panel p holds columns `p·NR ..< (p+1)·NR` as `depth`
    /// rows of NR floats at `packed + p·depth·NR`, the last one zero-padded.
    private static func packB(
        _ b: GemmOperand<Float>, depth: Int, columns: Int, panels: Range<Int>, into packed: UnsafeMutablePointer<Float>
    ) {
        for panel in panels {
            var out = packed + panel * depth * nr
            let first = panel * nr
            let width = min(nr, columns - first)
            if width == nr && b.columnStride == 1 {
                for p in 0..<depth {
                    out.update(from: b.base + p * b.rowStride + first, count: nr)
                    out += nr
                }
            } else {
                for p in 0..<depth {
                    let source = b.base + p * b.rowStride + first * b.columnStride
                    for j in 0..<width { out[j] = source[j * b.columnStride] }
                    for j in width..<nr { out[j] = 0 }
                    out += nr
                }
            }
        }
    }

    /// Packs `rows`×`depth` of A as consecutive MR-high panels, each `depth` steps of MR elements, every
    /// element stored four times (a ready-made SIMD4 broadcast: SSE has no broadcast load, and shuffling in
    /// the micro-kernel would compete with the multiplies). The last panel is zero-padded.
    private static func packA(_ a: GemmOperand<Float>, rows: Int, depth: Int, into packed: UnsafeMutablePointer<Float>)
    {
        let out = UnsafeMutableRawPointer(packed)
        var offset = 0
        for panel in stride(from: 0, to: rows, by: mr) {
            let height = min(mr, rows - panel)
            let source = a.base + panel * a.rowStride
            for p in 0..<depth {
                let column = source + p * a.columnStride
                for i in 0..<height {
                    out.storeBytes(
                        of: SIMD4(repeating: column[i * a.rowStride]), toByteOffset: offset, as: SIMD4<Float>.self)
                    offset += 16
                }
                for _ in height..<mr {
                    out.storeBytes(of: SIMD4<Float>(), toByteOffset: offset, as: SIMD4<Float>.self)
                    offset += 16
                }
            }
        }
    }

    /// Multiplies one packed MR×depth A panel by one packed depth×NR B panel and stores `alpha` times the
    /// product into the top-left `rows`×`columns` of the tile at `c` (adding to it when `accumulate`).
    @inline(__always)
    private static func microKernel(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, alpha: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, accumulate: Bool
    ) {
        var c0 = SIMD8<Float>()
        var c1 = SIMD8<Float>()
        var c2 = SIMD8<Float>()
        var c3 = SIMD8<Float>()
        var c4 = SIMD8<Float>()
        var c5 = SIMD8<Float>()
        let bVectors = UnsafeRawPointer(b)
        let aVectors = UnsafeRawPointer(a)
        for p in 0..<depth {
            let bRow = bVectors.load(fromByteOffset: p * 32, as: SIMD8<Float>.self)
            let step = aVectors + p * 96
            c0 += broadcast(step, 0) * bRow
            c1 += broadcast(step, 16) * bRow
            c2 += broadcast(step, 32) * bRow
            c3 += broadcast(step, 48) * bRow
            c4 += broadcast(step, 64) * bRow
            c5 += broadcast(step, 80) * bRow
        }
        let scale = SIMD8<Float>(repeating: alpha)
        let tile = (c0 * scale, c1 * scale, c2 * scale, c3 * scale, c4 * scale, c5 * scale)
        if rows == mr && columns == nr {
            store(tile.0, to: c, accumulate: accumulate)
            store(tile.1, to: c + ldc, accumulate: accumulate)
            store(tile.2, to: c + 2 * ldc, accumulate: accumulate)
            store(tile.3, to: c + 3 * ldc, accumulate: accumulate)
            store(tile.4, to: c + 4 * ldc, accumulate: accumulate)
            store(tile.5, to: c + 5 * ldc, accumulate: accumulate)
        } else {
            withUnsafeBytes(of: tile) { raw in
                let values = raw.bindMemory(to: Float.self)
                for i in 0..<rows {
                    let row = c + i * ldc
                    for j in 0..<columns {
                        row[j] = accumulate ? row[j] + values[i * nr + j] : values[i * nr + j]
                    }
                }
            }
        }
    }

    /// One pre-broadcast A element as a SIMD8 (both halves the same register).
    @inline(__always)
    private static func broadcast(_ step: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float> {
        let half = step.load(fromByteOffset: offset, as: SIMD4<Float>.self)
        return SIMD8(lowHalf: half, highHalf: half)
    }

    @inline(__always)
    private static func store(_ vector: SIMD8<Float>, to target: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let raw = UnsafeMutableRawPointer(target)
        if accumulate {
            raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) + vector, as: SIMD8<Float>.self)
        } else {
            raw.storeBytes(of: vector, as: SIMD8<Float>.self)
        }
    }

    private static func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
}
