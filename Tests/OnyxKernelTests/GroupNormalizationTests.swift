import Foundation
import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// The GroupNormalization engine (ONNX's InstanceNormalization and GroupNormalization, and Onyx's fused op in
/// domain ai.onyx) against a straightforward Double reference, on random shapes, layouts and element types.
final class GroupNormalizationTests: XCTestCase {
    func testMatchesTheReferenceOnRandomProblems() throws {
        var random = SplitMix(seed: 18)
        for _ in 0..<60 {
            let (shape, groups, epsilon) = random.groupNormalizationProblem()
            let problem = Problem(
                shape: shape, groups: groups, epsilon: epsilon, channelsLast: random.int(in: 0...1) == 1,
                silu: random.int(in: 0...1) == 1,
                dataType: [.float, .double, .float16, .bfloat16][random.int(in: 0...3)])
            try check(problem, &random, threads: random.int(in: 1...3))
        }
    }

    func testLongGroupsSpanManyChunks() throws {
        // Groups of 30,000 values, two samples: channels-first they span chunks of 2,048 values (8,192 in the AVX2
        // loop), the last one partial; channels-last, blocks of 8,192 / 6 rows.
        var random = SplitMix(seed: 5)
        for channelsLast in [false, true] {
            for dataType in [DataType.float, .float16] {
                let problem = Problem(
                    shape: [2, 6, 100, 100], groups: 2, epsilon: 1e-5, channelsLast: channelsLast, silu: false,
                    dataType: dataType)
                try check(problem, &random, threads: 1)
            }
        }
    }

    func testPlanesOfEveryRemainder() throws {
        // Plane lengths that leave each kind of remainder after the AVX2 loops' 16- and 8-value steps: short items,
        // taken eight at a time (planes of 9, 8, 121 and 64, one or two channels, the second starting within a
        // vector or on its edge, up to 16 vectors; 10, 9, 21 and 9 items, so whole batches and a partial one);
        // planes of 9 and of 5 in items under 256 values of more channels (taken one after the other), of 143 and of
        // 5 in items of 256 values or more (interleaved, over several batches), and of 8,189 in items cut into
        // 8,192-value chunks, where one plane starts 3 values before a chunk ends. So each loop's last partial vector,
        // rewritten or scalar, and its masked sums are checked. Channels-last, samples that stay in L1 with 8, 12, 64,
        // 70 and 24 channels: rows of whole vectors, of a partial last vector, of whole 64-channel passes and of one
        // more partial pass; groups of two channels sixteen at a time, then eight.
        var random = SplitMix(seed: 21)
        let cases: [(shape: [Int], groups: Int)] = [
            ([5, 4, 3, 3], 2), ([3, 6, 8, 1], 3), ([7, 3, 11, 11], 3), ([9, 2, 8, 8], 1),
            ([6, 8, 3, 3], 2), ([5, 64, 5, 1], 2), ([40, 6, 13, 11], 2), ([30, 64, 5, 1], 1), ([2, 6, 1, 8189], 2),
            ([3, 12, 2, 5], 6), ([2, 70, 3, 3], 7), ([2, 24, 3, 3], 12),
        ]
        for (shape, groups) in cases {
            for channelsLast in [false, true] {
                let problem = Problem(
                    shape: shape, groups: groups, epsilon: 1e-5, channelsLast: channelsLast, silu: false,
                    dataType: .float)
                try check(problem, &random, threads: 1)
            }
        }
    }

    func testThreadsSplitFewLargeGroupsAlongTheirPositions() throws {
        // One sample of two groups on three threads (an input this size gets two): each group is cut into pieces
        // whose moments are merged.
        var random = SplitMix(seed: 7)
        for channelsLast in [false, true] {
            for silu in [false, true] {
                let problem = Problem(
                    shape: [1, 4, 360, 400], groups: 2, epsilon: 1e-5, channelsLast: channelsLast, silu: silu,
                    dataType: .float)
                try check(problem, &random, threads: 3)
            }
        }
        let manyGroups = Problem(
            shape: [4, 32, 64, 64], groups: 16, epsilon: 1e-5, channelsLast: false, silu: false, dataType: .float)
        try check(manyGroups, &random, threads: 2)
    }

