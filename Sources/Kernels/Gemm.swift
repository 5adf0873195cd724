// GEMM / indirect-GEMM microkernels (AVX-512 via SIMD16) and the blocked driver.
//
// C[i, j] = act(sum_k A[i, k] * B[k, j] + bias[j] + residual[i, j])
//
// Register tile: up to 8 rows (MR) x 32 columns (NR = 2 x SIMD16): 16 accumulators, two B
// vectors and one broadcast, out of 32 zmm registers. Each k step does 2 aligned B loads, 8
// broadcasts and 16 FMAs, which keeps the FMA pipe (1 zmm FMA/cycle on Zen 4) busy; measured
// at ~114-117 GFLOP/s in cache. A last panel with at most 24 (16) valid columns uses a 24-wide
// (16-wide) variant.
//
// A is read either directly (row i at a + i*lda: 1x1 convs, linear) or through an
// indirection buffer (XNNPACK igemm: for row i and tap t a pointer to Cin contiguous floats,
// padding taps pointing at a zero vector). Both paths share one tile body; the only
// difference is how a row pointer is found once per tap.
//
// The whole reduction of a tile stays in registers (no K blocking), so each C element is
// written exactly once, after its epilogue. Cache locality comes from the loop order in
// `runTiles`: a block of panels sized to ~half of L2 is swept by all row tiles of the range,
// so B stays in L2 while each 8-row A tile is reused from L1/L2 across the block.
//
// Inlining is forced with `@_transparent`, not `@inline(__always)`: the latter is only a hint
// to the optimizer's inliner, which stops inlining into a function once it is large. With all
// 40 (rows x activation) tiles in one function, `finish32`, `activateTile` and `tile32` itself
// stayed out-of-line calls that passed each accumulator through memory: ~12 cycles of overhead
// per output vector at K=16 (29.6 vs ~16 for the FMAs). Forced inlining and one function per
// activation (`kernel32Relu6`, ...) brought that to 21.6, and MobileNetV2 from 8.1 to 6.9 ms.

/// Epilogue applied to each output tile in registers: acc + bias, + residual, activation.
public struct Epilogue: @unchecked Sendable {
    public var activation: Activation
    /// Same-shaped tensor added before the activation; row i (output pixel i) starts at
    /// `residual + i * residualStride`, same column offsets as the output. Must not alias
    /// the output of a kernel reading it through an indirection buffer of the same tensor.
    public var residual: UnsafePointer<Float>?
    public var residualStride: Int

    public init(activation: Activation = .none, residual: UnsafePointer<Float>? = nil, residualStride: Int = 0) {
        self.activation = activation
        self.residual = residual
        self.residualStride = residualStride
    }
}

/// Where the rows of A come from (see file comment).
struct ASource {
    let a: UnsafePointer<Float>
    let lda: Int
    let indirection: UnsafePointer<UnsafePointer<Float>>?
    let taps: Int
    let offset: Int
    let zero: UnsafePointer<Float>

    @_transparent
    func row(_ i: Int, _ tap: Int) -> UnsafePointer<Float> {
        if let ind = indirection {
            let p = ind[i * taps + tap]
            return p == zero ? p : p + offset
        }
        return a + i * lda
    }
}

/// Destination of one tile plus its epilogue.
struct TileOut {
    let c: UnsafeMutablePointer<Float>
    let ldc: Int
    let bias: UnsafePointer<Float>
    let residual: UnsafePointer<Float>?
    let ldr: Int
    /// Valid columns: 25...32 for the 32-wide tile, 17...24 for the 24-wide, 1...16 for the 16-wide.
    let nc: Int
    let act: Activation

    @_transparent
    func finish32(_ va: SIMD16<Float>, _ vb: SIMD16<Float>, _ r: Int, _ kind: TileActivation) {
        var x = va + UnsafeRawPointer(bias).load(as: SIMD16<Float>.self)
        var y = vb + UnsafeRawPointer(bias).load(fromByteOffset: 64, as: SIMD16<Float>.self)
        let dst = c + r * ldc
        if nc == 32 {
            if let residual {
                let rp = residual + r * ldr
                x += load16(rp); y += load16(rp + 16)
            }
            x = activateTile(x, kind, act); y = activateTile(y, kind, act)
            store16(x, dst); store16(y, dst + 16)
        } else {
            if let residual {
                let rp = residual + r * ldr
                x += load16(rp); y += loadPartial(rp + 16, nc - 16)
            }
            x = activateTile(x, kind, act); y = activateTile(y, kind, act)
            store16(x, dst); storePartial(y, dst + 16, nc - 16)
        }
    }

