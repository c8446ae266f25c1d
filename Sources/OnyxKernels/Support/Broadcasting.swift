import OnyxCore

// Multidirectional (numpy) broadcasting, shared by every elementwise kernel.
//
// `Broadcast.shape(_:)` gives the output shape (or a clear error). `BroadcastPlan` walks that output in
// contiguous runs: dimensions are collapsed wherever every input steps through them the same way, so a
// same-shape op is one run, a scalar operand is one run with step 0, and a row-plus-column op is one run per row.
// `BroadcastPlan.map` builds the output array from up to three inputs with tight inner loops.

/// Shape arithmetic of numpy-style broadcasting.
enum Broadcast {
    /// Largest element count a kernel agrees to produce (2^31 − 1), so that a bogus shape is an error rather
    /// than an allocation that takes the machine down.
    static let maximumElementCount = Int(Int32.max)

    /// The shape that `shapes` broadcast to: shapes are right-aligned, and in each dimension every extent must be
    /// 1 or the one shared extent. Throws naming the offending shapes otherwise, or when any extent is negative.
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var result = [Int](repeating: 1, count: rank)
        for shape in shapes {
            if let negative = shape.first(where: { $0 < 0 }) {
                throw KernelError.invalidInput("shape \(shape) has a negative extent \(negative)")
            }
            for (index, extent) in shape.enumerated() {
                let axis = rank - shape.count + index
                if result[axis] == 1 {
                    result[axis] = extent
                } else if extent != 1 && extent != result[axis] {
                    let listed = shapes.map { "\($0)" }.joined(separator: ", ")
                    throw KernelError.invalidInput(
                        "shapes \(listed) do not broadcast (axis \(axis): \(extent) vs \(result[axis]))")
                }
            }
        }
        _ = try elementCount(result)
        return result
    }

    /// The product of `shape`, checked against overflow and ``maximumElementCount``.
    static func elementCount(_ shape: [Int]) throws -> Int {
        guard let count = checkedElementCount(shape, limit: maximumElementCount) else {
            if shape.contains(where: { $0 < 0 }) { throw KernelError.invalidInput("shape \(shape) has a negative extent") }
            throw KernelError.invalidInput("shape \(shape) has more than \(maximumElementCount) elements")
        }
        return count
    }
}

/// One stretch of consecutive output elements during a broadcast walk. Along it each input index advances by its
/// step: 1 where the input is read element by element, 0 where it is broadcast (one value repeated).
struct BroadcastRun {
    /// Index of the run's first output element.
    var output: Int
    /// Number of elements in the run (at least 1).
    var count: Int
    /// Each input's index at the run's first element; entries past the plan's input count are 0.
    var start: (Int, Int, Int)
    /// Each input's index step along the run (0 or 1).
    var step: (Int, Int, Int)
}

/// How the elements of one to three broadcast inputs line up with the output of an elementwise operation.
///
/// Make one per call (it is cheap), then use ``map(_:_:_:)`` and its siblings, or ``forEachRun(_:)`` for custom
/// loops. Inputs are plain row-major arrays whose shapes were given to the initialiser, in the same order.
struct BroadcastPlan {
    /// The broadcast output shape.
    let shape: [Int]
    /// Number of output elements.
    let count: Int
    /// Extents of the collapsed dimensions, outermost first; the last one is the run length.
    private let extents: [Int]
    /// For each input (three slots), its index stride along each collapsed dimension (0 where broadcast).
    private let strides: [[Int]]

    /// Plans multidirectional broadcasting of one to three input shapes.
    init(_ inputShapes: [[Int]]) throws {
        try self.init(inputShapes, outputShape: Broadcast.shape(inputShapes))
    }

    /// Plans unidirectional broadcasting: each input must broadcast to exactly `outputShape` (as for Expand's
    /// result, or PRelu's slope against X).
    init(_ inputShapes: [[Int]], to outputShape: [Int]) throws {
        let combined = try Broadcast.shape(inputShapes + [outputShape])
        guard combined == outputShape else {
            throw KernelError.invalidInput("shapes \(inputShapes) do not broadcast to \(outputShape)")
        }
        self.init(inputShapes, outputShape: outputShape)
    }

    private init(_ inputShapes: [[Int]], outputShape: [Int]) {
        precondition((1...3).contains(inputShapes.count), "a broadcast plan takes one to three inputs")
        shape = outputShape
        count = outputShape.reduce(1, *)
        // Per-input strides in the output's rank (0 on broadcast dimensions and for unused slots).
        var inputStrides = [[Int]](repeating: [Int](repeating: 0, count: outputShape.count), count: 3)
        for (slot, inputShape) in inputShapes.enumerated() {
            var stride = 1
            for index in inputShape.indices.reversed() {
                let axis = outputShape.count - inputShape.count + index
                inputStrides[slot][axis] = inputShape[index] == 1 ? 0 : stride
                stride *= inputShape[index]
            }
        }
        // Size-1 output dimensions drop out: nothing steps along them.
        let columns = outputShape.indices.filter { outputShape[$0] != 1 }.map { axis in
            (extent: outputShape[axis], strides: (0..<3).map { inputStrides[$0][axis] })
        }
        // Merge a dimension into the previous one when every input continues its stride across the boundary.
        var merged: [(extent: Int, strides: [Int])] = []
        for column in columns {
            if let last = merged.last,
                (0..<3).allSatisfy({ last.strides[$0] == column.strides[$0] * column.extent })
            {
                merged[merged.count - 1] = (last.extent * column.extent, column.strides)
            } else {
                merged.append(column)
            }
        }
        if merged.isEmpty { merged = [(1, [0, 0, 0])] }
        extents = merged.map(\.extent)
        strides = (0..<3).map { slot in merged.map { $0.strides[slot] } }
    }

