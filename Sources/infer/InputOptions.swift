import ArgumentParser
import Foundation
import Onyx

/// `--input`, `--dim` and `--seed`: where a model's inputs come from, for `run` and `profile`.
struct InputOptions: ParsableArguments {
    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "An input: NAME=FILE (.npy or TensorProto .pb), NAME=@random, or a .npz holding inputs by name; "
                + "FILE alone for a one-input model. Repeatable.",
            valueName: "NAME=FILE"))
    var inputs: [String] = []

    @Option(
        name: .customLong("dim"),
        help: ArgumentHelp(
            "Set a symbolic dimension, e.g. --dim batch=4: @random inputs take it, given inputs must agree. Repeatable.",
            valueName: "NAME=VALUE"))
    var dimensionArguments: [String] = []

    @Option(help: "Seed for @random inputs: the same seed gives the same values.")
    var seed: UInt64 = 0

    func validate() throws {
        _ = try dimensions()
    }

    /// `--dim` arguments by symbol.
    func dimensions() throws -> [String: Int] {
        var dimensions: [String: Int] = [:]
        for argument in dimensionArguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]), value >= 0 else {
                throw ValidationError("--dim \(argument): expected NAME=VALUE with a non-negative integer VALUE, e.g. --dim batch=4")
            }
            dimensions[parts[0]] = value
        }
        return dimensions
    }

    /// The feeds `--input` describes for `session`; with `randomizeMissing`, every input not given is @random.
    func feeds(for session: Session, randomizeMissing: Bool = false) throws -> [String: Value] {
        try InputArguments.feeds(
            inputs, for: session, dimensions: dimensions(), seed: seed, randomizeMissing: randomizeMissing)
    }
}

/// Turns `--input` arguments into the feeds of a session.
enum InputArguments {
    /// The value a NAME=@random input asks for.
    private static let randomValue = "@random"

    /// Reads every input `arguments` name, generates the @random ones (after the files, so that they take the
    /// symbolic dimensions the files set), and checks that inputs agree with `dimensions` and with each other.
    /// With `randomizeMissing`, every required input the arguments do not name is @random too.
    static func feeds(
        _ arguments: [String], for session: Session, dimensions: [String: Int] = [:], seed: UInt64 = 0,
        randomizeMissing: Bool = false
    ) throws -> [String: Value] {
        var feeds: [String: Value] = [:]
        var random: Set<String> = []
        for (name, source) in try named(arguments, for: session) {
            guard feeds[name] == nil, !random.contains(name) else { throw CLIFailure("input '\(name)' is given twice") }
            switch source {
            case .random: random.insert(name)
            case .value(let value): feeds[name] = value
            }
        }
        if randomizeMissing {
            random.formUnion(session.inputs.map(\.name).filter { feeds[$0] == nil })
        }
        var bindings = try SymbolBindings(session: session, given: dimensions)
        for input in session.graph.inputs {
            if let tensor = feeds[input.name]?.tensor { try bindings.check(tensor, against: input) }
        }
        var generator = RandomTensors(seed: seed)
        for input in session.graph.inputs where random.contains(input.name) {
            feeds[input.name] = .tensor(try generator.tensor(for: input, dimensions: bindings.values))
        }
        return feeds
    }

    private enum Source {
        case value(Value)
        case random
    }

    /// Each argument resolved to input names and what to feed them: NAME=FILE, NAME=@random, FILE.npz (one entry
    /// per input it holds), or FILE alone (a one-input model, or a .pb whose tensor names an input).
    private static func named(_ arguments: [String], for session: Session) throws -> [(name: String, source: Source)] {
        var resolved: [(name: String, source: Source)] = []
        let declared = session.graph.inputs
        let known = session.inputs.map { "'\($0.name)'" }.joined(separator: ", ")
        func info(_ name: String) throws -> ValueInfo {
            guard let info = declared.first(where: { $0.name == name }) else {
                throw RuntimeError.unknownInput(name, expected: session.inputs.map(\.name))
            }
            return info
        }
        for argument in arguments {
            if let equals = argument.firstIndex(of: "="), !FileManager.default.fileExists(atPath: argument) {
                let name = String(argument[..<equals])
                let path = String(argument[argument.index(after: equals)...])
                let input = try info(name)
                resolved.append((name, path == randomValue ? .random : .value(try TensorFiles.readValue(path, expected: input.type))))
            } else if argument.hasSuffix(".npz") {
                resolved += try npzFeeds(argument, for: session).map { ($0.name, .value(.tensor($0.tensor))) }
            } else if session.inputs.count == 1 {
                let input = session.inputs[0]
                resolved.append((input.name, .value(try TensorFiles.readValue(argument, expected: input.type))))
            } else if argument.hasSuffix(".pb"), let named = try? ProtoDecoder.tensor(from: TensorFiles.readBytes(argument), source: argument),
                declared.contains(where: { $0.name == named.name })
            {
                resolved.append((named.name, .value(.tensor(named.tensor))))
            } else {
                throw CLIFailure("--input \(argument): name the input as NAME=FILE; the model's inputs are \(known)")
            }
        }
        return resolved
    }

