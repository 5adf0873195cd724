// Static, deterministic work partitioning.
//
// Kernels never split a reduction: each takes a sub-range of independent work items (output
// pixels, rows, elements) and computes every item with the same operation order no matter
// which sub-range it belongs to. So any contiguous partition gives bit-identical results, and
// `parallelFor` only has to hand out contiguous chunks. It uses
// `DispatchQueue.concurrentPerform`, whose worker threads persist in libdispatch's pool, so a
// steady-state call allocates no threads.

import Dispatch

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
    precondition(count >= 0 && threads >= 1 && alignment >= 1)
    if count == 0 { return }
    let t = min(threads, max(1, count / alignment))
    if t == 1 {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: t) { i in
        let r = chunk(count, parts: t, index: i, alignment: alignment)
        if !r.isEmpty { body(r) }
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