    /// The activations `activateTile` leaves out, over the tile's `rows` stored rows.
    @_transparent
    func activateStored(_ rows: Int, _ kind: TileActivation) {
        switch kind {
        case .none, .relu, .relu6: return
        case .silu: for r in 0..<rows { activationLoop(c + r * ldc, c + r * ldc, 0..<nc, siluInline) }
        case .other: for r in 0..<rows { applyActivation(act, input: c + r * ldc, output: c + r * ldc, elements: 0..<nc) }
        }
    }

    @_transparent
    func finish16(_ va: SIMD16<Float>, _ r: Int, _ kind: TileActivation) {
        var x = va + UnsafeRawPointer(bias).load(as: SIMD16<Float>.self)
        let dst = c + r * ldc
        if nc == 16 {
            if let residual { x += load16(residual + r * ldr) }
            store16(activateTile(x, kind, act), dst)
        } else {
            if let residual { x += loadPartial(residual + r * ldr, nc) }
            storePartial(activateTile(x, kind, act), dst, nc)
        }
    }
}

extension TileOut {
    /// Epilogue of a 24-wide tile row: lanes 0..<16 in `va`, 16..<24 in the half vector `vb`.
    @_transparent
    func finish24(_ va: SIMD16<Float>, _ vb: SIMD8<Float>, _ r: Int, _ kind: TileActivation) {
        var x = va + UnsafeRawPointer(bias).load(as: SIMD16<Float>.self)
        var y = vb + UnsafeRawPointer(bias).loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
        let dst = c + r * ldc
        if nc == 24 {
            if let residual {
                let rp = residual + r * ldr
                x += load16(rp); y += UnsafeRawPointer(rp + 16).loadUnaligned(as: SIMD8<Float>.self)
            }
            x = activateTile(x, kind, act); y = activateTile8(y, kind)
            store16(x, dst); UnsafeMutableRawPointer(dst + 16).storeBytes(of: y, as: SIMD8<Float>.self)
        } else {
            var z = SIMD16<Float>(lowHalf: y, highHalf: SIMD8<Float>(repeating: 0))
            if let residual {
                let rp = residual + r * ldr
                x += load16(rp); z += loadPartial(rp + 16, nc - 16)
            }
            x = activateTile(x, kind, act); z = activateTile(z, kind, act)
            store16(x, dst); storePartial(z, dst + 16, nc - 16)
        }
    }
}

/// `activateTile` on a half vector (the last 8 columns of a 24-wide tile).
@_transparent
func activateTile8(_ v: SIMD8<Float>, _ kind: TileActivation) -> SIMD8<Float> {
    switch kind {
    case .none, .silu, .other: v
    case .relu: v.replacing(with: SIMD8<Float>(repeating: 0), where: v .< 0)
    case .relu6: v.replacing(with: SIMD8<Float>(repeating: 0), where: v .< 0)
        .replacing(with: SIMD8<Float>(repeating: 6), where: SIMD8<Float>(repeating: 6) .< v)
    }
}

/// The activations the microkernels are specialized for; the others go through `activate`.
/// With the activation a run-time value, each of a tile's 16 epilogue vectors switched on it,
/// and the exp-based ones were out-of-line calls that made the compiler spill the other rows'
/// accumulators around every call: measured on one core, a K=16 GEMM spent ~21 cycles per
/// output vector on ReLU6 and ~27 on SiLU, against ~28 for the whole unactivated GEMM.
enum TileActivation {
    case none, relu, relu6, silu, other
}

extension Activation {
    var tileActivation: TileActivation {
        switch self {
        case .none: .none
        case .relu: .relu
        case .relu6: .relu6
        case .silu: .silu
        default: .other
        }
    }
}

