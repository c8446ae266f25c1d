import OnyxCore

// The string operators: StringConcat, StringSplit, RegexFullMatch and StringNormalizer.

/// StringConcat: elementwise `x + y` with NumPy broadcasting.
enum StringConcat {
    static func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let x = try stringTensor(inputs, 0)
        let y = try stringTensor(inputs, 1)
        let plan = try BroadcastPlan([x.shape, y.shape])
        let joined = plan.map(x.elements(as: String.self), y.elements(as: String.self)) { $0 + $1 }
        return [.tensor(Tensor(shape: plan.shape, elements: joined))]
    }
}

/// StringSplit: splits every string on `delimiter` (or, when unset or empty, on runs of whitespace, ignoring
/// leading and trailing whitespace) at most `maxsplit` times. Returns the pieces, padded with "" along a new
/// last axis to the largest count, and the int64 count of pieces per string.
struct StringSplitKernel: Kernel {
    /// nil splits on whitespace.
    private let delimiter: [Unicode.Scalar]?
    /// nil splits as often as possible.
    private let maximumSplits: Int?

    init(_ node: KernelNode) throws {
        let delimiter = try node.string("delimiter") ?? ""
        self.delimiter = delimiter.isEmpty ? nil : Array(delimiter.unicodeScalars)
        maximumSplits = try node.int("maxsplit")
        if let maximumSplits, maximumSplits < 0 {
            throw KernelError.invalidAttribute("maxsplit", "must be ≥ 0, got \(maximumSplits)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try stringTensor(inputs, 0)
        let pieces = input.elements(as: String.self).map { string in
            let scalars = Array(string.unicodeScalars)
            let ranges = delimiter.map { split(scalars, on: $0) } ?? splitOnWhitespace(scalars)
            return ranges.map { String(String.UnicodeScalarView(scalars[$0])) }
        }
        let width = pieces.map(\.count).max() ?? 0
        let padded = pieces.flatMap { $0 + Array(repeating: "", count: width - $0.count) }
        return [
            .tensor(Tensor(shape: input.shape + [width], elements: padded)),
            .tensor(Tensor(shape: input.shape, elements: pieces.map { Int64($0.count) })),
        ]
    }

    private func split(_ scalars: [Unicode.Scalar], on delimiter: [Unicode.Scalar]) -> [Range<Int>] {
        var ranges = [Range<Int>]()
        var start = 0
        var index = 0
        while index + delimiter.count <= scalars.count, ranges.count < maximumSplits ?? .max {
            if scalars[index..<index + delimiter.count].elementsEqual(delimiter) {
                ranges.append(start..<index)
                index += delimiter.count
                start = index
            } else {
                index += 1
            }
        }
        return ranges + [start..<scalars.count]
    }

    /// Python's `str.split()` without a separator: runs of whitespace separate, and the remainder after the
    /// last allowed split keeps its trailing whitespace.
    private func splitOnWhitespace(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var ranges = [Range<Int>]()
        var index = 0
        while true {
            while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
            guard index < scalars.count else { return ranges }
            if ranges.count == maximumSplits ?? .max { return ranges + [index..<scalars.count] }
            let start = index
            while index < scalars.count, !scalars[index].properties.isWhitespace { index += 1 }
            ranges.append(start..<index)
        }
    }
}

/// RegexFullMatch: whether each string matches `pattern` as a whole. Patterns are RE2 syntax; Swift's regex
/// engine accepts the common subset, matching Unicode scalars as RE2 does.
struct RegexFullMatchKernel: Kernel {
    private let pattern: String

    init(_ node: KernelNode) throws {
        guard let pattern = try node.string("pattern") else {
            throw KernelError.invalidAttribute("pattern", "the attribute is required")
        }
        do {
            _ = try Regex(pattern)
        } catch {
            throw KernelError.invalidAttribute("pattern", "'\(pattern)' is not a valid regular expression: \(error)")
        }
        self.pattern = pattern
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try stringTensor(inputs, 0)
        // Compiled per run: Regex is not Sendable, and kernels are shared across threads. As in RE2, `\w`, `\d`,
        // `\s` are ASCII classes and `\b` the simple word boundary (Unicode's sees none inside "google.com").
        let regex = try Regex(pattern).matchingSemantics(.unicodeScalar).wordBoundaryKind(.simple)
            .asciiOnlyCharacterClasses()
        let matches = try input.elements(as: String.self).map { try regex.wholeMatch(in: $0) != nil }
        return [.tensor(Tensor(shape: input.shape, elements: matches))]
    }
}

/// StringNormalizer: drops the elements listed in `stopwords` (compared case-insensitively unless
/// `is_case_sensitive`), then lowercases, uppercases or keeps the rest (`case_change_action`). Takes `[C]` or
/// `[1, C]`; when every element is dropped the result is one empty string. `locale` is not consulted: case
/// changes use Unicode's default mappings.
struct StringNormalizerKernel: Kernel {
    private enum CaseChange: String {
        case lower = "LOWER"
        case upper = "UPPER"
        case none = "NONE"
    }

    private let caseChange: CaseChange
    private let caseSensitive: Bool
    private let stopwords: Set<String>

    init(_ node: KernelNode) throws {
        let action = try node.string("case_change_action", default: "NONE")
        guard let caseChange = CaseChange(rawValue: action) else {
            throw KernelError.invalidAttribute("case_change_action", "expected LOWER, UPPER or NONE, got '\(action)'")
        }
        self.caseChange = caseChange
        caseSensitive = try node.int("is_case_sensitive", default: 0) != 0
        let words = try node.strings("stopwords") ?? []
        stopwords = Set(caseSensitive ? words : words.map { $0.lowercased() })
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try stringTensor(inputs, 0)
        guard input.rank == 1 || (input.rank == 2 && input.shape[0] == 1) else {
            throw KernelError.invalidInput("StringNormalizer takes a [C] or [1, C] tensor, got shape \(input.shape)")
        }
        var kept = input.elements(as: String.self)
            .filter { !stopwords.contains(caseSensitive ? $0 : $0.lowercased()) }
            .map { word in
                switch caseChange {
                case .lower: word.lowercased()
                case .upper: word.uppercased()
                case .none: word
                }
            }
        if kept.isEmpty { kept = [""] }
        let shape = input.rank == 1 ? [kept.count] : [1, kept.count]
        return [.tensor(Tensor(shape: shape, elements: kept))]
    }
}

/// The string tensor input at `index`.
private func stringTensor(_ inputs: KernelInputs, _ index: Int) throws -> Tensor {
    let tensor = try inputs.tensor(index)
    guard tensor.dataType == .string else {
        throw KernelError.invalidInput("input \(index) must be a string tensor, got \(tensor.dataType)")
    }
    return tensor
}