    /// The arrays of a `.npz` file matched to inputs: by name, or `arr_N` (numpy's name for the Nth positional
    /// array) to the Nth input the caller must supply.
    private static func npzFeeds(_ path: String, for session: Session) throws -> [(name: String, tensor: Tensor)] {
        let required = session.inputs
        return try TensorFiles.readNpz(path).map { entry in
            if session.graph.inputs.contains(where: { $0.name == entry.name }) { return entry }
            if entry.name.hasPrefix("arr_"), let index = Int(entry.name.dropFirst(4)), required.indices.contains(index) {
                return (required[index].name, entry.tensor)
            }
            let known = required.map { "'\($0.name)'" }.joined(separator: ", ")
            throw CLIFailure("\(path): array '\(entry.name)' names no input; the model's inputs are \(known)")
        }
    }
}

/// Values of symbolic dimensions: from `--dim` first, then from the first input that has one.
struct SymbolBindings {
    private(set) var values: [String: Int]
    private var sources: [String: String]

    /// Starts from `given` (`--dim`), refusing a name no input declares.
    init(session: Session, given: [String: Int]) throws {
        let symbols = Set(session.graph.inputs.flatMap { input -> [String] in
            guard case .tensor(_, let shape?)? = input.type else { return [] }
            return shape.compactMap { if case .symbol(let name) = $0 { name } else { nil } }
        })
        for name in given.keys.sorted() where !symbols.contains(name) {
            let list = symbols.isEmpty ? "the model's inputs have none" : "the model's are " + symbols.sorted().joined(separator: ", ")
            throw CLIFailure("--dim \(name): no input has a dimension named '\(name)'; \(list)")
        }
        values = given
        sources = given.mapValues { _ in "--dim" }
    }

    /// Checks `tensor`'s extents against every symbol its declared shape names, binding the unbound ones.
    mutating func check(_ tensor: Tensor, against input: ValueInfo) throws {
        guard case .tensor(_, let shape?)? = input.type, shape.count == tensor.rank else { return }
        for (axis, (declared, extent)) in zip(shape, tensor.shape).enumerated() {
            guard case .symbol(let name) = declared else { continue }
            if let bound = values[name], bound != extent {
                throw CLIFailure(
                    "input '\(input.name)': dimension \(axis) ('\(name)') is \(extent), but \(name) is \(bound) (from \(sources[name] ?? "?"))")
            }
            values[name] = extent
            sources[name] = sources[name] ?? "input '\(input.name)'"
        }
    }
}

/// Seeded pseudo-random tensors for @random inputs (SplitMix64, so a seed gives the same values everywhere).
///
/// Floating-point elements are uniform in [-1, 1), integers in [0, 10) (narrower for 4- and 2-bit types), bools
/// fair coins, strings of 1 to 8 lowercase letters.
struct RandomTensors {
    private var state: UInt64
    /// A bound on @random sizes, so that a mistyped --dim fails rather than exhausting memory.
    private static let maximumElementCount = 1 << 31

    init(seed: UInt64) {
        state = seed
    }

    /// A tensor of `input`'s declared type and shape; symbolic dimensions come from `dimensions`.
    mutating func tensor(for input: ValueInfo, dimensions: [String: Int]) throws -> Tensor {
        guard case .tensor(let type, let declared)? = input.type else {
            throw CLIFailure("input '\(input.name)': @random makes tensors, and this input is \(input.type?.description ?? "of unknown type")")
        }
        guard let declared else {
            throw CLIFailure("input '\(input.name)': @random needs a declared shape, and the model declares none; give a file")
        }
        let shape = try declared.enumerated().map { axis, dimension -> Int in
            switch dimension {
            case .value(let extent): return extent
            case .symbol(let name):
                guard let extent = dimensions[name] else {
                    throw CLIFailure("input '\(input.name)': dimension \(axis) is '\(name)'; set it with --dim \(name)=N")
                }
                return extent
            case .unknown:
                throw CLIFailure("input '\(input.name)': dimension \(axis) has no size or name; give a file instead of @random")
            }
        }
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Self.maximumElementCount else {
                throw CLIFailure("input '\(input.name)': shape \(shape) is too large for @random (at most 2^31 elements)")
            }
            count = product
        }
        switch type {
        case .bool: return Tensor(shape: shape, elements: (0..<count).map { _ in next() & 1 == 1 })
        case .string: return Tensor(shape: shape, elements: (0..<count).map { _ in word() })
        case .complex64:
            return Tensor(shape: shape, elements: (0..<count).map { _ in Complex64(real: Float(signed()), imaginary: Float(signed())) })
        case .complex128:
            return Tensor(shape: shape, elements: (0..<count).map { _ in Complex128(real: signed(), imaginary: signed()) })
        default:
            guard let numeric = type.elementType as? any NumericElement.Type else {
                throw CLIFailure("input '\(input.name)': @random cannot make \(type) elements")
            }
            let values = type.isFloatingPoint
                ? (0..<count).map { _ in signed() } : (0..<count).map { _ in Double(next() % integerRange(type)) }
            return Self.tensor(numeric, shape: shape, values: values)
        }
    }

    private static func tensor<T: NumericElement>(_: T.Type, shape: [Int], values: [Double]) -> Tensor {
        Tensor(shape: shape, elements: values.map(T.init(converting:)))
    }

    /// Integers drawn are in [0, range): every type holds them.
    private func integerRange(_ type: DataType) -> UInt64 {
        switch type {
        case .int2, .uint2: 2
        case .int4, .uint4: 8
        default: 10
        }
    }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), from the top 53 bits.
    private mutating func signed() -> Double {
        Double(next() >> 11) / Double(1 << 52) - 1
    }

    private mutating func word() -> String {
        let length = Int(next() % 8) + 1
        return String((0..<length).map { _ in Character(Unicode.Scalar(UInt8(97 + next() % 26))) })
    }
}