/// The in-register part of the activation; `kind` is a constant in every specialized tile, so
/// the switch folds away. SiLU and the others are left to `activateStored`: with the tile's 16
/// accumulators live there are no registers for exp's temporaries and constants (inlined in
/// the epilogue SiLU still cost ~26 cycles per vector; over the stored tile, in L1, ~17).
@_transparent
func activateTile(_ v: SIMD16<Float>, _ kind: TileActivation, _ act: Activation) -> SIMD16<Float> {
    switch kind {
    case .none, .silu, .other: v
    case .relu: max16(v, SIMD16<Float>(repeating: 0))
    case .relu6: clamp16(v, SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 6))
    }
}

/// One MR x 32 tile: R rows (a constant after inlining, 1...8), full reduction, then the
/// epilogue. Row r's accumulators are c{r}a, c{r}b; rows >= R are dead code once R is folded.
@_transparent
func tile32(_ R: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    var c0a = SIMD16<Float>(repeating: 0); var c0b = SIMD16<Float>(repeating: 0)
    var c1a = SIMD16<Float>(repeating: 0); var c1b = SIMD16<Float>(repeating: 0)
    var c2a = SIMD16<Float>(repeating: 0); var c2b = SIMD16<Float>(repeating: 0)
    var c3a = SIMD16<Float>(repeating: 0); var c3b = SIMD16<Float>(repeating: 0)
    var c4a = SIMD16<Float>(repeating: 0); var c4b = SIMD16<Float>(repeating: 0)
    var c5a = SIMD16<Float>(repeating: 0); var c5b = SIMD16<Float>(repeating: 0)
    var c6a = SIMD16<Float>(repeating: 0); var c6b = SIMD16<Float>(repeating: 0)
    var c7a = SIMD16<Float>(repeating: 0); var c7b = SIMD16<Float>(repeating: 0)
    var bp = UnsafeRawPointer(b)
    let taps = s.indirection == nil ? 1 : s.taps
    for tap in 0..<taps {
        let a0 = s.row(row, tap)
        let a1 = R > 1 ? s.row(row + 1, tap) : a0
        let a2 = R > 2 ? s.row(row + 2, tap) : a0
        let a3 = R > 3 ? s.row(row + 3, tap) : a0
        let a4 = R > 4 ? s.row(row + 4, tap) : a0
        let a5 = R > 5 ? s.row(row + 5, tap) : a0
        let a6 = R > 6 ? s.row(row + 6, tap) : a0
        let a7 = R > 7 ? s.row(row + 7, tap) : a0
        for k in 0..<kc {
            let w0 = bp.load(as: SIMD16<Float>.self)
            let w1 = bp.load(fromByteOffset: 64, as: SIMD16<Float>.self)
            do { let x0 = SIMD16<Float>(repeating: a0[k]); c0a = c0a.addingProduct(x0, w0); c0b = c0b.addingProduct(x0, w1) }
            if R > 1 { let x1 = SIMD16<Float>(repeating: a1[k]); c1a = c1a.addingProduct(x1, w0); c1b = c1b.addingProduct(x1, w1) }
            if R > 2 { let x2 = SIMD16<Float>(repeating: a2[k]); c2a = c2a.addingProduct(x2, w0); c2b = c2b.addingProduct(x2, w1) }
            if R > 3 { let x3 = SIMD16<Float>(repeating: a3[k]); c3a = c3a.addingProduct(x3, w0); c3b = c3b.addingProduct(x3, w1) }
            if R > 4 { let x4 = SIMD16<Float>(repeating: a4[k]); c4a = c4a.addingProduct(x4, w0); c4b = c4b.addingProduct(x4, w1) }
            if R > 5 { let x5 = SIMD16<Float>(repeating: a5[k]); c5a = c5a.addingProduct(x5, w0); c5b = c5b.addingProduct(x5, w1) }
            if R > 6 { let x6 = SIMD16<Float>(repeating: a6[k]); c6a = c6a.addingProduct(x6, w0); c6b = c6b.addingProduct(x6, w1) }
            if R > 7 { let x7 = SIMD16<Float>(repeating: a7[k]); c7a = c7a.addingProduct(x7, w0); c7b = c7b.addingProduct(x7, w1) }
            bp += 128
        }
    }
    t.finish32(c0a, c0b, 0, kind)
    if R > 1 { t.finish32(c1a, c1b, 1, kind) }
    if R > 2 { t.finish32(c2a, c2b, 2, kind) }
    if R > 3 { t.finish32(c3a, c3b, 3, kind) }
    if R > 4 { t.finish32(c4a, c4b, 4, kind) }
    if R > 5 { t.finish32(c5a, c5b, 5, kind) }
    if R > 6 { t.finish32(c6a, c6b, 6, kind) }
    if R > 7 { t.finish32(c7a, c7b, 7, kind) }
    t.activateStored(R, kind)
}

