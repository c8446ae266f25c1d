import OnyxCore

/// TfIdfVectorizer (opset 9): counts, for each row of input [C] or [B, C] (int32/int64 or strings), the n-grams
/// of the pool that occur in it, with up to `max_skip_count` items skipped between an n-gram's items, and
/// writes them as float [output_size] or [B, output_size], output_size = max(ngram_indexes) + 1. Mode TF writes
/// the counts, IDF writes `weights` (or 1) where a count is nonzero, TFIDF writes counts × `weights`.
///
/// The pool is loaded once into a trie of the n-grams whose length lies in [min_gram_length, max_gram_length].
/// As in the reference implementation, n-grams are numbered in pool order across all lengths, `ngram_indexes`
/// maps that number to an output column, and `weights` are looked up by output column.
struct TfIdfVectorizerKernel: Kernel {
    private let weighting: Weighting
    private let minimumLength: Int
    private let maximumLength: Int
    private let maximumSkip: Int
    private let outputSize: Int
    /// Whether the pool (and so the input) holds strings rather than integers.
    private let poolHoldsStrings: Bool
    private let trie: NgramTrie
    /// Per output column (empty: all ones).
    private let weights: [Float]

    init(_ node: KernelNode) throws {
        let modeName = try node.string("mode")
        guard let weighting = modeName.flatMap(Weighting.init(rawValue:)) else {
            throw KernelError.invalidAttribute("mode", "must be TF, IDF or TFIDF, got \(modeName ?? "nothing")")
        }
        self.weighting = weighting
        func required(_ name: String) throws -> Int {
            guard let value = try node.int(name) else { throw KernelError.invalidAttribute(name, "is required") }
            return value
        }
        minimumLength = try required("min_gram_length")
        maximumLength = try required("max_gram_length")
        maximumSkip = try required("max_skip_count")
        guard minimumLength >= 1, maximumLength >= minimumLength, maximumSkip >= 0 else {
            throw KernelError.invalidAttribute(
                "min_gram_length",
                "need 1 ≤ min_gram_length ≤ max_gram_length and max_skip_count ≥ 0, "
                    + "got \(minimumLength), \(maximumLength), \(maximumSkip)")
        }
        guard let columns = try node.ints("ngram_indexes"), let largest = columns.max(), columns.allSatisfy({ $0 >= 0 })
        else {
            throw KernelError.invalidAttribute("ngram_indexes", "must be a nonempty list of nonnegative indices")
        }
        outputSize = largest + 1
        let integers = try node.ints("pool_int64s")
        let strings = try node.strings("pool_strings")
        guard (integers == nil) != (strings == nil) else {
            throw KernelError.invalidAttribute("pool_int64s", "exactly one of pool_int64s and pool_strings must be set")
        }
        guard let starts = try node.ints("ngram_counts") else {
            throw KernelError.invalidAttribute("ngram_counts", "is required")
        }
        poolHoldsStrings = strings != nil
        let pool = strings?.map(ElementKey.text) ?? (integers ?? []).map { .integer(Int64($0)) }
        trie = try NgramTrie(
            pool: pool, starts: starts, lengths: minimumLength...maximumLength,
            columns: columns)
        weights = try node.floats("weights") ?? []
        guard weights.isEmpty || weights.count >= outputSize else {
            throw KernelError.invalidAttribute(
                "weights", "needs a weight for each of the \(outputSize) output columns, got \(weights.count)")
        }
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let input = try inputs.tensor(0)
        let typeFits = poolHoldsStrings ? input.dataType == .string : [.int32, .int64].contains(input.dataType)
        guard typeFits, input.rank == 1 || input.rank == 2 else {
            throw KernelError.invalidInput(
                "TfIdfVectorizer needs a [C] or [B, C] tensor of \(poolHoldsStrings ? "strings" : "int32 or int64") "
                    + "like its pool, got \(input.dataType) \(input.shape)")
        }
        let rows = input.rank == 2 ? input.shape[0] : 1
        let rowLength = input.shape.last ?? 0
        let outputShape = input.rank == 2 ? [rows, outputSize] : [outputSize]
        _ = try Broadcast.elementCount(outputShape)
        let tokens = try ElementKey.keys(of: input)
        var counts = [Int](repeating: 0, count: rows * outputSize)
        for row in 0..<rows {
            countNgrams(in: tokens[(row * rowLength)..<((row + 1) * rowLength)], into: &counts, at: row * outputSize)
        }
        let values = counts.enumerated().map { position, count -> Float in
            let weight = weights.isEmpty ? 1 : weights[position % outputSize]
            switch weighting {
            case .termFrequency: return Float(count)
            case .inverseDocumentFrequency: return count > 0 ? weight : 0
            case .combined: return weight * Float(count)
            }
        }
        return [.tensor(Tensor(shape: outputShape, elements: values))]
    }

