import Foundation

/// numpy's legacy `RandomState`: the MT19937 stream seeded as numpy seeds it, and the samplers the ONNX reference
/// implementation draws from (`rand`, `randn`, `binomial(1, p)`), so that a seeded random kernel produces the
/// reference's numbers.
struct NumpyRandomState {
    private static let stateSize = 624
    private var state: [UInt32]
    private var position: Int
    /// The second deviate of the last polar-method pair, which numpy returns on the next normal draw.
    private var pendingGaussian: Double?

    /// The state of `numpy.random.RandomState(seed)` for an integer seed.
    init(seed: UInt32) {
        state = [UInt32](repeating: 0, count: Self.stateSize)
        state[0] = seed
        for index in 1..<Self.stateSize {
            state[index] = 1_812_433_253 &* (state[index - 1] ^ (state[index - 1] >> 30)) &+ UInt32(index)
        }
        position = Self.stateSize
    }

    /// The generator for one kernel run: from the node's seed, or seeded afresh from the system generator.
    init(runSeed seed: UInt32?) {
        self.init(seed: seed ?? .random(in: .min ... .max))
    }

    /// A uniform double in [0, 1) with 53 random bits (numpy's `random_sample`).
    mutating func nextDouble() -> Double {
        let high = Double(next() >> 5)
        let low = Double(next() >> 6)
        return (high * 67_108_864 + low) / 9_007_199_254_740_992
    }

    /// A standard normal deviate by the Marsaglia polar method, in numpy's legacy order (`randn`).
    mutating func nextGaussian() -> Double {
        if let pending = pendingGaussian {
            pendingGaussian = nil
            return pending
        }
        var first: Double
        var second: Double
        var squaredRadius: Double
        repeat {
            first = 2 * nextDouble() - 1
            second = 2 * nextDouble() - 1
            squaredRadius = first * first + second * second
        } while squaredRadius >= 1 || squaredRadius == 0
        let factor = (-2 * log(squaredRadius) / squaredRadius).squareRoot()
        pendingGaussian = factor * first
        return factor * second
    }

    /// One draw of numpy's legacy `binomial(1, p)` for `p` in [0, 1]: inversion on the smaller of `p` and
    /// `1 - p`, mirrored when `p > 0.5`, restarting (with a new uniform) when rounding pushes the count past 1.
    mutating func nextBernoulli(_ p: Double) -> Bool {
        let mirrored = p > 0.5
        let probability = mirrored ? 1 - p : p
        let complement = 1 - probability
        // numpy computes q^n as exp(n·log q); keep its rounding.
        let allFail = exp(log(complement))
        var successes = 0
        var mass = allFail
        var uniform = nextDouble()
        while uniform > mass {
            successes += 1
            if successes > 1 {
                successes = 0
                mass = allFail
                uniform = nextDouble()
            } else {
                uniform -= mass
                mass = probability * mass / complement
            }
        }
        return (successes == 1) != mirrored
    }

    private mutating func next() -> UInt32 {
        if position == Self.stateSize { regenerate() }
        var value = state[position]
        position += 1
        value ^= value >> 11
        value ^= (value << 7) & 0x9D2C_5680
        value ^= (value << 15) & 0xEFC6_0000
        value ^= value >> 18
        return value
    }

    private mutating func regenerate() {
        let size = Self.stateSize
        for index in 0..<size {
            let bits = (state[index] & 0x8000_0000) | (state[(index + 1) % size] & 0x7FFF_FFFF)
            state[index] = state[(index + 397) % size] ^ (bits >> 1) ^ (bits & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        position = 0
    }
}
