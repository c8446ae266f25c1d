// Vectorised reductions and affine maps over contiguous runs, for the normalisation kernels. Sums use 16
// independent lanes: faster than a serial sum and, being a partly pairwise summation, more accurate in Float.

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

    /// Mean and population variance of `run` (two passes: the variance is not E[x²] − E[x]², which cancels).
    static func moments<T: NetFloat>(_ run: UnsafeBufferPointer<T>) -> (mean: T, variance: T) {
        guard !run.isEmpty else { return (0, 0) }
        let count = T(run.count)
        let mean = sum(run) / count
        return (mean, sumOfSquaredDeviations(run, from: mean) / count)
    }

    /// Writes `run[i] · scale + shift` to `target[i]`.
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
        return total.sum() + tail
    }
}