    func testTheAVX2LoopsRunHere() throws {
        // The checks above run COnyxSIMD's loops only on CPUs with AVX2 and FMA; elsewhere this test says so.
        try XCTSkipUnless(VectorExtensions.hasAVX2FMA, "no AVX2 and FMA: GroupNormalization's COnyxSIMD loops untested")
        XCTAssertTrue(VectorExtensions.$allowed.withValue(true) { VectorExtensions.useAVX2FMA })
        XCTAssertFalse(VectorExtensions.$allowed.withValue(false) { VectorExtensions.useAVX2FMA })
    }

    func testShortItemsSplitAcrossThreads() throws {
        // 4,123 channels-first items of 128 values on two threads: the second range starts at group 15 of a sample,
        // and each range ends in a partial batch of eight.
        var random = SplitMix(seed: 17)
        let problem = Problem(
            shape: [133, 62, 8, 8], groups: 31, epsilon: 1e-5, channelsLast: false, silu: true, dataType: .float)
        try check(problem, &random, threads: 2)
    }

    func testLargeInputsInterleaveTheNextBatchsStatistics() throws {
        // Over 6 MiB with small groups: the next batch's moments are summed while this batch is normalised
        // (channels-first Float step by step; channels-last and float16 a chunk at a time, or with AVX2 a block of
        // rows at a time).
        var random = SplitMix(seed: 13)
        for (shape, channelsLast, silu, dataType) in [
            ([8, 128, 40, 40], false, true, DataType.float), ([8, 128, 40, 40], true, false, .float),
            ([16, 128, 40, 40], false, false, .float16),
        ] {
            let problem = Problem(
                shape: shape, groups: 32, epsilon: 1e-5, channelsLast: channelsLast, silu: silu, dataType: dataType)
            try check(problem, &random, threads: 1)
        }
    }

    func testTheFoundingNotesShapeInBothLayouts() throws {
        // The founding note's example: 1,024 groups of 98 values. With AVX2, channels-first the groups go eight at a
        // time, channels-last each sample stays in L1; the Swift loops take it batch by batch. With SiLU, and
        // far from zero, where the float sums would cancel and must be taken again.
        var random = SplitMix(seed: 9)
        for channelsLast in [false, true] {
            for (silu, center) in [(false, 0.0), (true, 0.0), (false, 1000.0)] {
                let problem = Problem(
                    shape: [32, 64, 7, 7], groups: 32, epsilon: 1e-5, channelsLast: channelsLast, silu: silu,
                    dataType: .float, center: center, spread: center == 0 ? 2 : 1)
                try check(problem, &random, threads: 1, tolerance: center == 0 ? nil : 1e-3)
            }
        }
    }

    func testVarianceStaysAccurateFarFromZero() throws {
        // Values 1000 ± 1: E[x²] − E[x]² in Float would keep hardly a digit of the variance. Long groups, and short
        // ones in a whole batch of eight and a partial one, and in a partial batch alone.
        var random = SplitMix(seed: 3)
        for shape in [[2, 4, 33, 31], [5, 4, 3, 3], [3, 4, 3, 3]] {
            for channelsLast in [false, true] {
                let problem = Problem(
                    shape: shape, groups: 2, epsilon: 0, channelsLast: channelsLast, silu: false, dataType: .float,
                    center: 1000, spread: 1)
                try check(problem, &random, threads: 1, tolerance: 1e-3)
            }
        }
    }

    func testHalfPrecisionDoesNotOverflow() throws {
        // Squares of values near 600 exceed float16's largest finite value (65504).
        var random = SplitMix(seed: 11)
        let problem = Problem(
            shape: [1, 4, 16, 16], groups: 2, epsilon: 1e-5, channelsLast: false, silu: false, dataType: .float16,
            center: 600, spread: 50)
        try check(problem, &random, threads: 1)
    }

