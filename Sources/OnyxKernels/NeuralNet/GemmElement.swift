import OnyxCore

/// A read-only matrix view: element (row, column) sits at `base[row * rowStride + column * columnStride]`.
/// A transpose is the same view with the strides swapped, so the products absorb every layout.
/// Sendable because the products only read through it, from threads that all finish before they return.
struct GemmOperand<Element>: @unchecked Sendable {
    let base: UnsafePointer<Element>
    let rowStride: Int
    let columnStride: Int

    init(base: UnsafePointer<Element>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }

    /// A row-major matrix with `columns` columns.
    init(rowMajor base: UnsafePointer<Element>, columns: Int) {
        self.init(base: base, rowStride: columns, columnStride: 1)
    }

    /// The same matrix with rows and columns exchanged.
    var transposed: GemmOperand { GemmOperand(base: base, rowStride: columnStride, columnStride: rowStride) }

    /// The view whose top-left element is (`rows`, `columns`) of this one.
    func offset(rows: Int, columns: Int) -> GemmOperand {
        GemmOperand(
            base: base + rows * rowStride + columns * columnStride, rowStride: rowStride, columnStride: columnStride)
    }

    subscript(row: Int, column: Int) -> Element { base[row * rowStride + column * columnStride] }
}

/// An element type with a matrix product: the packed SIMD GEMM for Float, a plain loop for the others.
protocol GemmElement: NumericElement {
    /// Computes `C = alpha · A·B` (`accumulate` false; C need not be initialised) or `C += alpha · A·B`,
    /// where A is m×k, B is k×n and C is m×n row-major with row stride `ldc`, on up to `threads` threads.
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Self, a: GemmOperand<Self>, b: GemmOperand<Self>,
        c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool, threads: Int)

    /// `sum + a · b`, wrapping on overflow for integers (as numpy and ONNX Runtime do).
    static func multiplyAdd(_ sum: Self, _ a: Self, _ b: Self) -> Self
    /// `a · b`, wrapping on overflow for integers.
    static func product(_ a: Self, _ b: Self) -> Self
}

extension GemmElement {
    /// The product as a plain i-p-j loop: the innermost loop runs along contiguous rows of B and C, so the
    /// compiler vectorises it for row-major operands. Used for every type but Float.
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Self, a: GemmOperand<Self>, b: GemmOperand<Self>,
        c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool, threads: Int
    ) {
        for i in 0..<m {
            let row = c + i * ldc
            if !accumulate { row.update(repeating: .zero, count: n) }
            for p in 0..<k {
                let scaled = product(alpha, a[i, p])
                let bRow = b.base + p * b.rowStride
                for j in 0..<n { row[j] = multiplyAdd(row[j], scaled, bRow[j * b.columnStride]) }
            }
        }
    }
}

extension Float: GemmElement {
    static func multiply(
        m: Int, n: Int, k: Int, alpha: Float, a: GemmOperand<Float>, b: GemmOperand<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int
    ) {
        FloatGEMM.multiply(
            m: m, n: n, k: k, alpha: alpha, a: a, b: b, c: c, ldc: ldc, accumulate: accumulate, threads: threads)
    }
    static func multiplyAdd(_ sum: Float, _ a: Float, _ b: Float) -> Float { sum + a * b }
    static func product(_ a: Float, _ b: Float) -> Float { a * b }
}

extension Double: GemmElement {
    static func multiplyAdd(_ sum: Double, _ a: Double, _ b: Double) -> Double { sum + a * b }
    static func product(_ a: Double, _ b: Double) -> Double { a * b }
}

extension GemmElement where Self: FixedWidthInteger {
    static func multiplyAdd(_ sum: Self, _ a: Self, _ b: Self) -> Self { sum &+ a &* b }
    static func product(_ a: Self, _ b: Self) -> Self { a &* b }
}

extension Int32: GemmElement {}
extension Int64: GemmElement {}
extension UInt32: GemmElement {}
extension UInt64: GemmElement {}

/// A computation generic over the element types that have a matrix product.
protocol GemmVisitor {
    associatedtype Output
    func visit<T: GemmElement>(_ type: T.Type) throws -> Output
}

extension DataType {
    /// Calls `visitor` with this type's Swift element type when it has a matrix product (float, double and
    /// 32/64-bit integers; half types are widened by the caller). Throws for other types.
    func visitGemm<V: GemmVisitor>(_ visitor: V) throws -> V.Output {
        switch self {
        case .float: try visitor.visit(Float.self)
        case .double: try visitor.visit(Double.self)
        case .int32: try visitor.visit(Int32.self)
        case .int64: try visitor.visit(Int64.self)
        case .uint32: try visitor.visit(UInt32.self)
        case .uint64: try visitor.visit(UInt64.self)
        default: throw KernelError.invalidInput("matrix products do not support element type \(self)")
        }
    }
}