/// Runs a tile of `mr` (1...8) rows on a 32-wide panel. Each row count and activation kind gets
/// its own specialization, so a short tile does no redundant work, the epilogue has no
/// run-time switch, and every row is computed with the same FMA sequence whatever tile it
/// lands in (thread splits stay bit-exact).
@inline(never)
func kernel32(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) {
    switch t.act.tileActivation {
    case .none: kernel32None(mr, s, row, kc, b, t)
    case .relu: kernel32Relu(mr, s, row, kc, b, t)
    case .relu6: kernel32Relu6(mr, s, row, kc, b, t)
    case .silu: kernel32Silu(mr, s, row, kc, b, t)
    case .other: kernel32Other(mr, s, row, kc, b, t)
    }
}

@inline(never) func kernel32None(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows32(mr, s, row, kc, b, t, .none) }
@inline(never) func kernel32Relu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows32(mr, s, row, kc, b, t, .relu) }
@inline(never) func kernel32Relu6(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows32(mr, s, row, kc, b, t, .relu6) }
@inline(never) func kernel32Silu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows32(mr, s, row, kc, b, t, .silu) }
@inline(never) func kernel32Other(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows32(mr, s, row, kc, b, t, .other) }

@_transparent
func rows32(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    switch mr {
    case 8: tile32(8, s, row, kc, b, t, kind)
    case 7: tile32(7, s, row, kc, b, t, kind)
    case 6: tile32(6, s, row, kc, b, t, kind)
    case 5: tile32(5, s, row, kc, b, t, kind)
    case 4: tile32(4, s, row, kc, b, t, kind)
    case 3: tile32(3, s, row, kc, b, t, kind)
    case 2: tile32(2, s, row, kc, b, t, kind)
    default: tile32(1, s, row, kc, b, t, kind)
    }
}

