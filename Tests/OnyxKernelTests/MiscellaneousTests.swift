import Foundation
import OnyxCore
import OnyxFormat
import XCTest

@testable import OnyxKernels

/// BitCast, the ai.onnx.ml kernels, TfIdfVectorizer, the training optimisers and the random kernels, on small
/// hand-computed cases (random ones against numbers printed by numpy's legacy RandomState).
final class MiscellaneousTests: XCTestCase {
    private let registry = KernelRegistry.standard
    private let ml = "ai.onnx.ml"
    private let training = "ai.onnx.preview.training"

    // MARK: BitCast

    func testBitCastKeepsBitsOfPlainTypes() throws {
        let floats = Tensor(shape: [2], elements: [Float(1), -2])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(6)], [floats]),
            Tensor(shape: [2], elements: [Int32(0x3F80_0000), Int32(bitPattern: 0xC000_0000)]))
        let halves = Tensor(shape: [1], elements: [Float16(1)])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(16)], [halves]),
            Tensor(shape: [1], elements: [BFloat16(bits: 0x3C00)]))
    }

    func testBitCastToBoolMakesEveryNonzeroByteTrue() throws {
        let bytes = Tensor(shape: [3], elements: [UInt8(0), 2, 255])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(9)], [bytes]), Tensor(shape: [3], elements: [false, true, true]))
    }

    func testBitCastCarriesSubByteBitPatterns() throws {
        let int4 = Tensor(shape: [3], elements: [Int4(value: -1), Int4(value: 7), Int4(value: -8)])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(21)], [int4]),
            Tensor(shape: [3], elements: [UInt4(value: 15), UInt4(value: 7), UInt4(value: 8)]))
        let uint2 = Tensor(shape: [2], elements: [UInt2(value: 3), UInt2(value: 1)])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(26)], [uint2]),
            Tensor(shape: [2], elements: [Int2(value: -1), Int2(value: 1)]))
        let float4 = Tensor(shape: [1], elements: [Float4E2M1(bits: 0x9)])
        XCTAssertEqual(
            try run("BitCast", opset: 26, ["to": .int(22)], [float4]), Tensor(shape: [1], elements: [Int4(value: -7)]))
    }

    func testBitCastRefusesOtherWidthsAndStrings() {
        let floats = Tensor(shape: [1], elements: [Float(1)])
        XCTAssertThrowsError(try run("BitCast", opset: 26, ["to": .int(7)], [floats]))
        XCTAssertThrowsError(try run("BitCast", opset: 26, ["to": .int(8)], [floats]))
        XCTAssertThrowsError(try run("BitCast", opset: 26, [:], [floats]))
        XCTAssertThrowsError(
            try run("BitCast", opset: 26, ["to": .int(2)], [Tensor(shape: [1], elements: ["a"])]))
    }

    // MARK: LabelEncoder

    func testLabelEncoderVersion1MapsStringsToIndicesAndBack() throws {
        let attributes: [String: AttributeValue] = [
            "classes_strings": strings(["a", "b", "c"]), "default_int64": .int(9),
            "default_string": .string(Array("none".utf8)),
        ]
        XCTAssertEqual(
            try run("LabelEncoder", domain: ml, opset: 1, attributes, [Tensor(shape: [2], elements: ["b", "z"])]),
            Tensor(shape: [2], elements: [Int64(1), 9]))
        XCTAssertEqual(
            try run("LabelEncoder", domain: ml, opset: 1, attributes, [Tensor(shape: [2], elements: [Int64(2), 5])]),
            Tensor(shape: [2], elements: ["c", "none"]))
    }

    func testLabelEncoderMatchesAnyNaNAndSignedZeroes() throws {
        let attributes: [String: AttributeValue] = [
            "keys_floats": .floats([.nan, 1.5, -0.0]), "values_strings": strings(["nan", "x", "zero"]),
        ]
        let input = Tensor(shape: [2, 2], elements: [Float(nan: 3, signaling: false), 0, 1.5, 2])
        XCTAssertEqual(
            try run("LabelEncoder", domain: ml, opset: 2, attributes, [input]),
            Tensor(shape: [2, 2], elements: ["nan", "zero", "x", "_Unused"]))
    }

    func testLabelEncoderWithTensorsDefaultsByValueType() throws {
        let attributes: [String: AttributeValue] = [
            "keys_tensor": .tensor(Tensor(shape: [2], elements: [Int32(1), 2])),
            "values_tensor": .tensor(Tensor(shape: [2], elements: [0.5, 0.25])),
        ]
        let input = Tensor(shape: [2], elements: [Int32(2), 3])
        let output = try run("LabelEncoder", domain: ml, opset: 4, attributes, [input])
        XCTAssertEqual(output.elements(as: Double.self)[0], 0.25)
        XCTAssertEqual(output.elements(as: Double.self)[1], 0)
        XCTAssertEqual(output.elements(as: Double.self)[1].sign, .minus)
        var withDefault = attributes
        withDefault["default_tensor"] = .tensor(Tensor(shape: [1], elements: [7.0]))
        XCTAssertEqual(
            try run("LabelEncoder", domain: ml, opset: 4, withDefault, [Tensor(shape: [1], elements: [Int32(5)])]),
            Tensor(shape: [1], elements: [7.0]))
        // The input must have the keys' type.
        XCTAssertThrowsError(
            try run("LabelEncoder", domain: ml, opset: 4, attributes, [Tensor(shape: [1], elements: [Int64(1)])]))
    }

    func testLabelEncoderRefusesAmbiguousOrUnpairedTables() {
        let input = Tensor(shape: [1], elements: ["a"])
        let twoKeyLists: [String: AttributeValue] = [
            "keys_strings": strings(["a"]), "keys_tensor": .tensor(Tensor(shape: [1], elements: ["a"])),
            "values_int64s": .ints([1]),
        ]
        XCTAssertThrowsError(try run("LabelEncoder", domain: ml, opset: 4, twoKeyLists, [input]))
        let unpaired: [String: AttributeValue] = ["keys_strings": strings(["a", "b"]), "values_int64s": .ints([1])]
        XCTAssertThrowsError(try run("LabelEncoder", domain: ml, opset: 2, unpaired, [input]))
    }

    // MARK: TreeEnsemble

    /// Tree A: x0 ≤ 1 → leaf 0 (target 0, 1); else x1 = 5 → leaf 1 (target 1, 2), else leaf 2 (target 0, 3).
    /// Tree B: a single leaf 3 (target 1, 4).
    private func forest(_ extra: [String: AttributeValue] = [:]) -> [String: AttributeValue] {
        var attributes: [String: AttributeValue] = [
            "n_targets": .int(2),
            "tree_roots": .ints([0, 2]),
            "nodes_featureids": .ints([0, 1, 0]),
            "nodes_modes": .tensor(Tensor(shape: [3], elements: [UInt8(0), 4, 0])),
            "nodes_splits": .tensor(Tensor(shape: [3], elements: [Float(1), 5, 0])),
            "nodes_truenodeids": .ints([0, 1, 3]),
            "nodes_trueleafs": .ints([1, 1, 1]),
            "nodes_falsenodeids": .ints([1, 2, 3]),
            "nodes_falseleafs": .ints([0, 1, 1]),
            "leaf_targetids": .ints([0, 1, 0, 1]),
            "leaf_weights": .tensor(Tensor(shape: [4], elements: [Float(1), 2, 3, 4])),
        ]
        attributes.merge(extra) { $1 }
        return attributes
    }

    func testTreeEnsembleAggregatesTreesPerTarget() throws {
        let x = Tensor(shape: [3, 2], elements: [Float(0.5), 0, 2, 5, .nan, 7])
        assertClose(try run("TreeEnsemble", domain: ml, opset: 5, forest(), [x]), [1, 4, 0, 6, 3, 4])
        assertClose(
            try run("TreeEnsemble", domain: ml, opset: 5, forest(["aggregate_function": .int(0)]), [x]),
            [0.5, 2, 0, 3, 1.5, 2])
        // A target no leaf reached stays 0 under min and max.
        assertClose(
            try run("TreeEnsemble", domain: ml, opset: 5, forest(["aggregate_function": .int(2)]), [x]),
            [1, 4, 0, 2, 3, 4])
        assertClose(
            try run("TreeEnsemble", domain: ml, opset: 5, forest(["aggregate_function": .int(3)]), [x]),
            [1, 4, 0, 4, 3, 4])
        // A NaN feature follows the true branch where the node says so.
        let missing = forest(["nodes_missing_value_tracks_true": .ints([1, 0, 0])])
        assertClose(try run("TreeEnsemble", domain: ml, opset: 5, missing, [x]), [1, 4, 0, 6, 1, 4])
    }

    func testTreeEnsemblePostTransforms() throws {
        let x = Tensor(shape: [1, 2], elements: [0.5, 0.0])
        let softmax = try run("TreeEnsemble", domain: ml, opset: 5, forest(["post_transform": .int(1)]), [x])
        XCTAssertEqual(softmax.dataType, .double)
        assertClose(softmax, [0.04742587317756679, 0.9525741268224332])
        assertClose(
            try run("TreeEnsemble", domain: ml, opset: 5, forest(["post_transform": .int(2)]), [x]),
            [0.7310585786300049, 0.9820137900379085])
        let probabilities = forest([
            "post_transform": .int(4), "leaf_weights": .tensor(Tensor(shape: [4], elements: [0.975, 0.5, 0, 0.1])),
        ])
        assertClose(
            try run("TreeEnsemble", domain: ml, opset: 5, probabilities, [x]),
            [1.9599639845400536, -1.2815515655446008])
    }

    func testTreeEnsembleSetMembership() throws {
        let attributes = forest([
            "nodes_modes": .tensor(Tensor(shape: [3], elements: [UInt8(6), 4, 0])),
            "membership_values": .tensor(Tensor(shape: [3], elements: [Float(1), 3, .nan])),
        ])
        let x = Tensor(shape: [2, 2], elements: [Float(3), 0, 2, 0])
        assertClose(try run("TreeEnsemble", domain: ml, opset: 5, attributes, [x]), [1, 4, 3, 4])
    }

    func testTreeEnsembleRefusesBadForests() {
        let x = Tensor(shape: [1, 2], elements: [Float(0), 0])
        let cycle = forest(["nodes_trueleafs": .ints([0, 0, 1]), "nodes_truenodeids": .ints([1, 0, 3])])
        XCTAssertThrowsError(try run("TreeEnsemble", domain: ml, opset: 5, cycle, [x]))
        let badLeaf = forest(["nodes_falsenodeids": .ints([1, 9, 3])])
        XCTAssertThrowsError(try run("TreeEnsemble", domain: ml, opset: 5, badLeaf, [x]))
        let badTarget = forest(["leaf_targetids": .ints([0, 1, 2, 1])])
        XCTAssertThrowsError(try run("TreeEnsemble", domain: ml, opset: 5, badTarget, [x]))
        let unterminatedSet = forest([
            "nodes_modes": .tensor(Tensor(shape: [3], elements: [UInt8(6), 4, 0])),
            "membership_values": .tensor(Tensor(shape: [2], elements: [Float(1), 3])),
        ])
        XCTAssertThrowsError(try run("TreeEnsemble", domain: ml, opset: 5, unterminatedSet, [x]))
        // Too few features for the nodes.
        XCTAssertThrowsError(
            try run("TreeEnsemble", domain: ml, opset: 5, forest(), [Tensor(shape: [1, 1], elements: [Float(0)])]))
    }

    // MARK: ArrayFeatureExtractor and Binarizer

    func testArrayFeatureExtractorPicksAlongTheLastAxis() throws {
        let vector = Tensor(shape: [3], elements: [Float(10), 20, 30])
        func extract(_ data: Tensor, _ indices: Tensor) throws -> Tensor {
            try run("ArrayFeatureExtractor", domain: ml, opset: 1, [:], [data, indices])
        }
        XCTAssertEqual(
            try extract(vector, Tensor(shape: [2], elements: [Int64(2), 0])),
            Tensor(shape: [1, 2], elements: [Float(30), 10]))
        let words = Tensor(shape: [2, 3], elements: ["a", "b", "c", "d", "e", "f"])
        XCTAssertEqual(
            try extract(words, Tensor(shape: [1], elements: [Int64(1)])), Tensor(shape: [2, 1], elements: ["b", "e"]))
        XCTAssertThrowsError(try extract(vector, Tensor(shape: [1], elements: [Int64(3)])))
        XCTAssertThrowsError(try extract(vector, Tensor(shape: [1], elements: [Int32(0)])))
    }

    func testBinarizerComparesWithTheThreshold() throws {
        XCTAssertEqual(
            try run("Binarizer", domain: ml, opset: 1, [:], [Tensor(shape: [3], elements: [Int32(-1), 0, 3])]),
            Tensor(shape: [3], elements: [Int32(0), 0, 1]))
        XCTAssertEqual(
            try run(
                "Binarizer", domain: ml, opset: 1, ["threshold": .float(1.5)],
                [Tensor(shape: [3], elements: [Float(1.5), 2, .nan])]),
            Tensor(shape: [3], elements: [Float(0), 1, 0]))
        XCTAssertThrowsError(
            try run("Binarizer", domain: ml, opset: 1, [:], [Tensor(shape: [1], elements: [UInt8(1)])]))
    }

    // MARK: TfIdfVectorizer

    /// The spec's pool: bigrams (94, 17) → column 1 and (17, 36) → column 0.
    private func bigrams(_ mode: String, skip: Int, weights: [Float]? = nil) -> [String: AttributeValue] {
        var attributes: [String: AttributeValue] = [
            "mode": .string(Array(mode.utf8)), "min_gram_length": .int(2), "max_gram_length": .int(2),
            "max_skip_count": .int(skip), "ngram_counts": .ints([0, 0]), "ngram_indexes": .ints([1, 0]),
            "pool_int64s": .ints([94, 17, 17, 36]),
        ]
        if let weights { attributes["weights"] = .floats(weights) }
        return attributes
    }

    func testTfIdfVectorizerCountsBigramsWithSkips() throws {
        let text = Tensor(shape: [7], elements: [Int64(94), 17, 36, 12, 28, 94, 17])
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("TF", skip: 0), [text]),
            Tensor(shape: [2], elements: [Float(1), 2]))
        let gapped = Tensor(shape: [1, 3], elements: [Int32(94), 5, 17])
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("TF", skip: 0), [gapped]),
            Tensor(shape: [1, 2], elements: [Float(0), 0]))
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("TF", skip: 1), [gapped]),
            Tensor(shape: [1, 2], elements: [Float(0), 1]))
        let rows = Tensor(shape: [2, 2], elements: [Int64(94), 17, 17, 36])
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("TF", skip: 0), [rows]),
            Tensor(shape: [2, 2], elements: [Float(0), 1, 1, 0]))
    }

    func testTfIdfVectorizerWeightsCounts() throws {
        let text = Tensor(shape: [7], elements: [Int64(94), 17, 36, 12, 28, 94, 17])
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("TFIDF", skip: 0, weights: [0.5, 2]), [text]),
            Tensor(shape: [2], elements: [Float(0.5), 4]))
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("IDF", skip: 0, weights: [0.5, 2]), [text]),
            Tensor(shape: [2], elements: [Float(0.5), 2]))
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, bigrams("IDF", skip: 0), [text]),
            Tensor(shape: [2], elements: [Float(1), 1]))
    }

    func testTfIdfVectorizerCountsStringUnigrams() throws {
        let attributes: [String: AttributeValue] = [
            "mode": .string(Array("TF".utf8)), "min_gram_length": .int(1), "max_gram_length": .int(1),
            "max_skip_count": .int(3), "ngram_counts": .ints([0]), "ngram_indexes": .ints([0, 1]),
            "pool_strings": strings(["a", "b"]),
        ]
        XCTAssertEqual(
            try run("TfIdfVectorizer", opset: 9, attributes, [Tensor(shape: [4], elements: ["b", "a", "b", "c"])]),
            Tensor(shape: [2], elements: [Float(1), 2]))
        XCTAssertThrowsError(
            try run("TfIdfVectorizer", opset: 9, attributes, [Tensor(shape: [1], elements: [Int64(1)])]))
    }

    func testTfIdfVectorizerRefusesBadAttributes() {
        let text = Tensor(shape: [1], elements: [Int64(94)])
        XCTAssertThrowsError(try run("TfIdfVectorizer", opset: 9, bigrams("BM25", skip: 0), [text]))
        XCTAssertThrowsError(try run("TfIdfVectorizer", opset: 9, bigrams("IDF", skip: 0, weights: [1]), [text]))
        var tooFewIndexes = bigrams("TF", skip: 0)
        tooFewIndexes["ngram_indexes"] = .ints([0])
        XCTAssertThrowsError(try run("TfIdfVectorizer", opset: 9, tooFewIndexes, [text]))
        var outsideThePool = bigrams("TF", skip: 0)
        outsideThePool["ngram_counts"] = .ints([0, 9])
        XCTAssertThrowsError(try run("TfIdfVectorizer", opset: 9, outsideThePool, [text]))
    }

    // MARK: Optimisers

    func testAdagradUpdatesValueAndAccumulator() throws {
        let attributes: [String: AttributeValue] = [
            "decay_factor": .float(0.1), "epsilon": .float(1e-5), "norm_coefficient": .float(0.001),
        ]
        let outputs = try runAll(
            "Adagrad", domain: training, attributes,
            [Tensor(scalar: Float(0.1)), Tensor(scalar: Int64(0)), floats([1]), floats([-1]), floats([2])])
        assertClose(outputs[0], [1.0576962])
        assertClose(outputs[1], [2.998001])
    }

    func testMomentumStandardAndNesterov() throws {
        var attributes: [String: AttributeValue] = [
            "alpha": .float(0.95), "beta": .float(0.1), "norm_coefficient": .float(0.001),
            "mode": .string(Array("standard".utf8)),
        ]
        let inputs = [floats([1.2, 2.8]), floats([-0.94, -2.5]), floats([1.7, 3.6])]
        // T = 0: the gradient's coefficient is 1 whatever beta says.
        func step(_ count: Int64) throws -> [Tensor] {
            try runAll("Momentum", domain: training, attributes, [Tensor(scalar: 0.1), Tensor(scalar: count)] + inputs)
        }
        let first = try step(0)
        assertClose(first[0], [1.13238, 2.70772])
        assertClose(first[1], [0.6762, 0.9228])
        let later = try step(3)
        assertClose(later[0], [1.047888, 2.482972])
        assertClose(later[1], [1.52112, 3.17028])
        attributes["mode"] = .string(Array("nesterov".utf8))
        attributes["beta"] = .float(1)
        attributes["norm_coefficient"] = .float(0.01)
        let nesterov = try step(0)
        assertClose(nesterov[0], [1.227535, 2.95714])
        assertClose(nesterov[1], [0.687, 0.948])
        attributes["mode"] = nil
        XCTAssertThrowsError(try step(0))
    }

    func testAdamWithBiasCorrectionAndSeveralTensors() throws {
        let attributes: [String: AttributeValue] = [
            "alpha": .float(0.9), "beta": .float(0.999), "epsilon": .float(1e-6), "norm_coefficient": .float(0.01),
            "norm_coefficient_post": .float(0.02),
        ]
        let outputs = try runAll(
            "Adam", domain: training, attributes,
            [Tensor(scalar: 0.1), Tensor(scalar: Int64(2))]
                + [[1], [-2], [0.5], [0.25], [0.1], [0.2], [0.3], [0.4]].map(doubles))
        XCTAssertEqual(outputs.count, 6)
        XCTAssertEqual(outputs[0].dataType, .double)
        assertClose(outputs[0], [0.97406302])
        assertClose(outputs[1], [-1.96740513])
        assertClose(outputs[2], [0.141])
        assertClose(outputs[3], [0.203])
        assertClose(outputs[4], [0.2999601])
        assertClose(outputs[5], [0.3996529])
    }

    func testOptimisersRefuseMismatchedInputs() {
        let attributes: [String: AttributeValue] = [:]
        let head = [Tensor(scalar: Float(0.1)), Tensor(scalar: Int64(0))]
        // Adagrad needs X, G and H per tensor.
        XCTAssertThrowsError(try runAll("Adagrad", domain: training, attributes, head + [floats([1]), floats([1])]))
        XCTAssertThrowsError(
            try runAll("Adagrad", domain: training, attributes, head + [floats([1]), floats([1, 2]), floats([1])]))
        XCTAssertThrowsError(
            try runAll("Adagrad", domain: training, attributes, head + [floats([1]), doubles([1]), floats([1])]))
        XCTAssertThrowsError(
            try runAll(
                "Adagrad", domain: training, attributes,
                [Tensor(scalar: Float(0.1)), Tensor(scalar: Int32(0)), floats([1]), floats([1]), floats([1])]))
    }

    // MARK: Random

    func testNumpyRandomStateReproducesNumpy() {
        var uniform = NumpyRandomState(seed: 0)
        XCTAssertEqual(
            (0..<3).map { _ in uniform.nextDouble() }, [0.5488135039273248, 0.7151893663724195, 0.6027633760716439])
        var normal = NumpyRandomState(seed: 0)
        XCTAssertEqual(
            (0..<3).map { _ in normal.nextGaussian() }, [1.764052345967664, 0.4001572083672233, 0.9787379841057392])
        // numpy: RandomState(123).binomial(1, p); p = 0 and p = 1 still consume a draw.
        var bernoulli = NumpyRandomState(seed: 123)
        let probabilities = [0.0, 1.0, 0.5, 0.25, 0.75, 0.999, 0.001, 0.5]
        XCTAssertEqual(
            probabilities.map { bernoulli.nextBernoulli($0) }, [false, true, false, false, true, true, false, true])
    }

    func testRandomUniformAndNormalFollowTheSeed() throws {
        let attributes: [String: AttributeValue] = [
            "shape": .ints([2, 3]), "dtype": .int(11), "low": .float(2), "high": .float(5), "seed": .float(42),
        ]
        let uniform = try run("RandomUniform", opset: 22, attributes, [])
        XCTAssertEqual(uniform.shape, [2, 3])
        XCTAssertEqual(
            uniform.elements(as: Double.self),
            [3.1236203565420873, 4.852142919229749, 4.195981825434215, 3.79597545259111, 2.4680559213273097,
             2.467983561008608])
        let like = Tensor(shape: [5], elements: [Float](repeating: 0, count: 5))
        let normal = try run(
            "RandomNormalLike", opset: 22, ["mean": .float(1), "scale": .float(2), "seed": .float(7)], [like])
        XCTAssertEqual(normal.dataType, .float)
        assertClose(
            normal,
            [4.381051407600712, 0.06812525891833443, 1.0656403273571688, 1.8150325659930155, -0.5778460572514772])
    }

    func testUnseededRandomFillsStayInRange() throws {
        let output = try run(
            "RandomUniformLike", opset: 22, ["low": .float(-1), "high": .float(1), "dtype": .int(10)],
            [Tensor(shape: [4, 4], elements: [Int32](repeating: 0, count: 16))])
        XCTAssertEqual(output.dataType, .float16)
        XCTAssertEqual(output.shape, [4, 4])
        XCTAssertTrue(output.doubleValues()?.allSatisfy { (-1...1).contains($0) } ?? false)
    }

    func testRandomFillsRefuseBadTypesAndShapes() {
        XCTAssertThrowsError(try run("RandomUniform", opset: 22, [:], []))
        XCTAssertThrowsError(try run("RandomNormal", opset: 22, ["shape": .ints([2, -1])], []))
        XCTAssertThrowsError(try run("RandomNormal", opset: 22, ["shape": .ints([2]), "dtype": .int(6)], []))
        XCTAssertThrowsError(
            try run("RandomUniformLike", opset: 22, [:], [Tensor(shape: [1], elements: [Int32(0)])]))
    }

    func testBernoulliDrawsLikeTheReferenceImplementation() throws {
        // The input of ONNX's bernoulli tests, RandomState(0).uniform(0, 1, 10) as float32 (so the reference's
        // draws, from the same stream, make close calls); the reference samples RandomState(0).binomial(1, p).
        var source = NumpyRandomState(seed: 0)
        let p = Tensor(shape: [10], elements: (0..<10).map { _ in Float(source.nextDouble()) })
        let draws = try run("Bernoulli", opset: 22, ["seed": .float(0), "dtype": .int(6)], [p])
        XCTAssertEqual(draws, Tensor(shape: [10], elements: [Int32(1), 0, 0, 1, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(try run("Bernoulli", opset: 22, [:], [p]).dataType, .float)
        XCTAssertThrowsError(try run("Bernoulli", opset: 22, [:], [floats([0.5, 1.5])]))
        XCTAssertThrowsError(try run("Bernoulli", opset: 22, [:], [Tensor(shape: [1], elements: [Int32(1)])]))
    }

    func testMultinomialSamplesClassIndices() throws {
        let logits = floats([0, -1000, -1000, 0], [2, 2])
        let samples = try run("Multinomial", opset: 22, ["sample_size": .int(3), "seed": .float(1)], [logits])
        XCTAssertEqual(samples, Tensor(shape: [2, 3], elements: [Int32(0), 0, 0, 1, 1, 1]))
        let wide = try run(
            "Multinomial", opset: 22, ["dtype": .int(7), "sample_size": .int(50)], [floats([0, 0, 0], [1, 3])])
        XCTAssertTrue(wide.elements(as: Int64.self).allSatisfy { (0..<3).contains($0) })
        XCTAssertThrowsError(try run("Multinomial", opset: 22, ["dtype": .int(1)], [logits]))
        XCTAssertThrowsError(try run("Multinomial", opset: 22, [:], [floats([0, 1], [2])]))
    }

    // MARK: Helpers

    private func run(
        _ op: String, domain: String = "", opset: Int, _ attributes: [String: AttributeValue], _ inputs: [Tensor]
    ) throws -> Tensor {
        guard let tensor = try runAll(op, domain: domain, opset: opset, attributes, inputs).first else {
            throw KernelError.invalidInput("\(op) returned nothing")
        }
        return tensor
    }

    private func runAll(
        _ op: String, domain: String = "", opset: Int = 1, _ attributes: [String: AttributeValue], _ inputs: [Tensor]
    ) throws -> [Tensor] {
        let node = KernelNode(
            opType: op, domain: domain, opsetVersion: opset, attributes: attributes,
            inputPresent: inputs.map { _ in true })
        return try registry.evaluate(node, inputs: inputs.map { .tensor($0) }).compactMap(\.tensor)
    }

    private func strings(_ values: [String]) -> AttributeValue {
        .strings(values.map { Array($0.utf8) })
    }

    private func floats(_ values: [Float], _ shape: [Int]? = nil) -> Tensor {
        Tensor(shape: shape ?? [values.count], elements: values)
    }

    private func doubles(_ values: [Double]) -> Tensor {
        Tensor(shape: [values.count], elements: values)
    }
}
