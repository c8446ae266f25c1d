import Foundation
import OnyxCore

/// Registers the ten Reduce* operators. Each takes its axes from the `axes` attribute up to the version that
/// moved them to an optional input (13 for ReduceSum, 18 for the others); the later type additions (bfloat16,
/// int8, bool) change no behaviour.
func registerReduceKernels(into registry: inout KernelRegistry) {
    for operation in ReduceOperation.allCases {
        registry.register(operation.rawValue, since: 1) { node in
            try ReduceKernel(node, operation: operation, axesFromInput: false)
        }
        registry.register(operation.rawValue, since: operation.axesInputSince) { node in
            try ReduceKernel(node, operation: operation, axesFromInput: true)
        }
    }
}

/// The Reduce* operators, by ONNX op type.
enum ReduceOperation: String, CaseIterable, Sendable {
    case sum = "ReduceSum"
    case mean = "ReduceMean"
    case max = "ReduceMax"
    case min = "ReduceMin"
    case product = "ReduceProd"
    case l1 = "ReduceL1"
    case l2 = "ReduceL2"
    case logSum = "ReduceLogSum"
    case logSumExp = "ReduceLogSumExp"
    case sumSquare = "ReduceSumSquare"

    /// The opset version from which `axes` is an input rather than an attribute.
    var axesInputSince: Int { self == .sum ? 13 : 18 }

    /// Only ReduceMax and ReduceMin order booleans.
    func accepts(_ dataType: DataType) -> Bool {
        dataType != .bool || self == .max || self == .min
    }
}

/// A Reduce* node: folds the input over a set of axes, keeping them as extent 1 or dropping them.
struct ReduceKernel: Kernel {
    let operation: ReduceOperation
    /// True from the opset where `axes` is input 1; before it, `axesAttribute` holds them.
    let axesFromInput: Bool
    let axesAttribute: [Int]?
    let keepDims: Bool
    /// With no axes listed: true reduces nothing (the op's element-wise part still applies), false reduces all.
    let noopWithEmptyAxes: Bool

    init(_ node: KernelNode, operation: ReduceOperation, axesFromInput: Bool) throws {
        self.operation = operation
        self.axesFromInput = axesFromInput
        axesAttribute = axesFromInput ? nil : try node.ints("axes")
        keepDims = try node.int("keepdims", default: 1) != 0
        noopWithEmptyAxes = try node.int("noop_with_empty_axes", default: 0) != 0
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let data = try inputs.tensor(0)
        guard operation.accepts(data.dataType) else {
            throw KernelError.invalidInput("\(operation.rawValue) does not accept \(data.dataType) input")
        }
        let axes = try reducedAxes(inputs, rank: data.rank)
        let geometry = ReductionGeometry(shape: data.shape, reducing: axes)
        let shape: [Int] = data.shape.indices.compactMap { axis in
            guard axes.contains(axis) else { return data.shape[axis] }
            return keepDims ? 1 : nil
        }
        let output = try data.dataType.visitReducible(
            ReduceVisitor(data: data, geometry: geometry, operation: operation, shape: shape))
        return [.tensor(output)]
    }

    private func reducedAxes(_ inputs: KernelInputs, rank: Int) throws -> Set<Int> {
        var listed = axesAttribute ?? []
        if axesFromInput, let tensor = try inputs.optionalTensor(1) {
            guard tensor.dataType == .int64, tensor.rank <= 1, let values = tensor.intValues() else {
                throw KernelError.invalidInput("axes must be a 1-D int64 tensor, got \(tensor.dataType) \(tensor.shape)")
            }
            listed = values
        }
        if listed.isEmpty { return noopWithEmptyAxes ? [] : Set(0..<rank) }
        var axes = Set<Int>()
        for axis in listed {
            guard axes.insert(try ReductionInputs.axis(axis, rank: rank)).inserted else {
                throw KernelError.invalidInput("axis \(axis) is listed twice in \(listed)")
            }
        }
        return axes
    }
}

/// Picks the reducer of an operation for the input's element type.
private struct ReduceVisitor: ReducibleVisitor {
    let data: Tensor
    let geometry: ReductionGeometry
    let operation: ReduceOperation
    let shape: [Int]

    func visit<T: ReducibleElement>(_ type: T.Type) -> Tensor {
        let input = data.elements(as: T.self)
        let output: [T] =
            switch operation {
            case .sum: reduce(input, geometry, with: SumReducer<T, PlainTerm>(finish: .none))
            case .mean: reduce(input, geometry, with: SumReducer<T, PlainTerm>(finish: .mean))
            case .sumSquare: reduce(input, geometry, with: SumReducer<T, SquareTerm>(finish: .none))
            case .l1: reduce(input, geometry, with: SumReducer<T, MagnitudeTerm>(finish: .none))
            case .l2: reduce(input, geometry, with: SumReducer<T, SquareTerm>(finish: .squareRoot))
            case .logSum: reduce(input, geometry, with: SumReducer<T, PlainTerm>(finish: .logarithm))
            case .logSumExp: reduce(input, geometry, with: LogSumExpReducer<T>())
            case .max: reduce(input, geometry, with: ExtremumReducer<T>(keepsLarger: true))
            case .min: reduce(input, geometry, with: ExtremumReducer<T>(keepsLarger: false))
            case .product: reduce(input, geometry, with: ProductReducer<T>())
            }
        return Tensor(shape: shape, elements: output)
    }
}

