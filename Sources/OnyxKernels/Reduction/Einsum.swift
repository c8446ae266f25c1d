import Foundation
import OnyxCore

/// Registers Einsum (opset 12; 28 only adds bfloat16).
func registerEinsumKernels(into registry: inout KernelRegistry) {
    registry.register("Einsum", since: 12) { node in try EinsumKernel(node) }
}

/// Einstein summation over any number of operands: explicit or implicit output, repeated labels (diagonals
/// within an operand, contraction across operands), size-1 broadcasting, and one ellipsis per term. An
/// explicit output without '...' sums the ellipsis axes, as the ONNX reference (numpy's optimised einsum) does.
///
/// Every label becomes a loop; each operand (and the output) sees a label as a stride, the sum of its axes'
/// strides for a repeated label and 0 where it broadcasts or lacks the label. One odometer over all labels
/// then multiplies the operands and adds into the output, innermost label in a tight loop.
struct EinsumKernel: Kernel {
    let equation: EinsumEquation

    init(_ node: KernelNode) throws {
        guard let text = try node.string("equation") else {
            throw KernelError.invalidAttribute("equation", "required")
        }
        equation = try EinsumEquation(text)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let operands = try inputs.tensors(from: 0)
        guard operands.count == equation.terms.count else {
            throw KernelError.invalidInput(
                "the equation has \(equation.terms.count) input terms but the node has \(operands.count) inputs")
        }
        guard let dataType = operands.first?.dataType, operands.allSatisfy({ $0.dataType == dataType }),
            dataType != .bool
        else {
            throw KernelError.invalidInput("inputs must share one numeric type, got \(operands.map(\.dataType))")
        }
        let plan = try EinsumPlan(equation, shapes: operands.map(\.shape))
        return [.tensor(try dataType.visitReducible(EinsumVisitor(plan: plan, operands: operands)))]
    }
}

/// The parsed equation: labels as characters, the ellipsis as `nil`.
struct EinsumEquation: Sendable {
    let terms: [[Character?]]
    /// The right-hand side; nil in implicit mode.
    let output: [Character?]?

    init(_ text: String) throws {
        let compact = text.filter { $0 != " " }
        let sides = compact.components(separatedBy: "->")
        guard sides.count <= 2 else {
            throw KernelError.invalidAttribute("equation", "'\(text)' has more than one '->'")
        }
        terms = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map { try Self.term($0, in: text) }
        output = try sides.count == 2 ? Self.term(Substring(sides[1]), in: text) : nil
    }

    private static func term(_ text: Substring, in equation: String) throws -> [Character?] {
        var symbols: [Character?] = []
        var rest = text
        while let character = rest.first {
            if rest.hasPrefix("...") {
                guard !symbols.contains(where: { $0 == nil }) else {
                    throw KernelError.invalidAttribute("equation", "'\(equation)' has two ellipses in one term")
                }
                symbols.append(nil)
                rest = rest.dropFirst(3)
            } else {
                guard character.isASCII, character.isLetter else {
                    throw KernelError.invalidAttribute("equation", "'\(equation)' has the invalid character '\(character)'")
                }
                symbols.append(character)
                rest = rest.dropFirst()
            }
        }
        return symbols
    }
}

/// The equation resolved against the operand shapes: loop extents and per-label strides.
struct EinsumPlan {
    /// Extent of every loop: output labels first (in output order), then the summed labels.
    let extents: [Int]
    /// `strides[operand][loop]`; the last row is the output's.
    let strides: [[Int]]
    let outputShape: [Int]