    func testOpset18PerGroupParametersMatchOpset21PerChannel() throws {
        var random = SplitMix(seed: 21)
        let shape = [2, 6, 5, 4]
        let x = Tensor(shape: shape, elements: random.values(shape.reduce(1, *)).map { Float($0) })
        let perGroupScale = [Float(0.5), -2, 3]
        let perGroupBias = [Float(1), 0, -1]
        let attributes: [String: AttributeValue] = ["num_groups": .int(3), "epsilon": .float(1e-3)]
        let opset18 = try run(
            "GroupNormalization", opset: 18, attributes,
            [x, Tensor(shape: [3], elements: perGroupScale), Tensor(shape: [3], elements: perGroupBias)])
        let perChannel = { (values: [Float]) in Tensor(shape: [6], elements: values.flatMap { [$0, $0] }) }
        let opset21 = try run(
            "GroupNormalization", opset: 21, attributes, [x, perChannel(perGroupScale), perChannel(perGroupBias)])
        XCTAssertEqual(opset18, opset21)
        // Opset 18 also takes the per-channel layout that exporters write.
        let opset18PerChannel = try run(
            "GroupNormalization", opset: 18, attributes, [x, perChannel(perGroupScale), perChannel(perGroupBias)])
        XCTAssertEqual(opset18PerChannel, opset21)
    }

    func testInstanceNormalizationIsOneGroupPerChannel() throws {
        var random = SplitMix(seed: 4)
        let x = Tensor(shape: [2, 3, 7], elements: random.values(42).map { Float($0) })
        let scale = Tensor(shape: [3], elements: [Float(1), 2, 3])
        let bias = Tensor(shape: [3], elements: [Float(0), -1, 1])
        let instance = try run("InstanceNormalization", opset: 6, ["epsilon": .float(1e-4)], [x, scale, bias])
        let group = try run(
            "GroupNormalization", opset: 21, ["num_groups": .int(3), "epsilon": .float(1e-4)], [x, scale, bias])
        XCTAssertEqual(instance, group)
    }

    func testHandComputedSiLU() throws {
        // One group of [1, 3]: mean 2, variance 1, so y = [-1, 1], then y · sigmoid(y).
        let y = try run(
            "GroupNormalization", domain: "ai.onyx", opset: 1,
            ["num_groups": .int(1), "epsilon": .float(0), "activation": .string(Array("silu".utf8))],
            [
                Tensor(shape: [1, 1, 2], elements: [Float(1), 3]), Tensor(shape: [1], elements: [Float(1)]),
                Tensor(shape: [1], elements: [Float(0)]),
            ])
        let expected = [-1.0, 1.0].map { $0 / (1 + exp(-$0)) }
        XCTAssertEqual(y.shape, [1, 1, 2])
        assertClose(y, expected, tolerance: 1e-6)
    }

    func testEmptyInputGivesEmptyOutput() throws {
        let x = Tensor(shape: [0, 4, 3], elements: [Float]())
        let y = try run(
            "GroupNormalization", opset: 21, ["num_groups": .int(2)],
            [
                x, Tensor(shape: [4], elements: [Float](repeating: 1, count: 4)),
                Tensor(shape: [4], elements: [Float](repeating: 0, count: 4)),
            ])
        XCTAssertEqual(y.shape, [0, 4, 3])
    }

