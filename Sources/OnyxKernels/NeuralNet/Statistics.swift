// Vectorised reductions and affine maps over contiguous runs, for the normalisation kernels. Sums take 16 values a
// step in independent lanes (`RunningSums` folds them into 8): faster than a serial sum and, being a partly
// pairwise summation, more accurate in Float.

extension NeuralNet {
    /// The sum of `run`.
    static func sum<T: NetFloat>(_ run: UnsafeBufferPointer<T>) -> T {
        accumulate(run, { $0 }, { $0 })
    }

    /// The sum of squares of `run`.
    static func sumOfSquares<T: NetFloat>(_ run: UnsafeBufferPointer<T>) -> T {
        accumulate(run, { $0 * $0 }, { $0 * $0 })
    }

    /// The sum of squared deviations of `run` from `center`.
    static func sumOfSquaredDeviations<T: NetFloat>(_ run: UnsafeBufferPointer<T>, from center: T) -> T {
        let centers = SIMD16<T>(repeating: center)
        return accumulate(run, { ($0 - centers) * ($0 - centers) }, { ($0 - center) * ($0 - center) })
    }

    /// The sum of `run` and the sum of its squares, in one pass.
    static func sumAndSumOfSquares<T: NetFloat>(_ run: UnsafeBufferPointer<T>) -> (sum: T, squares: T) {
        var sums = RunningSums<T>()
        sums.add(run)
        return sums.totals
    }

    /// A sum and a sum of squares taken over runs added one after another: 16 values a step folded into 8 lanes
    /// (few registers, so that it can share a loop with other work), a scalar for the rest. Lets a caller sum one
    /// stream in short steps between steps of other work.
    struct RunningSums<T: NetFloat> {
        private var sums = SIMD8<T>()
        private var squares = SIMD8<T>()
        private var scalarSum: T = 0
        private var scalarSquares: T = 0

        /// Adds `run`'s values and their squares.
        @inline(__always)
        mutating func add(_ run: UnsafeBufferPointer<T>) {
            guard let base = run.baseAddress else { return }
            let vectorCount = run.count / 16 * 16
            for index in stride(from: 0, to: vectorCount, by: 16) {
                let vector = NeuralNet.load(base, index)
                let (low, high) = (vector.lowHalf, vector.highHalf)
                sums += low + high
                squares += low * low + high * high
            }
            for index in vectorCount..<run.count {
                scalarSum += run[index]
                scalarSquares += run[index] * run[index]
            }
        }

        /// The sum and the sum of squares of everything added.
        var totals: (sum: T, squares: T) {
            (NeuralNet.horizontalSum(sums) + scalarSum, NeuralNet.horizontalSum(squares) + scalarSquares)
        }
    }

    /// The sum of the deviations of `run` from `center` and the sum of their squares, in one pass. With a center
    /// near the mean they give an accurate variance: Σd² − (Σd)²/n.
    static func deviationSums<T: NetFloat>(_ run: UnsafeBufferPointer<T>, from center: T) -> (sum: T, squares: T) {
        guard let base = run.baseAddress else { return (0, 0) }
        let centers = SIMD16<T>(repeating: center)
        var sums = SIMD16<T>()
        var squares = SIMD16<T>()
        let vectorCount = run.count / 16 * 16
        for index in stride(from: 0, to: vectorCount, by: 16) {
            let deviation = load(base, index) - centers
            sums += deviation
            squares += deviation * deviation
        }
        var (sum, square) = (horizontalSum(sums), horizontalSum(squares))
        for index in vectorCount..<run.count {
            let deviation = run[index] - center
            sum += deviation
            square += deviation * deviation
        }
        return (sum, square)
    }

    /// For each column c of the row-major `rows × width` block, its sum into `sums[c]` and the sum of its squares
    /// into `squares[c]`.
    static func columnSumsAndSumsOfSquares<T: NetFloat>(
        _ block: UnsafePointer<T>, rows: Int, width: Int, into sums: UnsafeMutablePointer<T>,
        squares: UnsafeMutablePointer<T>
    ) {
        forEachColumnVector(width) { column in
            var sum = SIMD16<T>()
            var square = SIMD16<T>()
            for row in 0..<rows {
                let vector = load(block, row * width + column)
                sum += vector
                square += vector * vector
            }
            store(sum, sums, column)
            store(square, squares, column)
        } tail: { column in
            var (sum, square): (T, T) = (0, 0)
            for row in 0..<rows {
                let value = block[row * width + column]
                sum += value
                square += value * value
            }
            sums[column] = sum
            squares[column] = square
        }
    }

    /// For each column c of the row-major `rows × width` block, the sum of its deviations from `centers[c]` into
    /// `deviations[c]` and the sum of their squares into `squares[c]`.
    static func columnDeviationSums<T: NetFloat>(
        _ block: UnsafePointer<T>, rows: Int, width: Int, from centers: UnsafePointer<T>,
        into deviations: UnsafeMutablePointer<T>, squares: UnsafeMutablePointer<T>
    ) {
        forEachColumnVector(width) { column in
            let center = load(centers, column)
            var sum = SIMD16<T>()
            var square = SIMD16<T>()
            for row in 0..<rows {
                let deviation = load(block, row * width + column) - center
                sum += deviation
                square += deviation * deviation
            }
            store(sum, deviations, column)
            store(square, squares, column)
        } tail: { column in
            var (sum, square): (T, T) = (0, 0)
            for row in 0..<rows {
                let deviation = block[row * width + column] - centers[column]
                sum += deviation
                square += deviation * deviation
            }
            deviations[column] = sum
            squares[column] = square
        }
    }

