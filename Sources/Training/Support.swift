// Small shared pieces of the training module: partial vector load/store helpers (the full
// ones are Kernels' `load16`/`store16`, blocks of 16 its `perChannel`), pointer wrappers that
// may cross into `parallelFor` bodies, and the error type every user-facing failure of
// training is reported with.

import Kernels

/// A training failure with a message meant for the user (file and place included when there
/// is one). The CLI prints it as `modelc: error: ...` and exits with status 1.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Loads `count` (0...16) floats into the low lanes, zero elsewhere. Only used at tails.
@inline(__always)
func ldp(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD16<Float> {
    if count >= 16 { return load16(p) }
    var v = SIMD16<Float>(repeating: 0)
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the low `count` (0...16) lanes. Only used at tails.
@inline(__always)
func stp(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count >= 16 { store16(v, p); return }
    for i in 0..<count { p[i] = v[i] }
}


/// A float buffer owned by the training plan (64-byte aligned, zero-initialized).
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(16, count) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(16, count))
        pointer.initialize(repeating: 0, count: max(16, count))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    func assign(_ values: [Float], at offset: Int = 0) {
        values.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { (pointer + offset).update(from: base, count: b.count) }
        }
    }
}

/// y[i] = x[i] (write) or y[i] += x[i] (accumulate) for i in `range`.
@inline(__always)
func emit(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>, accumulate: Bool) {
    if accumulate {
        var i = range.lowerBound
        while i + 16 <= range.upperBound { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
        while i < range.upperBound { y[i] += x[i]; i += 1 }
    } else {
        (y + range.lowerBound).update(from: x + range.lowerBound, count: range.count)
    }
}

/// Runs `body` over `0..<count` split into `threads` static chunks (see Kernels.parallelFor);
/// small jobs run on the calling thread, where a dispatch would cost more than the work.
@inline(__always)
func parallel(_ count: Int, threads: Int, work: Int, alignment: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
    if threads <= 1 || work < 32_768 {
        if count > 0 { body(0..<count) }
    } else {
        parallelFor(count, threads: threads, alignment: alignment, body)
    }
}