/// One MR x 24 tile, for panels with 17...24 valid columns (e.g. the 24-channel projections of
/// MobileNetV2 and EfficientNet): as `tile32`, but columns 16..<24 accumulate in half (ymm)
/// vectors, which Zen 4 issues two per cycle, so the 8 padding columns cost nothing. Measured
/// on one core, K=144 N=24 over 3136 rows: 0.265 ms with the 32-wide tile, 0.218 with this one.
@_transparent
func tile24(_ R: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    var c0a = SIMD16<Float>(repeating: 0); var c0b = SIMD8<Float>(repeating: 0)
    var c1a = SIMD16<Float>(repeating: 0); var c1b = SIMD8<Float>(repeating: 0)
    var c2a = SIMD16<Float>(repeating: 0); var c2b = SIMD8<Float>(repeating: 0)
    var c3a = SIMD16<Float>(repeating: 0); var c3b = SIMD8<Float>(repeating: 0)
    var c4a = SIMD16<Float>(repeating: 0); var c4b = SIMD8<Float>(repeating: 0)
    var c5a = SIMD16<Float>(repeating: 0); var c5b = SIMD8<Float>(repeating: 0)
    var c6a = SIMD16<Float>(repeating: 0); var c6b = SIMD8<Float>(repeating: 0)
    var c7a = SIMD16<Float>(repeating: 0); var c7b = SIMD8<Float>(repeating: 0)
    var bp = UnsafeRawPointer(b)
    let taps = s.indirection == nil ? 1 : s.taps
    for tap in 0..<taps {
        let a0 = s.row(row, tap)
        let a1 = R > 1 ? s.row(row + 1, tap) : a0
        let a2 = R > 2 ? s.row(row + 2, tap) : a0
        let a3 = R > 3 ? s.row(row + 3, tap) : a0
        let a4 = R > 4 ? s.row(row + 4, tap) : a0
        let a5 = R > 5 ? s.row(row + 5, tap) : a0
        let a6 = R > 6 ? s.row(row + 6, tap) : a0
        let a7 = R > 7 ? s.row(row + 7, tap) : a0
        for k in 0..<kc {
            let w0 = bp.load(as: SIMD16<Float>.self)
            let w1 = bp.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
            do { let x0 = a0[k]; c0a = c0a.addingProduct(SIMD16(repeating: x0), w0); c0b = c0b.addingProduct(SIMD8(repeating: x0), w1) }
            if R > 1 { let x1 = a1[k]; c1a = c1a.addingProduct(SIMD16(repeating: x1), w0); c1b = c1b.addingProduct(SIMD8(repeating: x1), w1) }
            if R > 2 { let x2 = a2[k]; c2a = c2a.addingProduct(SIMD16(repeating: x2), w0); c2b = c2b.addingProduct(SIMD8(repeating: x2), w1) }
            if R > 3 { let x3 = a3[k]; c3a = c3a.addingProduct(SIMD16(repeating: x3), w0); c3b = c3b.addingProduct(SIMD8(repeating: x3), w1) }
            if R > 4 { let x4 = a4[k]; c4a = c4a.addingProduct(SIMD16(repeating: x4), w0); c4b = c4b.addingProduct(SIMD8(repeating: x4), w1) }
            if R > 5 { let x5 = a5[k]; c5a = c5a.addingProduct(SIMD16(repeating: x5), w0); c5b = c5b.addingProduct(SIMD8(repeating: x5), w1) }
            if R > 6 { let x6 = a6[k]; c6a = c6a.addingProduct(SIMD16(repeating: x6), w0); c6b = c6b.addingProduct(SIMD8(repeating: x6), w1) }
            if R > 7 { let x7 = a7[k]; c7a = c7a.addingProduct(SIMD16(repeating: x7), w0); c7b = c7b.addingProduct(SIMD8(repeating: x7), w1) }
            bp += 128
        }
    }
    t.finish24(c0a, c0b, 0, kind)
    if R > 1 { t.finish24(c1a, c1b, 1, kind) }
    if R > 2 { t.finish24(c2a, c2b, 2, kind) }
    if R > 3 { t.finish24(c3a, c3b, 3, kind) }
    if R > 4 { t.finish24(c4a, c4b, 4, kind) }
    if R > 5 { t.finish24(c5a, c5b, 5, kind) }
    if R > 6 { t.finish24(c6a, c6b, 6, kind) }
    if R > 7 { t.finish24(c7a, c7b, 7, kind) }
    t.activateStored(R, kind)
}

@inline(never)
func kernel24(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) {
    switch t.act.tileActivation {
    case .none: kernel24None(mr, s, row, kc, b, t)
    case .relu: kernel24Relu(mr, s, row, kc, b, t)
    case .relu6: kernel24Relu6(mr, s, row, kc, b, t)
    case .silu: kernel24Silu(mr, s, row, kc, b, t)
    case .other: kernel24Other(mr, s, row, kc, b, t)
    }
}

@inline(never) func kernel24None(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows24(mr, s, row, kc, b, t, .none) }
@inline(never) func kernel24Relu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows24(mr, s, row, kc, b, t, .relu) }
@inline(never) func kernel24Relu6(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows24(mr, s, row, kc, b, t, .relu6) }
@inline(never) func kernel24Silu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows24(mr, s, row, kc, b, t, .silu) }
@inline(never) func kernel24Other(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows24(mr, s, row, kc, b, t, .other) }

@_transparent
func rows24(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    switch mr {
    case 8: tile24(8, s, row, kc, b, t, kind)
    case 7: tile24(7, s, row, kc, b, t, kind)
    case 6: tile24(6, s, row, kc, b, t, kind)
    case 5: tile24(5, s, row, kc, b, t, kind)
    case 4: tile24(4, s, row, kc, b, t, kind)
    case 3: tile24(3, s, row, kc, b, t, kind)
    case 2: tile24(2, s, row, kc, b, t, kind)
    default: tile24(1, s, row, kc, b, t, kind)
    }
}

