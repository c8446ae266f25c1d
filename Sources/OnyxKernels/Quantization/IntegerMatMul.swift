import OnyxCore

// MatMulInteger and QLinearMatMul: numpy.matmul on zero-point-shifted 8-bit (or float8) operands.
//
// Products are accumulated in Double: exact for 8-bit operands up to an inner dimension of 2^37, so the
// results equal integer arithmetic; MatMulInteger then wraps to 32 bits as the spec allows.

/// MatMulInteger: `(A - a_zero_point) × (B - b_zero_point)` as int32. Zero points are scalars, per row of A
/// (`[M]` or `[..., M, 1]`) or per column of B (`[N]` or `[..., 1, N]`).
enum MatMulInteger {
    static func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let b = try inputs.tensor(1)
        try requireType(a, in: eightBitIntegers, name: "A")
        try requireType(b, in: eightBitIntegers, name: "B")
        let plan = try IntegerMatMulPlan(a.shape, b.shape)
        let product = plan.multiply(
            try plan.leftCentered(a, zeroPoint: try inputs.optionalTensor(2)),
            try plan.rightCentered(b, zeroPoint: try inputs.optionalTensor(3)))
        return [
            .tensor(Tensor(shape: plan.outputShape, elements: product.map { Int32(truncatingIfNeeded: Int64($0)) }))
        ]
    }
}

/// QLinearMatMul: the product of the dequantized operands, requantized with `y_scale` and `y_zero_point`.
/// `a`'s scale and zero point are scalars or per row; `b`'s scalars or per column; `y`'s scalars. The combined
/// scale `a_scale * b_scale / y_scale` is computed in the scales' type, as the reference does.
enum QLinearMatMul {
    static func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let b = try inputs.tensor(3)
        try requireType(a, in: quantizedOperands, name: "a")
        try requireType(b, in: quantizedOperands, name: "b")
        let (aScale, bScale, yScale) = (try inputs.tensor(1), try inputs.tensor(4), try inputs.tensor(6))
        guard aScale.dataType == bScale.dataType, bScale.dataType == yScale.dataType else {
            throw KernelError.invalidInput(
                "scales must share one type, got \(aScale.dataType), \(bScale.dataType) and \(yScale.dataType)")
        }
        let yZeroPoint = try inputs.optionalTensor(7)
        guard yScale.count == 1, (yZeroPoint?.count ?? 1) == 1 else {
            throw KernelError.unsupported("y_scale and y_zero_point must be scalars (per-tensor output quantization)")
        }
        let plan = try IntegerMatMulPlan(a.shape, b.shape)
        let product = plan.multiply(
            try plan.leftCentered(a, zeroPoint: try inputs.optionalTensor(2)),
            try plan.rightCentered(b, zeroPoint: try inputs.optionalTensor(5)))
        let rowScales = try plan.rowParameters(aScale)
        let columnScales = try plan.columnParameters(bScale)
        let precision = aScale.dataType
        let outputScale = try QuantizationValues.doubles(yScale)[0]
        var scaled = [Double](repeating: 0, count: product.count)
        plan.forEachOutput { element, row, column in
            let combined = QuantizationValues.rounded(rowScales[row] * columnScales[column], to: precision)
            scaled[element] = product[element] * QuantizationValues.rounded(combined / outputScale, to: precision)
        }
        let outputType = yZeroPoint?.dataType ?? a.dataType
        return [
            .tensor(
                try outputType.visitQuantized(
                    Requantizer(scaled: scaled, zeroPoint: yZeroPoint, shape: plan.outputShape)))
        ]
    }
}

/// The shapes of a numpy.matmul: a 1-D left operand is a row, a 1-D right operand a column (their unit axis is
/// dropped from the result), and the leading batch axes broadcast.
struct IntegerMatMulPlan {
    /// The operand shapes with 1-D operands promoted to matrices.
    let leftShape: [Int]
    let rightShape: [Int]
    let rows: Int
    let inner: Int
    let columns: Int
    let outputShape: [Int]
    /// Per output matrix: which left and right matrix (counted in the operands' own batch) it multiplies.
    private let leftMatrices: [Int]
    private let rightMatrices: [Int]

    init(_ left: [Int], _ right: [Int]) throws {
        guard !left.isEmpty, !right.isEmpty else {
            throw KernelError.invalidInput("matmul operands must have rank ≥ 1, got \(left) and \(right)")
        }
        leftShape = left.count == 1 ? [1] + left : left
        rightShape = right.count == 1 ? right + [1] : right
        rows = leftShape[leftShape.count - 2]
        inner = leftShape[leftShape.count - 1]
        columns = rightShape[rightShape.count - 1]
        guard rightShape[rightShape.count - 2] == inner else {
            throw KernelError.invalidInput("matmul inner dimensions differ: \(left) × \(right)")
        }
        let leftBatch = Array(leftShape.dropLast(2))
        let rightBatch = Array(rightShape.dropLast(2))
        let batch = try Broadcast.shape([leftBatch, rightBatch])
        // Broadcasting each operand's matrix numbers to the output batch says which matrix each output reads.
        leftMatrices = try BroadcastPlan([leftBatch], to: batch).map(Array(0..<leftBatch.reduce(1, *))) { $0 }
        rightMatrices = try BroadcastPlan([rightBatch], to: batch).map(Array(0..<rightBatch.reduce(1, *))) { $0 }
        outputShape = batch + (left.count > 1 ? [rows] : []) + (right.count > 1 ? [columns] : [])
    }

