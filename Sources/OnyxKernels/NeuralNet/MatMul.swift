import OnyxCore

// MatMul and Gemm. Both reduce to GemmElement.multiply: the packed SIMD GEMM for float (and float16/bfloat16,
// widened), a plain loop for double and the 32/64-bit integers (wrapping, as numpy does).

/// MatMul: numpy `matmul`, with broadcast batch dimensions and 1-D operands.
struct MatMulKernel: Kernel {
    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let b = try inputs.tensor(1)
        guard a.dataType == b.dataType else {
            throw KernelError.invalidInput("MatMul operands must share a type, got \(a.dataType) and \(b.dataType)")
        }
        let product = MatMulProduct(a: try a.netWidened(), b: try b.netWidened(), threads: context.threads)
        return [.tensor(try product.a.dataType.visitGemm(product).netNarrowed(to: a.dataType))]
    }
}

/// Gemm: `Y = alpha · A'·B' + beta · C`, with A' and B' optionally transposed and C broadcast to Y.
struct GemmKernel: Kernel {
    let transposeA: Bool
    let transposeB: Bool
    let alpha: Float
    let beta: Float

    init(_ node: KernelNode) throws {
        transposeA = try node.int("transA", default: 0) != 0
        transposeB = try node.int("transB", default: 0) != 0
        alpha = try node.float("alpha", default: 1)
        beta = try node.float("beta", default: 1)
    }

    func run(_ inputs: KernelInputs, context: KernelContext) throws -> [Value] {
        let a = try inputs.tensor(0)
        let b = try inputs.tensor(1)
        let c = try inputs.optionalTensor(2)
        for operand in [b, c].compactMap({ $0 }) where operand.dataType != a.dataType {
            throw KernelError.invalidInput("Gemm operands must share a type, got \(a.dataType) and \(operand.dataType)")
        }
        let product = GemmProduct(
            a: try a.netWidened(), b: try b.netWidened(), c: try c?.netWidened(), transposeA: transposeA,
            transposeB: transposeB, alpha: alpha, beta: beta, threads: context.threads)
        return [.tensor(try product.a.dataType.visitGemm(product).netNarrowed(to: a.dataType))]
    }
}

private struct MatMulProduct: GemmVisitor {
    let a: Tensor
    let b: Tensor
    let threads: Int