/// One MR x 16 tile: R rows (a constant after inlining, 1...8), full reduction, then the
/// epilogue. Row r's accumulators are c{r}a; rows >= R are dead code once R is folded.
@_transparent
func tile16(_ R: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    var c0a = SIMD16<Float>(repeating: 0)
    var c1a = SIMD16<Float>(repeating: 0)
    var c2a = SIMD16<Float>(repeating: 0)
    var c3a = SIMD16<Float>(repeating: 0)
    var c4a = SIMD16<Float>(repeating: 0)
    var c5a = SIMD16<Float>(repeating: 0)
    var c6a = SIMD16<Float>(repeating: 0)
    var c7a = SIMD16<Float>(repeating: 0)
    var bp = UnsafeRawPointer(b)
    let taps = s.indirection == nil ? 1 : s.taps
    for tap in 0..<taps {
        let a0 = s.row(row, tap)
        let a1 = R > 1 ? s.row(row + 1, tap) : a0
        let a2 = R > 2 ? s.row(row + 2, tap) : a0
        let a3 = R > 3 ? s.row(row + 3, tap) : a0
        let a4 = R > 4 ? s.row(row + 4, tap) : a0
        let a5 = R > 5 ? s.row(row + 5, tap) : a0
        let a6 = R > 6 ? s.row(row + 6, tap) : a0
        let a7 = R > 7 ? s.row(row + 7, tap) : a0
        for k in 0..<kc {
            let w0 = bp.load(as: SIMD16<Float>.self)
            do { let x0 = SIMD16<Float>(repeating: a0[k]); c0a = c0a.addingProduct(x0, w0) }
            if R > 1 { let x1 = SIMD16<Float>(repeating: a1[k]); c1a = c1a.addingProduct(x1, w0) }
            if R > 2 { let x2 = SIMD16<Float>(repeating: a2[k]); c2a = c2a.addingProduct(x2, w0) }
            if R > 3 { let x3 = SIMD16<Float>(repeating: a3[k]); c3a = c3a.addingProduct(x3, w0) }
            if R > 4 { let x4 = SIMD16<Float>(repeating: a4[k]); c4a = c4a.addingProduct(x4, w0) }
            if R > 5 { let x5 = SIMD16<Float>(repeating: a5[k]); c5a = c5a.addingProduct(x5, w0) }
            if R > 6 { let x6 = SIMD16<Float>(repeating: a6[k]); c6a = c6a.addingProduct(x6, w0) }
            if R > 7 { let x7 = SIMD16<Float>(repeating: a7[k]); c7a = c7a.addingProduct(x7, w0) }
            bp += 64
        }
    }
    t.finish16(c0a, 0, kind)
    if R > 1 { t.finish16(c1a, 1, kind) }
    if R > 2 { t.finish16(c2a, 2, kind) }
    if R > 3 { t.finish16(c3a, 3, kind) }
    if R > 4 { t.finish16(c4a, 4, kind) }
    if R > 5 { t.finish16(c5a, 5, kind) }
    if R > 6 { t.finish16(c6a, 6, kind) }
    if R > 7 { t.finish16(c7a, 7, kind) }
    t.activateStored(R, kind)
}

/// Runs a tile of `mr` (1...8) rows on a 16-wide panel, specialized like `kernel32`.
@inline(never)
func kernel16(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) {
    switch t.act.tileActivation {
    case .none: kernel16None(mr, s, row, kc, b, t)
    case .relu: kernel16Relu(mr, s, row, kc, b, t)
    case .relu6: kernel16Relu6(mr, s, row, kc, b, t)
    case .silu: kernel16Silu(mr, s, row, kc, b, t)
    case .other: kernel16Other(mr, s, row, kc, b, t)
    }
}

@inline(never) func kernel16None(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows16(mr, s, row, kc, b, t, .none) }
@inline(never) func kernel16Relu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows16(mr, s, row, kc, b, t, .relu) }
@inline(never) func kernel16Relu6(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows16(mr, s, row, kc, b, t, .relu6) }
@inline(never) func kernel16Silu(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows16(mr, s, row, kc, b, t, .silu) }
@inline(never) func kernel16Other(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut) { rows16(mr, s, row, kc, b, t, .other) }

@_transparent
func rows16(_ mr: Int, _ s: ASource, _ row: Int, _ kc: Int, _ b: UnsafePointer<Float>, _ t: TileOut, _ kind: TileActivation) {
    switch mr {
    case 8: tile16(8, s, row, kc, b, t, kind)
    case 7: tile16(7, s, row, kc, b, t, kind)
    case 6: tile16(6, s, row, kc, b, t, kind)
    case 5: tile16(5, s, row, kc, b, t, kind)
    case 4: tile16(4, s, row, kc, b, t, kind)
    case 3: tile16(3, s, row, kc, b, t, kind)
    case 2: tile16(2, s, row, kc, b, t, kind)
    default: tile16(1, s, row, kc, b, t, kind)
    }
}