    func testBadInputsAndAttributesThrow() {
        let x = Tensor(shape: [1, 6, 4], elements: [Float](repeating: 1, count: 24))
        let six = Tensor(shape: [6], elements: [Float](repeating: 1, count: 6))
        let four = Tensor(shape: [4], elements: [Float](repeating: 1, count: 4))
        let groups = { (count: Int) -> [String: AttributeValue] in ["num_groups": .int(count)] }
        assertThrows(try run("GroupNormalization", opset: 21, groups(4), [x, four, four]), containing: "do not split")
        assertThrows(try run("GroupNormalization", opset: 21, groups(3), [x, four, four]), containing: "6 elements")
        assertThrows(
            try run("GroupNormalization", opset: 18, groups(3), [x, four, four]), containing: "6 elements")
        assertThrows(
            try run(
                "GroupNormalization", opset: 21, groups(3),
                [Tensor(shape: [6], elements: [Float](repeating: 1, count: 6)), six, six]),
            containing: "rank ≥ 2")
        assertThrows(
            try run(
                "GroupNormalization", opset: 21, groups(3),
                [Tensor(shape: [1, 6], elements: [Int32](repeating: 1, count: 6)), six, six]),
            containing: "must be float")
        assertThrows(try run("GroupNormalization", opset: 21, [:], [x, six, six]), containing: "num_groups")
        assertThrows(try run("GroupNormalization", opset: 21, groups(0), [x, six, six]), containing: "num_groups")
        // Channels-last, the channel axis is the last: 4 channels here.
        assertThrows(
            try run(
                "GroupNormalization", domain: "ai.onyx", opset: 1, groups(2).merging(["channels_last": .int(1)]) { $1 },
                [x, six, six]),
            containing: "4 elements")
        assertThrows(
            try run(
                "GroupNormalization", domain: "ai.onyx", opset: 1, groups(2).merging(["channels_last": .int(2)]) { $1 },
                [x, six, six]),
            containing: "channels_last")
        assertThrows(
            try run(
                "GroupNormalization", domain: "ai.onyx", opset: 1,
                groups(2).merging(["activation": .string(Array("relu".utf8))]) { $1 }, [x, six, six]),
            containing: "activation")
    }

    // MARK: - Helpers

    /// One random GroupNormalization: X is drawn around `center` with `spread`, in the given layout and type.
    private struct Problem {
        var shape: [Int]
        var groups: Int
        var epsilon: Double
        var channelsLast: Bool
        var silu: Bool
        var dataType: DataType
        var center = 0.0
        var spread = 2.0
    }

    /// Runs `problem` as ONNX GroupNormalization-21 (channels-first, no activation) or as Onyx's op, and compares
    /// it with the reference — on the transposed input and output when channels-last.
    private func check(_ problem: Problem, _ random: inout SplitMix, threads: Int, tolerance: Double? = nil) throws {
        let shape = problem.shape
        let channels = shape[1]
        let spatial = shape.dropFirst(2).reduce(1, *)
        let x = Self.rounded(
            random.values(shape.reduce(1, *)).map { problem.center + problem.spread * $0 }, to: problem.dataType)
        let scale = Self.rounded(random.values(channels).map { 1 + $0 }, to: problem.dataType)
        let bias = Self.rounded(random.values(channels), to: problem.dataType)
        let expected = Self.reference(
            x, shape: shape, groups: problem.groups, scale: scale, bias: bias, epsilon: problem.epsilon,
            silu: problem.silu)
        var attributes: [String: AttributeValue] = [
            "num_groups": .int(problem.groups), "epsilon": .float(Float(problem.epsilon)),
        ]
        let layoutShape = problem.channelsLast ? [shape[0]] + shape.dropFirst(2) + [channels] : shape
        let inputs = [
            Self.tensor(
                problem.channelsLast
                    ? transposingSamples(x, samples: shape[0], rows: channels, columns: spatial) : x,
                layoutShape, problem.dataType),
            Self.tensor(scale, [channels], problem.dataType), Self.tensor(bias, [channels], problem.dataType),
        ]
        let onyxOperator = problem.channelsLast || problem.silu
        if onyxOperator {
            attributes["channels_last"] = .int(problem.channelsLast ? 1 : 0)
            attributes["activation"] = .string(Array((problem.silu ? "silu" : "").utf8))
        }
        let tolerance = tolerance ?? [.float: 1e-4, .double: 1e-10, .float16: 4e-3, .bfloat16: 2e-2][problem.dataType]!
        // Both the AVX2 loops and the Swift ones, where the CPU has AVX2 (see testTheAVX2LoopsRunHere); the AVX2
        // loops take Float only.
        let vectorized = VectorExtensions.hasAVX2FMA && problem.dataType == .float
        for vectorExtensions in vectorized ? [true, false] : [false] {
            let output = try VectorExtensions.$allowed.withValue(vectorExtensions) {
                onyxOperator
                    ? try run("GroupNormalization", domain: "ai.onyx", opset: 1, attributes, inputs, threads: threads)
                    : try run("GroupNormalization", opset: 21, attributes, inputs, threads: threads)
            }
            let label = "\(problem), threads \(threads), vector extensions \(vectorExtensions)"
            XCTAssertEqual(output.dataType, problem.dataType, label)
            XCTAssertEqual(output.shape, layoutShape, label)
            var actual = try XCTUnwrap(output.doubleValues(), label)
            if problem.channelsLast {
                actual = transposingSamples(actual, samples: shape[0], rows: spatial, columns: channels)
            }
            assertClose(actual, expected, tolerance: tolerance, label)
        }
    }