    func visit<T: GemmElement>(_ type: T.Type) throws -> Tensor {
        guard a.rank >= 1, b.rank >= 1 else {
            throw KernelError.invalidInput("MatMul operands must have rank ≥ 1, got \(a.shape) and \(b.shape)")
        }
        // A 1-D A is a row vector and a 1-D B a column vector; the added dimension is dropped from the result.
        let aShape = a.rank == 1 ? [1] + a.shape : a.shape
        let bShape = b.rank == 1 ? b.shape + [1] : b.shape
        let m = aShape[aShape.count - 2]
        let k = aShape[aShape.count - 1]
        let n = bShape[bShape.count - 1]
        guard bShape[bShape.count - 2] == k else {
            throw KernelError.invalidInput("MatMul inner dimensions differ: A \(a.shape), B \(b.shape)")
        }
        let aBatch = Array(aShape.dropLast(2))
        let bBatch = Array(bShape.dropLast(2))
        let batch = try broadcastShape(aBatch, bBatch)
        var outputShape = batch
        if a.rank > 1 { outputShape.append(m) }
        if b.rank > 1 { outputShape.append(n) }
        let count = try NeuralNet.elementCount(outputShape, role: "MatMul output")
        guard count > 0 else { return Tensor(zeros: T.dataType, shape: outputShape) }
        let batchCount = batch.reduce(1, *)
        let aOffsets = batchOffsets(of: aBatch, in: batch, matrixSize: m * k)
        let bOffsets = batchOffsets(of: bBatch, in: batch, matrixSize: k * n)
        // An unbatched B under a batch of As that is not broadcast is one tall product: the GEMM then packs
        // B once and parallelises over all rows.
        let oneProduct = bBatch.allSatisfy { $0 == 1 } && aBatch == batch
        let one = T(converting: 1)
        let threads = threads
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            a.elements(as: T.self).withUnsafeBufferPointer { aBuffer in
                b.elements(as: T.self).withUnsafeBufferPointer { bBuffer in
                    let aBase = NeuralNet.ReadBuffer(aBuffer).base
                    let bBase = NeuralNet.ReadBuffer(bBuffer).base
                    let output = NeuralNet.WriteBuffer(buffer)
                    if oneProduct {
                        T.multiply(
                            m: batchCount * m, n: n, k: k, alpha: one, a: GemmOperand(rowMajor: aBase, columns: k),
                            b: GemmOperand(rowMajor: bBase, columns: n), c: output.base, ldc: n, accumulate: false,
                            threads: threads)
                        return
                    }
                    // Many batches: one thread per run of batches; few: each product uses every thread.
                    let threadsPerProduct = batchCount >= threads ? 1 : threads
                    let operandA = GemmOperand(rowMajor: aBase, columns: k)
                    let operandB = GemmOperand(rowMajor: bBase, columns: n)
                    NeuralNet.forEachChunk(
                        of: batchCount, threads: threadsPerProduct == 1 ? threads : 1, workPerItem: m * n * k
                    ) { range in
                        for index in range {
                            T.multiply(
                                m: m, n: n, k: k, alpha: one,
                                a: GemmOperand(rowMajor: operandA.base + aOffsets[index], columns: k),
                                b: GemmOperand(rowMajor: operandB.base + bOffsets[index], columns: n),
                                c: output.base + index * m * n, ldc: n, accumulate: false, threads: threadsPerProduct)
                        }
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: outputShape, elements: values)
    }

    /// numpy broadcasting of two batch shapes.
    private func broadcastShape(_ x: [Int], _ y: [Int]) throws -> [Int] {
        let rank = max(x.count, y.count)
        let paddedX = Array(repeating: 1, count: rank - x.count) + x
        let paddedY = Array(repeating: 1, count: rank - y.count) + y
        return try zip(paddedX, paddedY).map { extentX, extentY in
            guard extentX == extentY || extentX == 1 || extentY == 1 else {
                throw KernelError.invalidInput("MatMul batch dimensions \(x) and \(y) do not broadcast")
            }
            return extentX == 1 ? extentY : extentX
        }
    }

    /// For each matrix of the broadcast batch `batch` (row-major order), the element offset of the operand
    /// matrix it reads, given the operand's own batch shape.
    private func batchOffsets(of operand: [Int], in batch: [Int], matrixSize: Int) -> [Int] {
        let padded = Array(repeating: 1, count: batch.count - operand.count) + operand
        var strides = [Int](repeating: 0, count: batch.count)
        var step = matrixSize
        for axis in stride(from: batch.count - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        var offsets = [0]
        for axis in 0..<batch.count {
            offsets = offsets.flatMap { base in (0..<batch[axis]).map { base + $0 * strides[axis] } }
        }
        return offsets
    }
}

private struct GemmProduct: GemmVisitor {
    let a: Tensor
    let b: Tensor
    let c: Tensor?
    let transposeA: Bool
    let transposeB: Bool
    let alpha: Float
    let beta: Float
    let threads: Int

    func visit<T: GemmElement>(_ type: T.Type) throws -> Tensor {
        guard a.rank == 2, b.rank == 2 else {
            throw KernelError.invalidInput("Gemm operands must be matrices, got A \(a.shape) and B \(b.shape)")
        }
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (innerB, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard innerB == k else {
            throw KernelError.invalidInput(
                "Gemm inner dimensions differ: A \(a.shape) (transA \(transposeA)), B \(b.shape) (transB \(transposeB))"
            )
        }
        let alphaValue = try scalar(alpha, name: "alpha", as: T.self)
        let betaValue = try scalar(beta, name: "beta", as: T.self)
        let bias = beta == 0 ? nil : try c.map { try broadcastBias($0, m: m, n: n, as: T.self) }
        let count = try NeuralNet.elementCount([m, n], role: "Gemm output")
        let threads = threads
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let bias {
                for index in 0..<count { buffer[index] = T.product(betaValue, bias[index]) }
            }
            a.elements(as: T.self).withUnsafeBufferPointer { aBuffer in
                b.elements(as: T.self).withUnsafeBufferPointer { bBuffer in
                    let aMatrix = GemmOperand(rowMajor: NeuralNet.ReadBuffer(aBuffer).base, columns: a.shape[1])
                    let bMatrix = GemmOperand(rowMajor: NeuralNet.ReadBuffer(bBuffer).base, columns: b.shape[1])
                    T.multiply(
                        m: m, n: n, k: k, alpha: alphaValue, a: transposeA ? aMatrix.transposed : aMatrix,
                        b: transposeB ? bMatrix.transposed : bMatrix, c: NeuralNet.WriteBuffer(buffer).base, ldc: n,
                        accumulate: bias != nil, threads: threads)
                }
            }
            initialized = count
        }
        return Tensor(shape: [m, n], elements: values)
    }

    /// `value` as an element; integer products only take whole-number alpha and beta.
    private func scalar<T: GemmElement>(_ value: Float, name: String, as type: T.Type) throws -> T {
        let converted = T(converting: Double(value))
        guard converted.doubleValue == Double(value) || !(T.self is any FixedWidthInteger.Type) else {
            throw KernelError.invalidAttribute(name, "must be a whole number for \(T.dataType) Gemm, got \(value)")
        }
        return converted
    }

    /// C unidirectionally broadcast to m×n, row-major.
    private func broadcastBias<T: GemmElement>(_ c: Tensor, m: Int, n: Int, as type: T.Type) throws -> [T] {
        guard c.rank <= 2 else { throw KernelError.invalidInput("Gemm C must have rank ≤ 2, got \(c.shape)") }
        let shape = Array(repeating: 1, count: 2 - c.rank) + c.shape
        guard shape[0] == 1 || shape[0] == m, shape[1] == 1 || shape[1] == n else {
            throw KernelError.invalidInput("Gemm C of shape \(c.shape) does not broadcast to [\(m), \(n)]")
        }
        let values = c.elements(as: T.self)
        if shape == [m, n] { return values }
        let rowStride = shape[0] == 1 ? 0 : shape[1]
        let columnStride = shape[1] == 1 ? 0 : 1
        var expanded = [T]()
        expanded.reserveCapacity(m * n)
        for row in 0..<m {
            for column in 0..<n { expanded.append(values[row * rowStride + column * columnStride]) }
        }
        return expanded
    }
}