    /// Adds the pool n-grams found in `row` to the counts of the row starting at `base`. Each skip distance
    /// (1 … max_skip_count + 1) walks the trie from every start position; 1-grams count at the first distance only.
    private func countNgrams(in row: ArraySlice<ElementKey>, into counts: inout [Int], at base: Int) {
        let (first, end) = (row.startIndex, row.endIndex)
        var shortest = minimumLength
        for distance in 1...(maximumSkip + 1) {
            for start in first..<end {
                // Too close to the end for even the shortest n-gram counted at this distance.
                if start + distance * (shortest - 1) >= end { break }
                var node = NgramTrie.root
                var length = 1
                var position = start
                while length <= maximumLength, position < end, let next = trie.child(of: node, for: row[position]) {
                    if length >= shortest, let column = trie.column(of: next) { counts[base + column] += 1 }
                    node = next
                    length += 1
                    position += distance
                }
            }
            if shortest == 1 {
                shortest = 2
                if shortest > maximumLength { break }
            }
        }
    }
}

/// The `mode` attribute.
private enum Weighting: String {
    case termFrequency = "TF"
    case inverseDocumentFrequency = "IDF"
    case combined = "TFIDF"
}

/// The pool's n-grams as a trie: a path of items from the root ends at a node that knows the n-gram's output
/// column.
private struct NgramTrie: Sendable {
    static let root = 0
    private var children: [[ElementKey: Int]] = [[:]]
    /// The output column of the n-gram that ends at each node, nil where none does.
    private var columns: [Int?] = [nil]

    /// Loads the n-grams of `pool` whose lengths lie in `lengths`. `starts[k]` is where the (k + 1)-grams begin
    /// in the pool; n-grams are numbered in pool order, and the i-th one's column is `columns[i]`.
    init(pool: [ElementKey], starts: [Int], lengths: ClosedRange<Int>, columns ngramColumns: [Int]) throws {
        guard starts.allSatisfy({ (0...pool.count).contains($0) }), zip(starts, starts.dropFirst()).allSatisfy(<=)
        else {
            throw KernelError.invalidAttribute(
                "ngram_counts", "must be nondecreasing positions in the pool of \(pool.count), got \(starts)")
        }
        var number = 0
        for (index, start) in starts.enumerated() {
            let length = index + 1
            let end = index + 1 < starts.count ? starts[index + 1] : pool.count
            let count = (end - start) / length
            guard lengths.contains(length) else {
                number += count
                continue
            }
            for ngram in 0..<count {
                guard number < ngramColumns.count else {
                    throw KernelError.invalidAttribute(
                        "ngram_indexes", "has \(ngramColumns.count) entries but the pool holds more n-grams")
                }
                var node = Self.root
                for item in pool[(start + ngram * length)..<(start + (ngram + 1) * length)] {
                    node = insertChild(of: node, for: item)
                }
                columns[node] = ngramColumns[number]
                number += 1
            }
        }
    }

    func child(of node: Int, for item: ElementKey) -> Int? {
        children[node][item]
    }

    func column(of node: Int) -> Int? {
        columns[node]
    }

    private mutating func insertChild(of node: Int, for item: ElementKey) -> Int {
        if let existing = children[node][item] { return existing }
        children.append([:])
        columns.append(nil)
        children[node][item] = children.count - 1
        return children.count - 1
    }
}