    /// Calls `body` for each run of output elements, in output order. Runs cover the output exactly once.
    @inline(__always)
    func forEachRun(_ body: (BroadcastRun) throws -> Void) rethrows {
        guard count > 0 else { return }
        let outer = extents.count - 1
        let runLength = extents[outer]
        var run = BroadcastRun(
            output: 0, count: runLength, start: (0, 0, 0), step: (strides[0][outer], strides[1][outer], strides[2][outer]))
        if outer == 0 {
            try body(run)
            return
        }
        // An odometer over the outer dimensions, updating each input's start index incrementally.
        var counter = [Int](repeating: 0, count: outer)
        while true {
            try body(run)
            run.output += runLength
            var axis = outer - 1
            while true {
                counter[axis] += 1
                run.start.0 += strides[0][axis]
                run.start.1 += strides[1][axis]
                run.start.2 += strides[2][axis]
                if counter[axis] < extents[axis] { break }
                run.start.0 -= strides[0][axis] * extents[axis]
                run.start.1 -= strides[1][axis] * extents[axis]
                run.start.2 -= strides[2][axis] * extents[axis]
                counter[axis] = 0
                if axis == 0 { return }
                axis -= 1
            }
        }
    }

    /// The output of `transform` applied to each element of `input` broadcast to ``shape``.
    @inline(__always)
    func map<A, R>(_ input: [A], _ transform: (A) throws -> R) rethrows -> [R] {
        try input.withUnsafeBufferPointer { a in
            try [R](unsafeUninitializedCapacity: count) { out, initialized in
                try forEachRun { run in
                    let destination = out.baseAddress! + run.output
                    if run.step.0 == 0 {
                        let value = try transform(a[run.start.0])
                        destination.initialize(repeating: value, count: run.count)
                    } else {
                        for index in 0..<run.count { (destination + index).initialize(to: try transform(a[run.start.0 + index])) }
                    }
                }
                initialized = count
            }
        }
    }

    /// The output of `combine` applied elementwise to two inputs broadcast to ``shape``.
    @inline(__always)
    func map<A, B, R>(_ first: [A], _ second: [B], _ combine: (A, B) throws -> R) rethrows -> [R] {
        try first.withUnsafeBufferPointer { a in
            try second.withUnsafeBufferPointer { b in
                try [R](unsafeUninitializedCapacity: count) { out, initialized in
                    try forEachRun { run in
                        let destination = out.baseAddress! + run.output
                        let x = a.baseAddress! + run.start.0
                        let y = b.baseAddress! + run.start.1
                        // Separate loops per step pattern keep each one free of index arithmetic (and vectorisable).
                        switch (run.step.0, run.step.1) {
                        case (1, 1):
                            for index in 0..<run.count { (destination + index).initialize(to: try combine(x[index], y[index])) }
                        case (0, 1):
                            let left = x.pointee
                            for index in 0..<run.count { (destination + index).initialize(to: try combine(left, y[index])) }
                        case (1, 0):
                            let right = y.pointee
                            for index in 0..<run.count { (destination + index).initialize(to: try combine(x[index], right)) }
                        default:
                            destination.initialize(repeating: try combine(x.pointee, y.pointee), count: run.count)
                        }
                    }
                    initialized = count
                }
            }
        }
    }

    /// The output of `combine` applied elementwise to three inputs broadcast to ``shape``.
    @inline(__always)
    func map<A, B, C, R>(_ first: [A], _ second: [B], _ third: [C], _ combine: (A, B, C) throws -> R) rethrows -> [R] {
        try first.withUnsafeBufferPointer { a in
            try second.withUnsafeBufferPointer { b in
                try third.withUnsafeBufferPointer { c in
                    try [R](unsafeUninitializedCapacity: count) { out, initialized in
                        try forEachRun { run in
                            let destination = out.baseAddress! + run.output
                            let x = a.baseAddress! + run.start.0
                            let y = b.baseAddress! + run.start.1
                            let z = c.baseAddress! + run.start.2
                            let (dx, dy, dz) = run.step
                            for index in 0..<run.count {
                                (destination + index).initialize(to: try combine(x[index * dx], y[index * dy], z[index * dz]))
                            }
                        }
                        initialized = count
                    }
                }
            }
        }
    }
}
