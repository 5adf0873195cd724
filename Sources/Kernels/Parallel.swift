// Static, deterministic work partitioning over a persistent pool of spinning workers.
//
// Kernels never split a reduction: each takes a sub-range of independent work items (output
// pixels, rows, elements) and computes every item with the same operation order no matter
// which sub-range it belongs to. So any contiguous partition gives bit-identical results, and
// `parallelFor` only has to hand out contiguous chunks.
//
// A plan runs tens to hundreds of short steps (many well under 100 µs), so waking threads per
// step would cost a noticeable share of the run. Like ONNX Runtime's and XNNPACK's pools, the
// workers here spin on an atomic generation counter between steps and only park on a semaphore
// after ~2 ms without work. The caller runs chunk 0 itself. One plan runs at a time on the
// pool; a concurrent caller (e.g. tests running in parallel) falls back to
// `DispatchQueue.concurrentPerform`, which computes the same chunks. Measured side by side on an
// idle machine (2 threads, batch 1): MobileNetV2 7.35-7.76 -> 5.99-6.21 ms, EfficientNet-B0
// 10.5 -> 8.5 ms, ResNet-50 41.7 -> 39.8-40.3 ms. On an oversubscribed machine spinning loses
// (2-3x slower there); `MODELC_SPIN=0` turns it off.

import Dispatch
import Foundation
import Synchronization

/// Splits `0..<count` into `threads` contiguous chunks (chunk t is
/// `[count*t/threads, count*(t+1)/threads)`, boundaries rounded down to a multiple of
/// `alignment`) and runs `body` on each chunk, concurrently when `threads > 1`.
/// Empty chunks are skipped. Returns when every chunk is done.
///
/// `alignment` lets a GEMM-based kernel keep chunk boundaries on multiples of its row tile
/// (8) so no thread computes a ragged tile in the middle of the range. It changes only the
/// speed, never the result.
public func parallelFor(
    _ count: Int, threads: Int, alignment: Int = 1,
    _ body: @Sendable (Range<Int>) -> Void
) {
    parallelForChunks(count, threads: threads, alignment: alignment) { _, r in body(r) }
}

/// `parallelFor` that also passes each chunk's index (below `threads`), for kernels that keep
/// per-thread scratch buffers: chunk i uses scratch i, and no two running chunks share one.
public func parallelForChunks(
    _ count: Int, threads: Int, alignment: Int = 1,
    _ body: @Sendable (Int, Range<Int>) -> Void
) {
    precondition(count >= 0 && threads >= 1 && alignment >= 1)
    if count == 0 { return }
    let t = min(threads, max(1, count / alignment))
    if t == 1 {
        body(0, 0..<count)
        return
    }
    let job: @Sendable (Int) -> Void = { i in
        let r = chunk(count, parts: t, index: i, alignment: alignment)
        if !r.isEmpty { body(i, r) }
    }
    withoutActuallyEscaping(job) { job in
        if WorkerPool.shared?.run(parts: t, job) != true {
            DispatchQueue.concurrentPerform(iterations: t, execute: job)
        }
    }
}

/// The `index`-th of `parts` contiguous chunks of `0..<count` (see `parallelFor`).
public func chunk(_ count: Int, parts: Int, index: Int, alignment: Int = 1) -> Range<Int> {
    func bound(_ i: Int) -> Int {
        if i >= parts { return count }
        let b = count * i / parts
        return min(count, b / alignment * alignment)
    }
    return bound(index)..<bound(index + 1)
}

/// Persistent workers (one fewer than the cores) that spin between jobs.
final class WorkerPool: @unchecked Sendable {
    /// The pool, or nil with `MODELC_SPIN=0` (then every call uses libdispatch, which is
    /// kinder to a machine whose cores are oversubscribed: spinning workers steal the core the
    /// working thread needs).
    static let shared: WorkerPool? = ProcessInfo.processInfo.environment["MODELC_SPIN"] == "0"
        ? nil : WorkerPool(workers: max(0, min(63, ProcessInfo.processInfo.activeProcessorCount - 1)))

    private let workers: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let busy = Mutex<Bool>(false)
    /// Per-worker parking state.
    private final class Parking: Sendable {
        let sleeping = Atomic<Bool>(false)
        let wakeup = DispatchSemaphore(value: 0)
    }
    private let parking: [Parking]
    /// The current job; written by the caller before the generation is bumped (release) and
    /// read by workers after they observe it (acquire).
    private nonisolated(unsafe) var job: ((Int) -> Void)?
    private nonisolated(unsafe) var parts = 0
    /// Spin iterations before a worker parks (about 2 ms).
    private static let spinLimit = 200_000

    private init(workers: Int) {
        self.workers = workers
        parking = (0..<workers).map { _ in Parking() }
        for w in 0..<workers {
            let thread = Thread { [self] in loop(worker: w) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `job(0..<parts)` with the caller taking part 0; false if the pool is busy or too
    /// small, so the caller can use another way.
    func run(parts: Int, _ job: @escaping (Int) -> Void) -> Bool {
        guard parts - 1 <= workers else { return false }
        let acquired = busy.withLock { b -> Bool in
            if b { return false }
            b = true
            return true
        }
        guard acquired else { return false }
        defer { busy.withLock { $0 = false } }
        self.job = job
        self.parts = parts
        pending.store(parts - 1, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        for w in 0..<(parts - 1) where parking[w].sleeping.exchange(false, ordering: .sequentiallyConsistent) {
            parking[w].wakeup.signal()
        }
        job(0)
        while pending.load(ordering: .acquiring) > 0 {}
        self.job = nil
        return true
    }

    /// Runs one part; the job reference is released when this returns, before the caller is
    /// told the part is done (the caller's closure must not outlive `parallelFor`).
    @inline(never)
    private func runPart(_ i: Int) {
        job?(i)
    }

    private func loop(worker w: Int) {
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins > Self.spinLimit {
                    parking[w].sleeping.store(true, ordering: .sequentiallyConsistent)
                    if generation.load(ordering: .sequentiallyConsistent) == seen {
                        parking[w].wakeup.wait()
                    }
                    parking[w].sleeping.store(false, ordering: .sequentiallyConsistent)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if w + 1 < parts {
                runPart(w + 1)
                pending.subtract(1, ordering: .releasing)
            }
        }
    }
}

/// A raw read-only pointer that may cross into `@Sendable` closures. The caller guarantees
/// the memory outlives the parallel call and is not written concurrently.
public struct SendablePointer: @unchecked Sendable {
    public let pointer: UnsafePointer<Float>
    public init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}

/// A raw mutable pointer that may cross into `@Sendable` closures. The caller guarantees each
/// thread writes a disjoint part of the memory.
public struct SendableMutablePointer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
