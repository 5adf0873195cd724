// Activation functions, applied as epilogues while an output tile is still in registers.
//
// Every optimized kernel funnels its activation through `activate(_:_:)` on `SIMD16<Float>`
// so that all kernels agree bit-for-bit on what, e.g., SiLU of a value is. The transcendental
// ones (sigmoid, tanh, silu) use a vectorized exp (`exp16`) that is accurate to a few ulp;
// they are kept out of line so a microkernel that inlines the cheap activations (ReLU & co.)
// does not grow by the polynomial code.

/// Activation applied after bias and residual. Definitions follow PyTorch exactly:
/// relu6 = min(max(x, 0), 6), hardswish = x * relu6(x + 3) / 6, hardsigmoid = relu6(x + 3) / 6,
/// leakyRelu(slope) = x >= 0 ? x : slope * x, silu = x * sigmoid(x).
public enum Activation: Sendable, Hashable {
    case none
    case relu
    case relu6
    case leakyRelu(Float)
    case sigmoid
    case tanh
    case silu
    case hardswish
    case hardsigmoid
}

/// Vectorized e^x for `Float` lanes: Cody-Waite range reduction x = n*ln2 + r, |r| <= ln2/2,
/// a degree-5 polynomial for e^r (max relative error ~2e-7 in float arithmetic), and 2^n built
/// in the exponent bits. Lanes below -87.3 return 0; lanes above 88 saturate at e^88.
@inline(__always)
public func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let lo = SIMD16<Float>(repeating: expLowerLimit)
    return expOfClamped(clampExpArgument(x)).replacing(with: SIMD16<Float>(repeating: 0), where: x .< lo)
}

/// Below this e^x is subnormal; `exp16` returns 0 there.
let expLowerLimit: Float = -87.33654

/// Clamps to [-87.33654, 88] so that n = round(x / ln2) lies in [-126, 127] and 2^n is one
/// normal float (no two-factor scaling). NaN passes through.
@_transparent
func clampExpArgument(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let lo = SIMD16<Float>(repeating: expLowerLimit)
    let hi = SIMD16<Float>(repeating: 88)
    return x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: hi .< x)
}

/// e^x for x already in the clamped range. 18 vector instructions; this is the inner cost of
/// every SiLU, sigmoid and softmax, so it is kept short (the previous Cephes degree-7 form with
/// a two-factor 2^n took ~2.5x longer per vector for no gain in accuracy).
@_transparent
func expOfClamped(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // Round x*log2(e) to the nearest integer with the 1.5*2^23 trick: after the add, the low
    // mantissa bits of t hold n (the stdlib's `rounded` and Float->Int32 SIMD conversions are
    // scalarized, ~100x slower).
    let magic = SIMD16<Float>(repeating: 12582912)
    let t = x * SIMD16<Float>(repeating: 1.44269504088896341) + magic
    let n = t - magic
    // ln2 split so that n * ln2Hi is exact for |n| <= 128.
    var r = x.addingProduct(n, SIMD16<Float>(repeating: -0.693359375))
    r = r.addingProduct(n, SIMD16<Float>(repeating: 2.12194440e-4))
    // e^r = 1 + r + r^2 * p(r), p fitted for minimax relative error on [-ln2/2, ln2/2].
    var p = SIMD16<Float>(repeating: 0.04189000278711319).addingProduct(SIMD16<Float>(repeating: 0.008312469348311424), r)
    p = SIMD16<Float>(repeating: 0.16667114198207855).addingProduct(p, r)
    p = SIMD16<Float>(repeating: 0.499992311000824).addingProduct(p, r)
    let er = (r + SIMD16<Float>(repeating: 1)).addingProduct(p, r * r)
    // 2^n: the bits of t are those of magic (0x4B40_0000) plus n, so shifting them left by 23
    // leaves n << 23 (the magic's own bits shift out), and adding 127 << 23 biases the exponent.
    let scale = unsafeBitCast((unsafeBitCast(t, to: SIMD16<Int32>.self) &<< 23) &+ SIMD16<Int32>(repeating: 127 << 23),
                              to: SIMD16<Float>.self)
    return er * scale
}

/// Lane-wise max; NaN in `a` propagates. Written as compare+blend because the stdlib's
/// `pointwiseMax` is scalarized (118 instructions instead of 2).
@_transparent
public func max16(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: a .< b) }

/// Lane-wise min; NaN in `a` propagates.
@_transparent
public func min16(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .< a) }

/// min(max(x, lo), hi) lane-wise. (The stdlib's generic `clamped(lowerBound:upperBound:)`
/// is not lowered to vector min/max and costs more than a whole GEMM tile; never use it here.)
@_transparent
public func clamp16(_ x: SIMD16<Float>, _ lo: SIMD16<Float>, _ hi: SIMD16<Float>) -> SIMD16<Float> {
    min16(max16(x, lo), hi)
}