/// L2 budget for one block of B panels (half of Zen 4's 1 MiB L2).
let panelBlockBytes = 512 * 1024

/// Sweeps rows x panels of one group in cache-friendly order (see file comment).
@inline(__always)
func runTiles(_ s: ASource, kc: Int, rows: Range<Int>, b: PackedMatrix, group: Int, panels: Range<Int>,
              c: UnsafeMutablePointer<Float>, ldc: Int, epilogue: Epilogue) {
    let block = max(1, panelBlockBytes / (b.k * gemmNR * 4))
    var p0 = panels.lowerBound
    while p0 < panels.upperBound {
        let p1 = min(panels.upperBound, p0 + block)
        var i = rows.lowerBound
        while i < rows.upperBound {
            let mr = min(gemmMR, rows.upperBound - i)
            for p in p0..<p1 {
                let col = p * gemmNR
                let t = TileOut(c: c + i * ldc + col, ldc: ldc, bias: b.panelBias(group, p),
                                residual: epilogue.residual.map { $0 + i * epilogue.residualStride + col },
                                ldr: epilogue.residualStride, nc: b.columns(p), act: epilogue.activation)
                if t.nc > 24 {
                    kernel32(mr, s, i, kc, b.panel(group, p), t)
                } else if t.nc > 16 {
                    kernel24(mr, s, i, kc, b.panel(group, p), t)
                } else {
                    kernel16(mr, s, i, kc, b.panel(group, p), t)
                }
            }
            i += gemmMR
        }
        p0 = p1
    }
}

/// C = act(A B + bias + residual) for rows `rows` of A/C and column panels `panels`
/// (default: all `weights.panels` panels of 32 columns).
///
/// - a: row i of A is `a + i * lda` (`weights.k` floats). For group g of a grouped conv, pass
///   `a` already offset by the group's first input channel.
/// - c: row i of C is `c + i * ldc`, columns `0..<weights.n` (offset by the group's first
///   output channel for grouped convs). Residual rows follow the same column offsets.
/// - Splitting `rows` or `panels` over threads gives bit-identical results.
public func gemm(a: UnsafePointer<Float>, lda: Int, weights: PackedMatrix, group: Int = 0,
                 c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, panels: Range<Int>? = nil,
                 epilogue: Epilogue = Epilogue()) {
    let s = ASource(a: a, lda: lda, indirection: nil, taps: 1, offset: 0, zero: a)
    runTiles(s, kc: weights.k, rows: rows, b: weights, group: group, panels: panels ?? 0..<weights.panels,
             c: c, ldc: ldc, epilogue: epilogue)
}

/// Indirect GEMM: row i's reduction is `taps` segments of `weights.k / taps` floats, segment t
/// read from `indirection[i * taps + t]` (+ `offset` unless it is `zero`).
public func igemm(indirection: UnsafePointer<UnsafePointer<Float>>, taps: Int, offset: Int,
                  zero: UnsafePointer<Float>, weights: PackedMatrix, group: Int = 0,
                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, panels: Range<Int>? = nil,
                  epilogue: Epilogue = Epilogue()) {
    precondition(weights.k % taps == 0)
    let s = ASource(a: zero, lda: 0, indirection: indirection, taps: taps, offset: offset, zero: zero)
    runTiles(s, kc: weights.k / taps, rows: rows, b: weights, group: group, panels: panels ?? 0..<weights.panels,
             c: c, ldc: ldc, epilogue: epilogue)
}

/// Fully connected layer, y[b, :] = act(x[b, :] W^T + bias), with W packed by
/// `PackedWeights.linear`. `rows` is a range of batch rows; `panels` a range of 32-wide
/// output-feature panels (split these when the batch is small).
public func linear(input: UnsafePointer<Float>, weights: PackedMatrix, output: UnsafeMutablePointer<Float>,
                   rows: Range<Int>, panels: Range<Int>? = nil, epilogue: Epilogue = Epilogue()) {
    gemm(a: input, lda: weights.k, weights: weights, c: output, ldc: weights.n, rows: rows,
         panels: panels, epilogue: epilogue)
}
