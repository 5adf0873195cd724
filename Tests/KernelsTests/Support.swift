// Shared test helpers: deterministic RNG, layout conversion, error metric, threaded runs.

import Kernels
import Testing

/// SplitMix64: tiny, deterministic, good enough for test data.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
}

/// max |a - ref| / max |ref| (or the absolute error when ref is all zeros).
func relativeError(_ a: [Float], _ ref: [Float]) -> Double {
    precondition(a.count == ref.count, "size mismatch \(a.count) vs \(ref.count)")
    var maxErr = 0.0, maxRef = 0.0
    for i in 0..<a.count {
        let e = abs(Double(a[i]) - Double(ref[i]))
        maxErr = e.isNaN || maxErr.isNaN ? .nan : max(maxErr, e)
        maxRef = max(maxRef, abs(Double(ref[i])))
    }
    return maxRef > 0 ? maxErr / maxRef : maxErr
}

func toNHWC(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
    var y = x
    for n in 0..<batch { for c in 0..<channels { for i in 0..<spatial {
        y[(n * spatial + i) * channels + c] = x[(n * channels + c) * spatial + i]
    } } }
    return y
}

func toNCHW(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
    var y = x
    for n in 0..<batch { for c in 0..<channels { for i in 0..<spatial {
        y[(n * channels + c) * spatial + i] = x[(n * spatial + i) * channels + c]
    } } }
    return y
}

/// Runs `body` over `0..<count` split across `threads` with `parallelFor`, writing into a fresh
/// output array of `outputCount` floats.
func runSplit(_ count: Int, threads: Int, alignment: Int = 1, outputCount: Int,
              _ body: @escaping @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var out = [Float](repeating: .nan, count: outputCount)
    out.withUnsafeMutableBufferPointer { buf in
        let o = SendableMutablePointer(buf.baseAddress!)
        parallelFor(count, threads: threads, alignment: alignment) { r in body(r, o.pointer) }
    }
    return out
}

/// Runs `body` over `0..<count` cut into pieces at the given boundaries, sequentially. Used to
/// check that odd splits (not only parallelFor's) give bit-identical results.
func runPieces(_ count: Int, cuts: [Int], outputCount: Int,
               _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var out = [Float](repeating: .nan, count: outputCount)
    out.withUnsafeMutableBufferPointer { buf in
        let bounds = [0] + cuts.filter { $0 > 0 && $0 < count }.sorted() + [count]
        for i in 0..<(bounds.count - 1) where bounds[i] < bounds[i + 1] {
            body(bounds[i]..<bounds[i + 1], buf.baseAddress!)
        }
    }
    return out
}

let allActivations: [Activation] = [.none, .relu, .relu6, .leakyRelu(0.1), .sigmoid, .tanh, .silu, .hardswish, .hardsigmoid]