/// What a sum reduction does with its total.
private enum SumFinish {
    case none
    case mean
    /// √total (ReduceL2); integers truncate.
    case squareRoot
    /// ln total (ReduceLogSum).
    case logarithm
}

/// Σ Term(x), then a finishing step: ReduceSum, ReduceMean, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum.
private struct SumReducer<Element: ReducibleElement, Term: SumTerm>: Reducer {
    let finish: SumFinish

    var initial: Element.Wide { .zero }

    func accumulate(_ accumulator: inout Element.Wide, _ value: Element) {
        accumulator = accumulator.plus(Term.apply(value.wide))
    }

    func accumulate(_ accumulator: inout Element.Wide, run: UnsafeBufferPointer<Element>) {
        accumulator = accumulator.plus(Element.sum(run, of: Term.self))
    }

    func result(_ accumulator: Element.Wide, count: Int) -> Element {
        switch finish {
        case .none: Element(wide: accumulator)
        case .mean: Element(wide: accumulator.mean(count: count))
        case .squareRoot: Element(converting: accumulator.doubleValue.squareRoot())
        case .logarithm: Element(converting: log(accumulator.doubleValue))
        }
    }
}

/// Max or min; NaN wins, as numpy's maximum and minimum propagate it. The empty set gives the type's lowest
/// (or highest) value.
private struct ExtremumReducer<Element: ReducibleElement>: Reducer {
    let keepsLarger: Bool

    var initial: Element.Wide { keepsLarger ? Element.lowestWide : Element.highestWide }

    func accumulate(_ accumulator: inout Element.Wide, _ value: Element) {
        accumulator = propagatingExtreme(accumulator, value.wide, largest: keepsLarger)
    }

    func accumulate(_ accumulator: inout Element.Wide, run: UnsafeBufferPointer<Element>) {
        accumulator = propagatingExtreme(accumulator, Element.extreme(of: run, largest: keepsLarger), largest: keepsLarger)
    }

    func result(_ accumulator: Element.Wide, count: Int) -> Element { Element(wide: accumulator) }
}

private struct ProductReducer<Element: ReducibleElement>: Reducer {
    var initial: Element.Wide { .one }

    func accumulate(_ accumulator: inout Element.Wide, _ value: Element) {
        accumulator = accumulator.times(value.wide)
    }

    func result(_ accumulator: Element.Wide, count: Int) -> Element { Element(wide: accumulator) }
}

/// ln Σ exp(x), in double precision, with the running sum kept relative to the running maximum and rescaled
/// when the maximum grows, so large inputs do not overflow. The empty set gives −∞.
private struct LogSumExpReducer<Element: ReducibleElement>: Reducer {
    var initial: (maximum: Double, sum: Double) { (-.infinity, 0) }

    func accumulate(_ accumulator: inout (maximum: Double, sum: Double), _ value: Element) {
        merge(&accumulator, maximum: value.doubleValue, sum: 1)
    }

    /// A contiguous run takes its maximum first (SIMD for Float), so each element costs one exp and no branch.
    func accumulate(_ accumulator: inout (maximum: Double, sum: Double), run: UnsafeBufferPointer<Element>) {
        guard !run.isEmpty else { return }
        let maximum = Element.extreme(of: run, largest: true).doubleValue
        // An infinite (or NaN) maximum would turn x − maximum into NaN; one element at a time handles it.
        guard maximum.isFinite else {
            for value in run { accumulate(&accumulator, value) }
            return
        }
        var sum = 0.0
        for value in run { sum += exp(value.doubleValue - maximum) }
        merge(&accumulator, maximum: maximum, sum: sum)
    }

    func result(_ accumulator: (maximum: Double, sum: Double), count: Int) -> Element {
        Element(converting: log(accumulator.sum) + accumulator.maximum)
    }

    /// Adds `sum` · exp(`maximum`) to the accumulator.
    private func merge(_ accumulator: inout (maximum: Double, sum: Double), maximum: Double, sum: Double) {
        if maximum > accumulator.maximum {
            accumulator.sum = accumulator.sum * exp(accumulator.maximum - maximum) + sum
            accumulator.maximum = maximum
        } else if maximum == accumulator.maximum {
            // Also covers two equal infinities, whose difference would be NaN.
            accumulator.sum += sum
        } else {
            accumulator.sum += sum * exp(maximum - accumulator.maximum)
        }
    }
}