    /// Writes `block[r, c] · factors[c] + shifts[c]` to `target[r, c]` for the row-major `rows × width` block.
    static func affineRows<T: NetFloat>(
        _ block: UnsafePointer<T>, rows: Int, width: Int, factors: UnsafePointer<T>, shifts: UnsafePointer<T>,
        into target: UnsafeMutablePointer<T>
    ) {
        forEachColumnVector(width) { column in
            let (factor, shift) = (load(factors, column), load(shifts, column))
            for row in 0..<rows {
                store(load(block, row * width + column) * factor + shift, target, row * width + column)
            }
        } tail: { column in
            for row in 0..<rows {
                target[row * width + column] = block[row * width + column] * factors[column] + shifts[column]
            }
        }
    }

    /// Mean and population variance of `run` (two passes: the variance is not E[x²] − E[x]², which cancels).
    static func moments<T: NetFloat>(_ run: UnsafeBufferPointer<T>) -> (mean: T, variance: T) {
        guard !run.isEmpty else { return (0, 0) }
        let count = T(run.count)
        let mean = sum(run) / count
        return (mean, sumOfSquaredDeviations(run, from: mean) / count)
    }

    /// Writes `run[i] · scale + shift` to `target[i]`. Inlined: GroupNormalization calls it on short steps.
    @inline(__always)
    static func scaleShift<T: NetFloat>(
        _ run: UnsafeBufferPointer<T>, into target: UnsafeMutablePointer<T>, scale: T, shift: T
    ) {
        let scales = SIMD16<T>(repeating: scale)
        let shifts = SIMD16<T>(repeating: shift)
        let vectorCount = run.count / 16 * 16
        guard let source = run.baseAddress else { return }
        let rawSource = UnsafeRawPointer(source)
        let rawTarget = UnsafeMutableRawPointer(target)
        let width = MemoryLayout<T>.stride * 16
        for index in stride(from: 0, to: vectorCount, by: 16) {
            let vector = rawSource.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.stride, as: SIMD16<T>.self)
            rawTarget.storeBytes(of: vector * scales + shifts, toByteOffset: index / 16 * width, as: SIMD16<T>.self)
        }
        for index in vectorCount..<run.count { target[index] = run[index] * scale + shift }
    }

    /// `target[i] += scale · source[i]` for `i` in `0..<count`.
    static func addScaled<T: NetFloat>(
        _ source: UnsafePointer<T>, scale: T, into target: UnsafeMutablePointer<T>, count: Int
    ) {
        let scales = SIMD16<T>(repeating: scale)
        let rawSource = UnsafeRawPointer(source)
        let rawTarget = UnsafeMutableRawPointer(target)
        let vectorCount = count / 16 * 16
        for index in stride(from: 0, to: vectorCount, by: 16) {
            let offset = index &* MemoryLayout<T>.stride
            let sum =
                rawTarget.loadUnaligned(fromByteOffset: offset, as: SIMD16<T>.self)
                + scales * rawSource.loadUnaligned(fromByteOffset: offset, as: SIMD16<T>.self)
            rawTarget.storeBytes(of: sum, toByteOffset: offset, as: SIMD16<T>.self)
        }
        for index in vectorCount..<count { target[index] += scale * source[index] }
    }

    /// Calls `vector` for every column that starts a full 16-lane vector of a `width`-wide row, then `tail` for
    /// each column after them.
    @inline(__always)
    private static func forEachColumnVector(_ width: Int, _ vector: (Int) -> Void, tail: (Int) -> Void) {
        let vectorWidth = width / 16 * 16
        for column in stride(from: 0, to: vectorWidth, by: 16) { vector(column) }
        for column in vectorWidth..<width { tail(column) }
    }

    /// The sum of `vector`'s lanes, halving the vector each step (the standard library's `sum()` is not inlined).
    @inline(__always)
    private static func horizontalSum<T: NetFloat>(_ vector: SIMD16<T>) -> T {
        horizontalSum(vector.lowHalf + vector.highHalf)
    }

    /// The sum of `vector`'s lanes.
    @inline(__always)
    private static func horizontalSum<T: NetFloat>(_ eight: SIMD8<T>) -> T {
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    @inline(__always)
    private static func load<T: NetFloat>(_ base: UnsafePointer<T>, _ index: Int) -> SIMD16<T> {
        UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<T>.self)
    }

    @inline(__always)
    private static func load<T: NetFloat>(_ base: UnsafeMutablePointer<T>, _ index: Int) -> SIMD16<T> {
        UnsafeRawPointer(base + index).loadUnaligned(as: SIMD16<T>.self)
    }

    @inline(__always)
    private static func store<T: NetFloat>(_ vector: SIMD16<T>, _ base: UnsafeMutablePointer<T>, _ index: Int) {
        UnsafeMutableRawPointer(base + index).storeBytes(of: vector, as: SIMD16<T>.self)
    }

    /// Σ `lane(x)` over `run`, 16 lanes at a time, with `scalar` for the tail.
    @inline(__always)
    private static func accumulate<T: NetFloat>(
        _ run: UnsafeBufferPointer<T>, _ lane: (SIMD16<T>) -> SIMD16<T>, _ scalar: (T) -> T
    ) -> T {
        guard let base = run.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var total = SIMD16<T>()
        let vectorCount = run.count / 16 * 16
        for index in stride(from: 0, to: vectorCount, by: 16) {
            total += lane(raw.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.stride, as: SIMD16<T>.self))
        }
        var tail: T = 0
        for index in vectorCount..<run.count { tail += scalar(run[index]) }
        return horizontalSum(total) + tail
    }
}