    init(_ equation: EinsumEquation, shapes: [[Int]]) throws {
        // Letters are labels 0..<52 in ASCII order (upper case first); ellipsis axis j is label 52 + j.
        let letterCount = 52
        func label(_ letter: Character) -> Int {
            let ascii = Int(letter.asciiValue ?? 0)
            return ascii < 97 ? ascii - 65 : ascii - 97 + 26
        }
        let ellipsisRank = try zip(equation.terms, shapes).map { term, shape in
            let letters = term.filter { $0 != nil }.count
            guard term.contains(where: { $0 == nil }) ? shape.count >= letters : shape.count == letters else {
                throw KernelError.invalidInput("term \(Self.spell(term)) does not match an input of shape \(shape)")
            }
            return shape.count - letters
        }.max() ?? 0
        // Each operand axis's label; an operand's ellipsis axes align with the last ellipsis labels.
        let operandLabels: [[Int]] = zip(equation.terms, shapes).map { term, shape in
            let width = shape.count - term.filter { $0 != nil }.count
            return term.flatMap { symbol in
                symbol.map { [label($0)] } ?? (0..<width).map { letterCount + ellipsisRank - width + $0 }
            }
        }

        let labelCount = letterCount + ellipsisRank
        var extent = [Int](repeating: 1, count: labelCount)
        var occurrences = [Int](repeating: 0, count: labelCount)
        for (labels, shape) in zip(operandLabels, shapes) {
            for (label, size) in zip(labels, shape) {
                occurrences[label] += 1
                guard size == extent[label] || size == 1 || extent[label] == 1 else {
                    throw KernelError.invalidInput("label extents \(extent[label]) and \(size) disagree in \(shapes)")
                }
                extent[label] = max(extent[label], size)
            }
        }

        let outputLabels: [Int]
        if let output = equation.output {
            outputLabels = output.flatMap { symbol in
                symbol.map { [label($0)] } ?? (0..<ellipsisRank).map { letterCount + $0 }
            }
            guard Set(outputLabels).count == outputLabels.count,
                outputLabels.allSatisfy({ occurrences[$0] > 0 || $0 >= letterCount })
            else {
                throw KernelError.invalidInput("output term \(Self.spell(output)) repeats a label or names one no input has")
            }
        } else {
            outputLabels = (letterCount..<labelCount) + (0..<letterCount).filter { occurrences[$0] == 1 }
        }
        let summedLabels = (0..<labelCount).filter { occurrences[$0] > 0 && !outputLabels.contains($0) }
        let loopLabels = outputLabels + summedLabels

        extents = loopLabels.map { extent[$0] }
        outputShape = outputLabels.map { extent[$0] }
        // Outer products make outputs far larger than any input: refuse one too large to allocate.
        guard checkedElementCount(outputShape, limit: ReductionInputs.maximumGeneratedCount) != nil else {
            throw KernelError.invalidInput("the output \(outputShape) would be too large")
        }
        var strides: [[Int]] = zip(operandLabels, shapes).map { labels, shape in
            var axisStride = 1
            var byLabel = [Int](repeating: 0, count: labelCount)
            for (label, size) in zip(labels, shape).reversed() {
                if size == extent[label] { byLabel[label] += axisStride }
                axisStride *= size
            }
            return loopLabels.map { byLabel[$0] }
        }
        var outputStride = 1
        var outputStrides = [Int](repeating: 0, count: loopLabels.count)
        for loop in stride(from: outputLabels.count - 1, through: 0, by: -1) {
            outputStrides[loop] = outputStride
            outputStride *= extents[loop]
        }
        strides.append(outputStrides)
        self.strides = strides
    }

    private static func spell(_ term: [Character?]) -> String {
        "'" + term.map { $0.map(String.init) ?? "..." }.joined() + "'"
    }
}

/// Runs the plan's loops in the element type's wide arithmetic (integers wrap, as numpy's einsum does).
private struct EinsumVisitor: ReducibleVisitor {
    let plan: EinsumPlan
    let operands: [Tensor]