/// |x| by clearing the sign bits.
@_transparent
public func abs16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7fff_ffff), to: SIMD16<Float>.self)
}

/// Logistic sigmoid 1 / (1 + e^-x), with e^-x clamped at e^88: relative accuracy holds for
/// x > -87 (below that the result is under 1e-38 and flushes towards 0).
@_transparent
func sigmoidInline(_ x: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16<Float>(repeating: 1) / (SIMD16<Float>(repeating: 1) + expOfClamped(clampExpArgument(-x)))
}

/// SiLU (swish): x * sigmoid(x), computed as x / (1 + e^-x) (one division, as PyTorch does).
@_transparent
func siluInline(_ x: SIMD16<Float>) -> SIMD16<Float> {
    x / (SIMD16<Float>(repeating: 1) + expOfClamped(clampExpArgument(-x)))
}

/// tanh. For |x| >= 0.4: sign(x) * (1 - 2 / (e^(2|x|) + 1)) (at most ~1.5 bits lost to
/// cancellation at the threshold); below it the odd Taylor series through x^13, whose
/// truncation error there is < 1e-8 relative.
@_transparent
func tanhInline(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let ax = abs16(x)
    let e = exp16(SIMD16<Float>(repeating: 2) * ax)
    var big = SIMD16<Float>(repeating: 1) - SIMD16<Float>(repeating: 2) / (e + SIMD16<Float>(repeating: 1))
    big = big.replacing(with: SIMD16<Float>(repeating: 1), where: ax .> 9)
    let x2 = x * x
    var p = SIMD16<Float>(repeating: 21844.0 / 6081075.0)
    p = SIMD16<Float>(repeating: -1382.0 / 155925.0).addingProduct(p, x2)
    p = SIMD16<Float>(repeating: 62.0 / 2835.0).addingProduct(p, x2)
    p = SIMD16<Float>(repeating: -17.0 / 315.0).addingProduct(p, x2)
    p = SIMD16<Float>(repeating: 2.0 / 15.0).addingProduct(p, x2)
    p = SIMD16<Float>(repeating: -1.0 / 3.0).addingProduct(p, x2)
    let small = x.addingProduct(x * x2, p)
    let signed = big.replacing(with: -big, where: x .< 0)
    return signed.replacing(with: small, where: ax .< 0.4)
}

/// Out-of-line versions for microkernel epilogues, so the tile code stays small. Elementwise
/// loops use the inline bodies instead so consecutive vectors overlap in the pipeline.
@inline(never) public func sigmoid16(_ x: SIMD16<Float>) -> SIMD16<Float> { sigmoidInline(x) }
@inline(never) public func silu16(_ x: SIMD16<Float>) -> SIMD16<Float> { siluInline(x) }
@inline(never) public func tanh16(_ x: SIMD16<Float>) -> SIMD16<Float> { tanhInline(x) }

/// Applies `act` to 16 lanes. Cheap activations are inlined; exp-based ones call out of line.
@_transparent
public func activate(_ v: SIMD16<Float>, _ act: Activation) -> SIMD16<Float> {
    switch act {
    case .none:
        return v
    case .relu:
        return max16(v, SIMD16<Float>(repeating: 0))
    case .relu6:
        return clamp16(v, SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 6))
    case .leakyRelu(let slope):
        return v.replacing(with: v * SIMD16<Float>(repeating: slope), where: v .< 0)
    case .sigmoid:
        return sigmoid16(v)
    case .tanh:
        return tanh16(v)
    case .silu:
        return silu16(v)
    case .hardswish:
        let r6 = clamp16(v + SIMD16<Float>(repeating: 3), SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 6))
        return v * r6 / SIMD16<Float>(repeating: 6)
    case .hardsigmoid:
        let r6 = clamp16(v + SIMD16<Float>(repeating: 3), SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 6))
        return r6 / SIMD16<Float>(repeating: 6)
    }
}

/// Scalar activation, computed through the vector path so tails agree with vector lanes bit-for-bit.
@inline(__always)
public func activate(_ x: Float, _ act: Activation) -> Float {
    if case .none = act { return x }
    return activate(SIMD16<Float>(repeating: x), act)[0]
}

/// Loads `count` (< 16) floats into the low lanes, zero elsewhere. Used only at channel tails.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD16<Float> {
    var v = SIMD16<Float>(repeating: 0)
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count * 4) }
    return v
}

/// Stores the low `count` (< 16) lanes.
@inline(__always)
func storePartial(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    withUnsafeBytes(of: v) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
}

/// Unaligned 16-float load (public and inlinable so the training kernels share it).
@inlinable @inline(__always)
public func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// Unaligned 16-float store.
@inlinable @inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