    /// Straightforward GroupNormalization of channels-first `x` in Double: two-pass mean and variance per group.
    static func reference(
        _ x: [Double], shape: [Int], groups: Int, scale: [Double], bias: [Double], epsilon: Double, silu: Bool
    ) -> [Double] {
        let channels = shape[1]
        let spatial = shape.dropFirst(2).reduce(1, *)
        let groupSize = channels / groups * spatial
        var y = x
        for start in stride(from: 0, to: x.count, by: groupSize) {
            let values = x[start..<start + groupSize]
            let mean = values.reduce(0, +) / Double(groupSize)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(groupSize)
            for index in start..<start + groupSize {
                let channel = index / spatial % channels
                let normalized = (x[index] - mean) / (variance + epsilon).squareRoot() * scale[channel] + bias[channel]
                y[index] = silu ? normalized / (1 + exp(-normalized)) : normalized
            }
        }
        return y
    }

    /// Each sample's `rows × columns` block of `values` transposed: [N, C, S] to [N, S, C] and back.
    private func transposingSamples(_ values: [Double], samples: Int, rows: Int, columns: Int) -> [Double] {
        var result = values
        for n in 0..<samples {
            for r in 0..<rows {
                for c in 0..<columns {
                    result[(n * columns + c) * rows + r] = values[(n * rows + r) * columns + c]
                }
            }
        }
        return result
    }

    /// `values` as the nearest values of `dataType`.
    static func rounded(_ values: [Double], to dataType: DataType) -> [Double] {
        Self.tensor(values, [values.count], dataType).doubleValues() ?? []
    }

    static func tensor(_ values: [Double], _ shape: [Int], _ dataType: DataType) -> Tensor {
        switch dataType {
        case .double: return Tensor(shape: shape, elements: values)
        case .float16: return Tensor(shape: shape, elements: values.map { Float16(Float($0)) })
        case .bfloat16: return Tensor(shape: shape, elements: values.map { BFloat16(Float($0)) })
        default: return Tensor(shape: shape, elements: values.map { Float($0) })
        }
    }

    private func run(
        _ op: String, domain: String = "", opset: Int, _ attributes: [String: AttributeValue], _ inputs: [Tensor],
        threads: Int = 1
    ) throws -> Tensor {
        let node = KernelNode(opType: op, domain: domain, opsetVersion: opset, attributes: attributes)
        let outputs = try KernelRegistry.standard.evaluate(
            node, inputs: inputs.map { .tensor($0) }, context: KernelContext(threads: threads))
        return try XCTUnwrap(outputs.first?.tensor)
    }

    private func assertThrows(
        _ body: @autoclosure () throws -> Tensor, containing text: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is KernelError, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(text), "\(error) does not mention \(text)", file: file, line: line)
        }
    }
}

extension SplitMix {
    /// A random GroupNormalization problem's shape — 1–3 samples, 1–4 groups of 1–3 channels, 1–3 spatial axes of
    /// 1–6 positions — and epsilon.
    mutating func groupNormalizationProblem() -> (shape: [Int], groups: Int, epsilon: Double) {
        let rank = int(in: 3...5)
        let groups = int(in: 1...4)
        let channels = groups * int(in: 1...3)
        let samples = int(in: 1...3)
        let shape = [samples, channels] + (2..<rank).map { _ in int(in: 1...6) }
        return (shape, groups, [1e-5, 1e-3, 0.5][int(in: 0...2)])
    }
}

/// A small seeded generator (SplitMix64), so every run draws the same problems.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// `count` values uniform in [-1, 1).
    mutating func values(_ count: Int) -> [Double] {
        (0..<count).map { _ in Double(next() >> 11) / Double(1 << 52) - 1 }
    }
}