    func visit<T: ReducibleElement>(_ type: T.Type) -> Tensor {
        // One flat array of every operand, so the loop reads operand p at `start[p] + offset`.
        var values: [T.Wide] = []
        var starts: [Int] = []
        for operand in operands {
            starts.append(values.count)
            values += operand.elements(as: T.self).map(\.wide)
        }
        let outputCount = plan.outputShape.reduce(1, *)
        var sums = [T.Wide](repeating: .zero, count: outputCount)
        let loopCount = plan.extents.reduce(1, *)
        if loopCount > 0 {
            values.withUnsafeBufferPointer { values in
                sums.withUnsafeMutableBufferPointer { sums in
                    accumulate(values, starts: starts, into: sums)
                }
            }
        }
        return Tensor(shape: plan.outputShape, elements: sums.map(T.init(wide:)))
    }

    private func accumulate<Wide: WideArithmetic>(
        _ values: UnsafeBufferPointer<Wide>, starts: [Int], into sums: UnsafeMutableBufferPointer<Wide>
    ) {
        // A rank-0 problem (every operand a scalar) is one loop of extent 1.
        let extents = plan.extents.isEmpty ? [1] : plan.extents
        let strides = plan.extents.isEmpty ? plan.strides.map { _ in [0] } : plan.strides
        let operandCount = starts.count
        let innermost = extents.count - 1
        let innerExtent = extents[innermost]
        let innerStrides = strides.map { $0[innermost] }
        // Two operands contracted over the innermost label (a matrix product's shape) take a dot product.
        let isDotProduct = operandCount == 2 && innerStrides[2] == 0
        var offsets = starts + [0]
        var counters = [Int](repeating: 0, count: innermost)
        while true {
            if isDotProduct {
                let total = dot(
                    UnsafeBufferPointer(rebasing: values[offsets[0]...]), innerStrides[0],
                    UnsafeBufferPointer(rebasing: values[offsets[1]...]), innerStrides[1], count: innerExtent)
                sums[offsets[2]] = sums[offsets[2]].plus(total)
            } else {
                for step in 0..<innerExtent {
                    var product = values[offsets[0] + step * innerStrides[0]]
                    for operand in 1..<operandCount {
                        product = product.times(values[offsets[operand] + step * innerStrides[operand]])
                    }
                    let target = offsets[operandCount] + step * innerStrides[operandCount]
                    sums[target] = sums[target].plus(product)
                }
            }
            // Advance the odometer over the outer loops; every offset moves with it.
            var loop = innermost - 1
            while loop >= 0 {
                counters[loop] += 1
                for operand in 0...operandCount { offsets[operand] += strides[operand][loop] }
                if counters[loop] < extents[loop] { break }
                for operand in 0...operandCount { offsets[operand] -= strides[operand][loop] * extents[loop] }
                counters[loop] = 0
                loop -= 1
            }
            if loop < 0 { return }
        }
    }

    /// Σ a[i·strideA]·b[i·strideB] for i < count, in four partial sums that hide the add latency.
    private func dot<Wide: WideArithmetic>(
        _ a: UnsafeBufferPointer<Wide>, _ strideA: Int, _ b: UnsafeBufferPointer<Wide>, _ strideB: Int, count: Int
    ) -> Wide {
        var partial = (Wide.zero, Wide.zero, Wide.zero, Wide.zero)
        var index = 0
        while index + 4 <= count {
            partial.0 = partial.0.plus(a[index * strideA].times(b[index * strideB]))
            partial.1 = partial.1.plus(a[(index + 1) * strideA].times(b[(index + 1) * strideB]))
            partial.2 = partial.2.plus(a[(index + 2) * strideA].times(b[(index + 2) * strideB]))
            partial.3 = partial.3.plus(a[(index + 3) * strideA].times(b[(index + 3) * strideB]))
            index += 4
        }
        while index < count {
            partial.0 = partial.0.plus(a[index * strideA].times(b[index * strideB]))
            index += 1
        }
        return partial.0.plus(partial.1).plus(partial.2.plus(partial.3))
    }
}
