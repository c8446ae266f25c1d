import Dispatch
import Synchronization

extension NeuralNet {
    /// A buffer that the threads of one parallel loop read. Sendable because the loop ends before the
    /// buffer's owner can change or free it.
    struct ReadBuffer<Element>: @unchecked Sendable {
        let base: UnsafePointer<Element>
        init(_ base: UnsafePointer<Element>) { self.base = base }
        init(_ buffer: UnsafeBufferPointer<Element>) {
            // An empty array may have no address; nothing is read through it then.
            base = buffer.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Element>.alignment)!
        }
    }

    /// A buffer that the threads of one parallel loop write, each to its own disjoint part. Sendable for the
    /// same reason as ``ReadBuffer``.
    struct WriteBuffer<Element>: @unchecked Sendable {
        let base: UnsafeMutablePointer<Element>
        init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
        init(_ buffer: UnsafeMutableBufferPointer<Element>) {
            base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!
        }
    }

    /// Below this much work (roughly, scalar operations) a loop runs on the calling thread: dispatch costs more.
    static let minimumParallelWork = 1 << 16

    /// Tasks per thread when work is split: more, smaller tasks let threads that finish early (or were not
    /// slowed by other load on the machine) take over the rest.
    static let tasksPerThread = 4

    /// Calls `body` on contiguous chunks covering `0..<count`: spread over up to `threads` threads when the
    /// total work (`workPerItem · count`) pays for it, else once on the calling thread.
    static func forEachChunk(
        of count: Int, threads: Int, workPerItem: Int, _ body: @Sendable (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let perItem = max(1, workPerItem)
        let work = count > Int.max / perItem ? Int.max : count * perItem
        let chunks = min(count, threads * tasksPerThread, max(1, work / minimumParallelWork))
        let chunkSize = (count + chunks - 1) / chunks
        runTasks((count + chunkSize - 1) / chunkSize, threads: threads) { chunk in
            body(chunk * chunkSize..<min(count, (chunk + 1) * chunkSize))
        }
    }

    /// Calls `body` once for every task in `0..<tasks`, on up to `threads` threads that each take the next
    /// task as they become free; on the calling thread when one thread suffices.
    static func runTasks(_ tasks: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        runTasks(tasks, threads: threads) { task, _ in body(task) }
    }

    /// As ``runTasks(_:threads:_:)-(_,_,(Int)->Void)``, also passing the index (below `min(tasks, threads)`) of
    /// the worker running the task, for per-worker scratch buffers.
    static func runTasks(_ tasks: Int, threads: Int, _ body: @Sendable (_ task: Int, _ worker: Int) -> Void) {
        let workers = min(tasks, threads)
        guard workers > 1 else {
            for task in 0..<tasks { body(task, 0) }
            return
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while true {
                let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard task < tasks else { return }
                body(task, worker)
            }
        }
    }
}
