import OnyxCore

/// Registers Where and Expand: elements move under broadcasting, without arithmetic.
func registerBroadcastCopyKernels(into registry: inout KernelRegistry) {
    registry.register("Where", since: 9) { inputs, _ in
        let condition = try inputs.tensor(0)
        let chosen = try inputs.tensor(1)
        let other = try inputs.tensor(2)
        guard condition.dataType == .bool else {
            throw KernelError.invalidInput("Where's condition must be bool, got \(condition.dataType)")
        }
        guard chosen.dataType == other.dataType else {
            throw KernelError.invalidInput("Where needs X and Y of one type, got \(chosen.dataType) and \(other.dataType)")
        }
        let plan = try BroadcastPlan([condition.shape, chosen.shape, other.shape])
        return [.tensor(try broadcastCopy(plan, condition: condition.elements(as: Bool.self), chosen, other))]
    }
    registry.register("Expand", since: 8) { inputs, _ in
        let input = try inputs.tensor(0)
        let shapeTensor = try inputs.tensor(1)
        guard shapeTensor.dataType == .int64, shapeTensor.rank == 1 else {
            throw KernelError.invalidInput(
                "Expand's shape must be a 1-D int64 tensor, got \(shapeTensor.dataType) \(shapeTensor.shape)")
        }
        let shape = shapeTensor.elements(as: Int64.self).map { Int($0) }
        let plan = try BroadcastPlan([input.shape], to: Broadcast.shape([input.shape, shape]))
        return [.tensor(try broadcastCopy(plan, condition: nil, input, input))]
    }
}

/// The output of `plan`: with a condition (Where, inputs condition/chosen/other), each element comes from `chosen`
/// where the condition holds and from `other` elsewhere; without one (Expand), `chosen` is the plan's only input.
/// Plain-bits types move by element width, so one loop serves every type of that width.
private func broadcastCopy(_ plan: BroadcastPlan, condition: [Bool]?, _ chosen: Tensor, _ other: Tensor) throws -> Tensor {
    if chosen.dataType == .string {
        let first = chosen.elements(as: String.self)
        let second = other.elements(as: String.self)
        let values = condition.map { plan.map($0, first, second) { $0 ? $1 : $2 } } ?? plan.map(first) { $0 }
        return Tensor(shape: plan.shape, elements: values)
    }
    func copy<Word>(_: Word.Type) -> Tensor {
        let size = MemoryLayout<Word>.stride
        return chosen.withUnsafeRawBytes { first in
            other.withUnsafeRawBytes { second in
                Tensor.uninitialized(chosen.dataType, shape: plan.shape) { output in
                    guard let condition else {
                        plan.forEachRun { run in
                            for index in 0..<run.count {
                                let source = (run.start.0 + index * run.step.0) * size
                                let word = first.loadUnaligned(fromByteOffset: source, as: Word.self)
                                output.storeBytes(of: word, toByteOffset: (run.output + index) * size, as: Word.self)
                            }
                        }
                        return
                    }
                    condition.withUnsafeBufferPointer { selector in
                        plan.forEachRun { run in
                            for index in 0..<run.count {
                                // Both loads, then a select: no branch to mispredict on a mixed condition.
                                let yes = first.loadUnaligned(fromByteOffset: (run.start.1 + index * run.step.1) * size, as: Word.self)
                                let no = second.loadUnaligned(fromByteOffset: (run.start.2 + index * run.step.2) * size, as: Word.self)
                                let word = selector[run.start.0 + index * run.step.0] ? yes : no
                                output.storeBytes(of: word, toByteOffset: (run.output + index) * size, as: Word.self)
                            }
                        }
                    }
                }
            }
        }
    }
    switch chosen.dataType.storageSize {
    case 1: return copy(UInt8.self)
    case 2: return copy(UInt16.self)
    case 4: return copy(UInt32.self)
    case 8: return copy(UInt64.self)
    case 16: return copy(SIMD2<UInt64>.self)
    case let size: throw KernelError.unsupported("elements of \(size) bytes")
    }
}