    /// The left operand minus its zero point (a scalar, `[M]` per row, or broadcastable to the operand).
    func leftCentered(_ operand: Tensor, zeroPoint: Tensor?) throws -> [Double] {
        try centered(operand, zeroPoint: zeroPoint, shape: leftShape, perRow: true)
    }

    /// The right operand minus its zero point (a scalar, `[N]` per column, or broadcastable to the operand).
    func rightCentered(_ operand: Tensor, zeroPoint: Tensor?) throws -> [Double] {
        try centered(operand, zeroPoint: zeroPoint, shape: rightShape, perRow: false)
    }

    /// A per-row parameter of the left operand (scalar, `[M]` or `[..., M, 1]`) read for each (matrix, row)
    /// of the output, indexed `matrix * rows + row`.
    func rowParameters(_ parameter: Tensor) throws -> [Double] {
        var rowShape = leftShape
        rowShape[rowShape.count - 1] = 1
        let values = try BroadcastPlan([Self.perRowShape(parameter.shape)], to: rowShape)
            .map(try QuantizationValues.doubles(parameter)) { $0 }
        return leftMatrices.flatMap { matrix in values[(matrix * rows)..<((matrix + 1) * rows)] }
    }

    /// A per-column parameter of the right operand (scalar, `[N]` or `[..., 1, N]`) read for each
    /// (matrix, column) of the output, indexed `matrix * columns + column`.
    func columnParameters(_ parameter: Tensor) throws -> [Double] {
        var columnShape = rightShape
        columnShape[columnShape.count - 2] = 1
        let values = try BroadcastPlan([parameter.shape], to: columnShape)
            .map(try QuantizationValues.doubles(parameter)) { $0 }
        return rightMatrices.flatMap { matrix in values[(matrix * columns)..<((matrix + 1) * columns)] }
    }

    /// Calls `body(element, rowIndex, columnIndex)` for every output element, with the indices into
    /// ``rowParameters(_:)`` and ``columnParameters(_:)``.
    func forEachOutput(_ body: (Int, Int, Int) -> Void) {
        var element = 0
        for matrix in leftMatrices.indices {
            for row in 0..<rows {
                for column in 0..<columns {
                    body(element, matrix * rows + row, matrix * columns + column)
                    element += 1
                }
            }
        }
    }

    /// The batched product of `left` (shape ``leftShape``) and `right` (shape ``rightShape``).
    func multiply(_ left: [Double], _ right: [Double]) -> [Double] {
        let matrixSize = rows * columns
        var output = [Double](repeating: 0, count: leftMatrices.count * matrixSize)
        output.withUnsafeMutableBufferPointer { output in
            left.withUnsafeBufferPointer { left in
                right.withUnsafeBufferPointer { right in
                    for matrix in leftMatrices.indices {
                        let leftBase = leftMatrices[matrix] * rows * inner
                        let rightBase = rightMatrices[matrix] * inner * columns
                        for row in 0..<rows {
                            let outputRow = matrix * matrixSize + row * columns
                            for step in 0..<inner {
                                let value = left[leftBase + row * inner + step]
                                let rightRow = rightBase + step * columns
                                for column in 0..<columns {
                                    output[outputRow + column] += value * right[rightRow + column]
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    private func centered(_ operand: Tensor, zeroPoint: Tensor?, shape: [Int], perRow: Bool) throws -> [Double] {
        let values = try QuantizationValues.doubles(operand)
        guard let zeroPoint else { return values }
        guard zeroPoint.dataType == operand.dataType else {
            throw KernelError.invalidInput("zero point type \(zeroPoint.dataType) differs from \(operand.dataType)")
        }
        let source = perRow ? Self.perRowShape(zeroPoint.shape) : zeroPoint.shape
        return try BroadcastPlan([shape, source], to: shape)
            .map(values, try QuantizationValues.doubles(zeroPoint)) { $0 - $1 }
    }

    /// A 1-D per-row parameter `[M]` aligned with the rows: `[M, 1]`.
    private static func perRowShape(_ shape: [Int]) -> [Int] {
        shape.count == 1 && shape[0] > 1 ? shape + [1] : shape
    }
}

private let eightBitIntegers: Set<DataType> = [.int8, .uint8]
private let quantizedOperands: Set<DataType> = [
    .int8, .uint8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
]

private func requireType(_ tensor: Tensor, in allowed: Set<DataType>, name: String) throws {
    guard allowed.contains(tensor.dataType) else {
        throw KernelError.invalidInput(
            "\(name) must be one of \(allowed.map(\.description).sorted()), got \(tensor.dataType)")
    }
}
