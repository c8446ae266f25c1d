import Foundation
import OnyxCore
import OnyxFormat
import OnyxKernels
import XCTest

final class ZZMathBenchScratch: XCTestCase {
    func testBench() throws {
        let n = 1 << 20
        let a = Tensor(shape: [1024, 1024], elements: (0..<n).map { Float($0 % 1000) * 0.01 - 5 })
        let b = Tensor(shape: [1024, 1024], elements: (0..<n).map { Float($0 % 777) * 0.01 + 1 })
        let row = Tensor(shape: [1024], elements: (0..<1024).map { Float($0) + 1 })
        let col = Tensor(shape: [1024, 1], elements: (0..<1024).map { Float($0) + 1 })
        let scalar = Tensor(scalar: Float(2))
        func time(_ label: String, _ op: String, _ inputs: [Tensor]) throws {
            let node = KernelNode(opType: op, opsetVersion: 22, attributes: op == "Cast" ? ["to": .int(10)] : [:])
            let factory = KernelRegistry.standard.factory(for: op, domain: "", opsetVersion: 22)!
            let kernel = try factory(node)
            _ = try kernel.run(KernelInputs(inputs.map { .tensor($0) }), context: KernelContext())
            let reps = 20
            let start = Date()
            for _ in 0..<reps { _ = try kernel.run(KernelInputs(inputs.map { .tensor($0) }), context: KernelContext()) }
            let ns = Date().timeIntervalSince(start) / Double(reps * n) * 1e9
            print("BENCH \(label): \(String(format: "%.3f", ns)) ns/element")
        }
        try time("Add same", "Add", [a, b])
        try time("Add scalar", "Add", [a, scalar])
        try time("Mul row", "Mul", [a, row])
        try time("Div col", "Div", [a, col])
        try time("Sub col-row", "Sub", [col, row])
        try time("Relu", "Relu", [a])
        try time("Sigmoid", "Sigmoid", [a])
        try time("Tanh", "Tanh", [a])
        try time("Exp", "Exp", [a])
        try time("Erf", "Erf", [a])
        try time("Log (generic)", "Log", [b])
        try time("Where", "Where", [Tensor(shape: [1024, 1024], elements: (0..<n).map { $0 % 3 == 0 }), a, b])
        try time("Cast f->f16", "Cast", [a])
        try time("Int32 add", "Add", [Tensor(shape: [n], elements: (0..<n).map { Int32($0) }), Tensor(shape: [n], elements: (0..<n).map { Int32($0) })])
    }
}
