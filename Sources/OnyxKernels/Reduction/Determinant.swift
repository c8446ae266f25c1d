import OnyxCore

/// Registers Det (opset 11; 22 only adds bfloat16).
func registerDeterminantKernels(into registry: inout KernelRegistry) {
    registry.register("Det", since: 11) { inputs, _ in
        let matrices = try inputs.tensor(0)
        guard matrices.dataType.isFloatingPoint, matrices.rank >= 2,
            matrices.shape[matrices.rank - 1] == matrices.shape[matrices.rank - 2]
        else {
            throw KernelError.invalidInput("X must be floating-point square matrices [*, M, M], got \(matrices.dataType) \(matrices.shape)")
        }
        let size = matrices.shape[matrices.rank - 1]
        let batchShape = Array(matrices.shape.dropLast(2))
        let values = matrices.doubleValues() ?? []
        let determinants = (0..<batchShape.reduce(1, *)).map { batch in
            determinant(Array(values[(batch * size * size)..<((batch + 1) * size * size)]), size: size)
        }
        return [.tensor(try Tensor(converting: determinants, to: matrices.dataType, shape: batchShape))]
    }
}

/// The determinant of a row-major `size`×`size` matrix by LU elimination with partial pivoting.
private func determinant(_ matrix: [Double], size: Int) -> Double {
    var matrix = matrix
    var result = 1.0
    for column in 0..<size {
        let pivotRow = (column..<size).max { abs(matrix[$0 * size + column]) < abs(matrix[$1 * size + column]) } ?? column
        let pivot = matrix[pivotRow * size + column]
        if pivot == 0 { return 0 }
        if pivotRow != column {
            for index in column..<size { matrix.swapAt(pivotRow * size + index, column * size + index) }
            result = -result
        }
        result *= pivot
        for row in (column + 1)..<size {
            let factor = matrix[row * size + column] / pivot
            for index in (column + 1)..<size { matrix[row * size + index] -= factor * matrix[column * size + index] }
        }
    }
    return result
}
