// Vectorised Float versions of the hottest unary functions, eight lanes at a time.
//
// The package builds for baseline x86-64 (SSE2) and arm64, so these stay within operations every target has in
// vector form: add, multiply, divide, compare, select, min/max. Rounding uses the 1.5·2^23 trick instead of a
// rounding instruction, and there is no fused multiply-add (it would become a library call). Relative error stays
// below 4e-7; MathTests.testVectorisedFunctionsMatchTheCLibrary checks it against the C library.

/// A unary Float function with a vectorised implementation.
enum FloatVectorFunction: Sendable {
    case relu, exp, tanh, sigmoid, erf

    /// `function` applied to every element of `input`.
    func apply(_ input: [Float]) -> [Float] {
        FloatVectorMath.map(input, self)
    }

    /// The function on one vector. A switch rather than a function value: passed closures did not inline into the
    /// loop, and the switch is the same for every vector of a call.
    @inline(__always)
    fileprivate func evaluate(_ x: FloatVectorMath.Vector) -> FloatVectorMath.Vector {
        switch self {
        case .exp: FloatVectorMath.exp(x)
        case .tanh: FloatVectorMath.tanh(x)
        case .sigmoid: FloatVectorMath.sigmoid(x)
        case .erf: FloatVectorMath.erf(x)
        // NaN is not below 0, so it stays NaN, as max(x, 0) keeps it in the reference.
        case .relu: x.replacing(with: 0, where: x .< 0)
        }
    }
}

/// SIMD implementations of exp, tanh, sigmoid and erf on `SIMD8<Float>`, and the loop that applies them.
enum FloatVectorMath {
    typealias Vector = SIMD8<Float>

    /// `function` applied to `input` eight elements at a time; the tail is padded with zeros.
    static func map(_ input: [Float], _ function: FloatVectorFunction) -> [Float] {
        input.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: source.count) { destination, initialized in
                let count = source.count
                var index = 0
                while index + Vector.scalarCount <= count {
                    let vector = UnsafeRawPointer(source.baseAddress! + index).loadUnaligned(as: Vector.self)
                    let result = function.evaluate(vector)
                    UnsafeMutableRawPointer(destination.baseAddress! + index).storeBytes(of: result, as: Vector.self)
                    index += Vector.scalarCount
                }
                if index < count {
                    var vector = Vector()
                    for lane in 0..<(count - index) { vector[lane] = source[index + lane] }
                    let result = function.evaluate(vector)
                    for lane in 0..<(count - index) { destination[index + lane] = result[lane] }
                }
                initialized = count
            }
        }
    }

    /// e^x (Cephes' expf: x = n·ln2 + r, a degree-6 polynomial for e^r, then scaling by 2^n in two steps so that
    /// results that are subnormal or overflow come out as they should). NaN propagates through the arithmetic:
    /// whatever scale its garbage n makes, NaN times it is NaN.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        // Past these bounds e^x is 0 or infinity anyway; clamping keeps n within what two scalings can express.
        let clamped = x.clamped(to: -104, 89)
        // Adding then subtracting 1.5·2^23 rounds a float of magnitude < 2^22 to the nearest integer.
        let roundingShift = Vector(repeating: 12_582_912)
        let shifted = clamped * 1.44269504088896341 + roundingShift
        let n = shifted - roundingShift
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p = r * 1.9875691500e-4 + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        // n sits in the low mantissa bits of `shifted`; split it so each factor 2^k is a normal float.
        let k = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(roundingShift, to: SIMD8<Int32>.self)
        let half = k &>> 1
        return p * powerOfTwo(half) * powerOfTwo(k &- half)
    }

    /// tanh(x) as an odd rational function on [−7.9, 7.9] (Eigen's fast tanh), ±1 beyond. Near 0 the ratio of the
    /// leading coefficients is 1 within float precision, so tiny inputs need no special case.
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector {
        let clamped = x.clamped(to: -7.90531110763549805, 7.90531110763549805)
        let x2 = clamped * clamped
        var p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * clamped
        var q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }

    /// 1 / (1 + e^−x).
    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector {
        1 / (1 + exp(-x))
    }

    /// erf(x) as an odd rational function on [−4, 4] (Eigen's fast erf), ±1 beyond.
    @inline(__always)
    static func erf(_ x: Vector) -> Vector {
        let clamped = x.clamped(to: -4, 4)
        let x2 = clamped * clamped
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = p * x2 + -2.10102402082508e-06
        p = p * x2 + -5.69250639462346e-05
        p = p * x2 + -7.34990630326855e-04
        p = p * x2 + -2.95459980854025e-03
        p = p * x2 + -1.60960333262415e-02
        p = p * clamped
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = q * x2 + -1.68282697438203e-03
        q = q * x2 + -7.37332916720468e-03
        q = q * x2 + -1.42647390514189e-02
        return p / q
    }

    /// 2^k for integer k with −126 ≤ k ≤ 127, built from its exponent bits.
    @inline(__always)
    private static func powerOfTwo(_ k: SIMD8<Int32>) -> Vector {
        unsafeBitCast((k &+ 127) &<< 23, to: Vector.self)
    }
}

extension SIMD8<Float> {
    /// Each lane limited to [lower, upper]; NaN lanes stay NaN (so the rational functions return NaN for them).
    @inline(__always)
    fileprivate func clamped(to lower: Float, _ upper: Float) -> SIMD8<Float> {
        replacing(with: lower, where: self .< lower).replacing(with: upper, where: self .> upper)
    }
}
