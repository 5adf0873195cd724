// The GEMM of training: C (+)= A · B with B read straight from row-major memory (no packing)
// and A read with arbitrary strides or through a convolution's indirection table.
//
// Why a second GEMM next to Kernels.gemm: the inference GEMM wants B prepacked once at plan
// time, but in training the weights change every step and backward needs the transposed
// products (dX = dY·W, dW = dYᵀ·X, dW_conv = im2col(X)ᵀ·dY). Reading B rows in place and A
// with strides covers all of them without transposing data:
//   - NN: A row-major (ai = lda, ak = 1): linear forward with Wᵀ, linear dX = dY·W.
//   - TN: A column-major (ai = 1, ak = lda): linear dW = dYᵀ·X.
//   - indirect: A[i, p] = table[p·taps + tap(i)][ci(i)], i = (tap, ci): conv dW, the reduction
//     running over output pixels, with no im2col buffer.
// The register tile is the one of Kernels.gemm (8 rows × 32 columns, 16 zmm accumulators),
// so the FMA pipe stays busy. The reduction is cut into chunks of `gemmChunk` (C is re-loaded
// and added to between chunks) so A and B of a chunk stay in L2 for every tile of a thread.
// Work items are (column block, row tile) pairs; each is computed with the same operation
// order whatever thread gets it, so results do not depend on the thread count.

import Kernels

/// Reduction chunk (rows of B) kept in cache across the tiles of one thread.
let gemmChunk = 256

/// How the GEMM reads A[i, k] (see file comment).
struct AView: @unchecked Sendable {
    var a: UnsafePointer<Float>
    var ai: Int
    var ak: Int
    /// Indirect mode: `taps` pointers per reduction index k; row i reads tap `tapOf[i]`,
    /// element `ciOf[i]`.
    var table: UnsafePointer<UnsafePointer<Float>>?
    var taps: Int = 0
    var tapOf: UnsafePointer<Int32>?
    var ciOf: UnsafePointer<Int32>?

    static func strided(_ a: UnsafePointer<Float>, ai: Int, ak: Int) -> AView {
        AView(a: a, ai: ai, ak: ak, table: nil)
    }
}

@_transparent
func storeRow(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ two: Bool, _ c: UnsafeMutablePointer<Float>, _ nc: Int, _ acc: Bool) {
    if two {
        if nc == 32 {
            if acc { store16(load16(c) + v0, c); store16(load16(c + 16) + v1, c + 16) } else { store16(v0, c); store16(v1, c + 16) }
        } else {
            if acc { store16(load16(c) + v0, c); stp(ldp(c + 16, nc - 16) + v1, c + 16, nc - 16) } else { store16(v0, c); stp(v1, c + 16, nc - 16) }
        }
    } else {
        if acc { stp(ldp(c, nc) + v0, c, nc) } else { stp(v0, c, nc) }
    }
}

/// One R × (16 or 32) tile over reduction indices k0..<k1. `mode` 0: strided A; 1: indirect.
/// R, two and mode are constants after inlining.
@_transparent
func gemmTile(_ R: Int, _ two: Bool, _ mode: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int,
              _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    let z = SIMD16<Float>(repeating: 0)
    var c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z
    var c4a = z, c4b = z, c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z
    // Strided: row pointers; indirect: (tap, ci) per row.
    let a0 = A.a + i0 * A.ai, ai = A.ai, ak = A.ak
    var t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0
    var e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0, e6 = 0, e7 = 0
    if mode == 1, let tp = A.tapOf, let cp = A.ciOf {
        t0 = Int(tp[i0]); e0 = Int(cp[i0])
        if R > 1 { t1 = Int(tp[i0 + 1]); e1 = Int(cp[i0 + 1]) }
        if R > 2 { t2 = Int(tp[i0 + 2]); e2 = Int(cp[i0 + 2]) }
        if R > 3 { t3 = Int(tp[i0 + 3]); e3 = Int(cp[i0 + 3]) }
        if R > 4 { t4 = Int(tp[i0 + 4]); e4 = Int(cp[i0 + 4]) }
        if R > 5 { t5 = Int(tp[i0 + 5]); e5 = Int(cp[i0 + 5]) }
        if R > 6 { t6 = Int(tp[i0 + 6]); e6 = Int(cp[i0 + 6]) }
        if R > 7 { t7 = Int(tp[i0 + 7]); e7 = Int(cp[i0 + 7]) }
    }
    let table = A.table ?? UnsafePointer(bitPattern: 64)!
    let taps = A.taps
    var bp = b + k0 * ldb
    for k in k0..<k1 {
        let w0 = load16(bp)
        let w1 = two ? load16(bp + 16) : z
        bp += ldb
        do { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t0][e0]) : SIMD16<Float>(repeating: a0[0 * ai + k * ak]); c0a = c0a.addingProduct(v, w0); if two { c0b = c0b.addingProduct(v, w1) } }
        if R > 1 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t1][e1]) : SIMD16<Float>(repeating: a0[1 * ai + k * ak]); c1a = c1a.addingProduct(v, w0); if two { c1b = c1b.addingProduct(v, w1) } }
        if R > 2 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t2][e2]) : SIMD16<Float>(repeating: a0[2 * ai + k * ak]); c2a = c2a.addingProduct(v, w0); if two { c2b = c2b.addingProduct(v, w1) } }
        if R > 3 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t3][e3]) : SIMD16<Float>(repeating: a0[3 * ai + k * ak]); c3a = c3a.addingProduct(v, w0); if two { c3b = c3b.addingProduct(v, w1) } }
        if R > 4 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t4][e4]) : SIMD16<Float>(repeating: a0[4 * ai + k * ak]); c4a = c4a.addingProduct(v, w0); if two { c4b = c4b.addingProduct(v, w1) } }
        if R > 5 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t5][e5]) : SIMD16<Float>(repeating: a0[5 * ai + k * ak]); c5a = c5a.addingProduct(v, w0); if two { c5b = c5b.addingProduct(v, w1) } }
        if R > 6 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t6][e6]) : SIMD16<Float>(repeating: a0[6 * ai + k * ak]); c6a = c6a.addingProduct(v, w0); if two { c6b = c6b.addingProduct(v, w1) } }
        if R > 7 { let v = mode == 1 ? SIMD16<Float>(repeating: table[k * taps + t7][e7]) : SIMD16<Float>(repeating: a0[7 * ai + k * ak]); c7a = c7a.addingProduct(v, w0); if two { c7b = c7b.addingProduct(v, w1) } }
    }
    let cr = c + i0 * ldc
    storeRow(c0a, c0b, two, cr, nc, acc)
    if R > 1 { storeRow(c1a, c1b, two, cr + ldc, nc, acc) }
    if R > 2 { storeRow(c2a, c2b, two, cr + 2 * ldc, nc, acc) }
    if R > 3 { storeRow(c3a, c3b, two, cr + 3 * ldc, nc, acc) }
    if R > 4 { storeRow(c4a, c4b, two, cr + 4 * ldc, nc, acc) }
    if R > 5 { storeRow(c5a, c5b, two, cr + 5 * ldc, nc, acc) }
    if R > 6 { storeRow(c6a, c6b, two, cr + 6 * ldc, nc, acc) }
    if R > 7 { storeRow(c7a, c7b, two, cr + 7 * ldc, nc, acc) }
}

@_transparent
func tileRows(_ R: Int, _ two: Bool, _ mode: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int,
              _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    switch R {
    case 8: gemmTile(8, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 7: gemmTile(7, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 6: gemmTile(6, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 5: gemmTile(5, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 4: gemmTile(4, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 3: gemmTile(3, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    case 2: gemmTile(2, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    default: gemmTile(1, two, mode, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
    }
}

/// Strided A, specialized for unit stride along k (row-major A), along i (A transposed), or
/// neither (each wrapper sets the unit stride again, so the constant is visible inside it). Each (stride case, width) pair is its own small function: the tile helpers are
/// force-inlined (`@_transparent`), and with all of them in one function the optimizer stopped
/// inlining inside it (the same limit as in `Kernels/Gemm.swift`), leaving `tileRows` an
/// out-of-line call with `two` and `mode` as run-time values in its inner loop.
@inline(never)
func tileStrided(_ R: Int, _ two: Bool, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int,
                 _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    if A.ak == 1 {
        if two { tileRowMajor32(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) } else { tileRowMajor16(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) }
    } else if A.ai == 1 {
        if two { tileTransposed32(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) } else { tileTransposed16(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) }
    } else {
        if two { tileGeneral32(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) } else { tileGeneral16(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) }
    }
}

@inline(never) func tileRowMajor32(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    var v = A; v.ak = 1
    tileRows(R, true, 0, v, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileRowMajor16(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    var v = A; v.ak = 1
    tileRows(R, false, 0, v, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileTransposed32(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    var v = A; v.ai = 1
    tileRows(R, true, 0, v, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileTransposed16(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    var v = A; v.ai = 1
    tileRows(R, false, 0, v, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileGeneral32(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    tileRows(R, true, 0, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileGeneral16(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    tileRows(R, false, 0, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}

@inline(never)
func tileIndirect(_ R: Int, _ two: Bool, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int,
                  _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    if two { tileIndirect32(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) } else { tileIndirect16(R, A, i0, k0, k1, b, ldb, c, ldc, nc, acc) }
}

@inline(never) func tileIndirect32(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    tileRows(R, true, 1, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}
@inline(never) func tileIndirect16(_ R: Int, _ A: AView, _ i0: Int, _ k0: Int, _ k1: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ nc: Int, _ acc: Bool) {
    tileRows(R, false, 1, A, i0, k0, k1, b, ldb, c, ldc, nc, acc)
}

/// C[i, j] = (C[i, j] if accumulate) + Σ_k A[i, k] B[k, j] for i < m, j < n, k < kTotal.
/// B[k, j] is `b[k * ldb + j]`, C[i, j] is `c[i * ldc + j]`. Thread count does not change
/// the result.
func trainingGemm(m: Int, n: Int, k kTotal: Int, a A: AView, b: UnsafePointer<Float>, ldb: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int) {
    if m <= 0 || n <= 0 { return }
    let rowTiles = (m + 7) / 8
    let colBlocks = (n + 31) / 32
    if kTotal <= 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    let work = m * n * kTotal
    let bs = SendablePointer(b), cs = SendableMutablePointer(c)
    parallel(rowTiles * colBlocks, threads: threads, work: work / 8) { tasks in
        let b = bs.pointer, c = cs.pointer
        // Zero-padded copy of a partial column block so full-width loads stay in bounds.
        var scratch: UnsafeMutablePointer<Float>? = nil
        defer { scratch?.deallocate() }
        var k0 = 0
        while k0 < kTotal {
            let k1 = min(kTotal, k0 + gemmChunk)
            var packedBlock = -1
            for task in tasks {
                let cb = task / rowTiles, rt = task % rowTiles
                let j0 = cb * 32, nc = min(32, n - j0), two = nc > 16, width = two ? 32 : 16
                let i0 = rt * 8, rows = min(8, m - i0)
                var bp = b + j0, ldbUsed = ldb
                if nc < width {
                    if scratch == nil { scratch = .allocate(capacity: gemmChunk * 32) }
                    let s = scratch!
                    if packedBlock != cb {
                        for kk in k0..<k1 {
                            let row = s + (kk - k0) * width
                            row.update(repeating: 0, count: width)
                            row.update(from: b + kk * ldb + j0, count: nc)
                        }
                        packedBlock = cb
                    }
                    bp = UnsafePointer(s) - k0 * width
                    ldbUsed = width
                }
                let acc = accumulate || k0 > 0
                if A.table != nil {
                    tileIndirect(rows, two, A, i0, k0, k1, bp, ldbUsed, c + j0, ldc, nc, acc)
                } else {
                    tileStrided(rows, two, A, i0, k0, k1, bp, ldbUsed, c + j0, ldc, nc, acc)
                }
            }
            k0 = k1
        }
    }
}

// The weight gradient of a conv with whole 32-channel blocks per tap, transposed:
//   dWᵀ[co, (tap, ci)] = Σ_p dY[p, co] · X[p ⊕ tap, ci]
// A = dYᵀ (8 consecutive output channels of a dY row broadcast per pixel), B read through the
// forward indirection table: for a 32-column block (one tap, 32 channels) pixel p's B row is
// 32 contiguous input channels at table[p · taps + tap]. One table load per reduction step
// instead of one per tile row (the indirect-A mode above), and no zero padding of B blocks.

/// One R × 32 tile: rows i0..<i0+R of A (A[i, p] = a[p · lda + i]), one tap's 32 channels
/// from `offset` on, reduction indices k0..<k1.
@inline(__always)
func tableTile(_ R: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ table: UnsafePointer<UnsafePointer<Float>>, _ taps: Int,
               _ offset: Int, _ k0: Int, _ k1: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool) {
    let z = SIMD16<Float>(repeating: 0)
    var c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z
    var c4a = z, c4b = z, c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z
    var ap = a + k0 * lda
    var tp = table + k0 * taps
    for _ in k0..<k1 {
        let row = tp[0] + offset
        let w0 = load16(row), w1 = load16(row + 16)
        do { let v = SIMD16<Float>(repeating: ap[0]); c0a = c0a.addingProduct(v, w0); c0b = c0b.addingProduct(v, w1) }
        if R > 1 { let v = SIMD16<Float>(repeating: ap[1]); c1a = c1a.addingProduct(v, w0); c1b = c1b.addingProduct(v, w1) }
        if R > 2 { let v = SIMD16<Float>(repeating: ap[2]); c2a = c2a.addingProduct(v, w0); c2b = c2b.addingProduct(v, w1) }
        if R > 3 { let v = SIMD16<Float>(repeating: ap[3]); c3a = c3a.addingProduct(v, w0); c3b = c3b.addingProduct(v, w1) }
        if R > 4 { let v = SIMD16<Float>(repeating: ap[4]); c4a = c4a.addingProduct(v, w0); c4b = c4b.addingProduct(v, w1) }
        if R > 5 { let v = SIMD16<Float>(repeating: ap[5]); c5a = c5a.addingProduct(v, w0); c5b = c5b.addingProduct(v, w1) }
        if R > 6 { let v = SIMD16<Float>(repeating: ap[6]); c6a = c6a.addingProduct(v, w0); c6b = c6b.addingProduct(v, w1) }
        if R > 7 { let v = SIMD16<Float>(repeating: ap[7]); c7a = c7a.addingProduct(v, w0); c7b = c7b.addingProduct(v, w1) }
        ap += lda; tp += taps
    }
    storeRow(c0a, c0b, true, c, 32, acc)
    if R > 1 { storeRow(c1a, c1b, true, c + ldc, 32, acc) }
    if R > 2 { storeRow(c2a, c2b, true, c + 2 * ldc, 32, acc) }
    if R > 3 { storeRow(c3a, c3b, true, c + 3 * ldc, 32, acc) }
    if R > 4 { storeRow(c4a, c4b, true, c + 4 * ldc, 32, acc) }
    if R > 5 { storeRow(c5a, c5b, true, c + 5 * ldc, 32, acc) }
    if R > 6 { storeRow(c6a, c6b, true, c + 6 * ldc, 32, acc) }
    if R > 7 { storeRow(c7a, c7b, true, c + 7 * ldc, 32, acc) }
}

@inline(never)
func tableTileRows(_ R: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ table: UnsafePointer<UnsafePointer<Float>>, _ taps: Int,
                   _ offset: Int, _ k0: Int, _ k1: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ acc: Bool) {
    switch R {
    case 8: tableTile(8, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 7: tableTile(7, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 6: tableTile(6, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 5: tableTile(5, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 4: tableTile(4, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 3: tableTile(3, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    case 2: tableTile(2, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    default: tableTile(1, a, lda, table, taps, offset, k0, k1, c, ldc, acc)
    }
}

/// C[i, t · channels + ci] = Σ_p a[p · lda + i] · table[p · taps + t][offset + ci] for i < m,
/// t < taps, ci < channels (a multiple of 32), p < k. Every table pointer must have
/// `offset + channels` readable floats. The thread count does not change the result.
func tableGemm(m: Int, k kTotal: Int, a: UnsafePointer<Float>, lda: Int, table: UnsafePointer<UnsafePointer<Float>>,
               taps: Int, channels: Int, offset: Int, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
    let n = taps * channels
    if m <= 0 || n <= 0 || channels % 32 != 0 { return }
    if kTotal <= 0 {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        return
    }
    let rowTiles = (m + 7) / 8, colBlocks = n / 32, blocksPerTap = channels / 32
    let as_ = SendablePointer(a), cs = SendableMutablePointer(c), ts = TablePointer(UnsafeMutablePointer(mutating: table))
    parallel(rowTiles * colBlocks, threads: threads, work: m * n * kTotal / 8) { tasks in
        var k0 = 0
        while k0 < kTotal {
            let k1 = min(kTotal, k0 + gemmChunk)
            for task in tasks {
                let cb = task / rowTiles, rt = task % rowTiles
                let tap = cb / blocksPerTap, ci0 = (cb % blocksPerTap) * 32
                let i0 = rt * 8
                tableTileRows(min(8, m - i0), as_.pointer + i0, lda, ts.pointer + tap, taps, offset + ci0, k0, k1,
                              cs.pointer + i0 * ldc + cb * 32, ldc, k0 > 0)
            }
            k0 = k1
        }
    }
}

// The data gradient of a dense conv as a GEMM over output pixels whose tiles are added
// straight into dX: for output pixels p (rows) and one tap's 32 input channels (columns),
//   T[p, ci] = Σ_co dY[p, co] · W[co, (tap, ci)]
// is the contribution of p through that tap to input pixel p ⊕ tap. No multiply-add is spent
// on the zero taps of border pixels (which the igemm over input pixels computes) and no
// column matrix is written; the tile goes from registers into dX.

/// One R × 32 tile: rows r of A at `a + rows[r]·lda` (dY rows, R ≤ 8), B block `b` (row k at
/// b + k·ldb), k < kc; row r of the result added into `out[r]` (skipped when nil).
@inline(__always)
func scatterTile(_ R: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ kc: Int,
                 _ out: UnsafePointer<UnsafeMutablePointer<Float>?>) {
    let z = SIMD16<Float>(repeating: 0)
    var c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z
    var c4a = z, c4b = z, c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z
    var bp = b, ap = a
    for _ in 0..<kc {
        let w0 = load16(bp), w1 = load16(bp + 16)
        do { let v = SIMD16<Float>(repeating: ap[0]); c0a = c0a.addingProduct(v, w0); c0b = c0b.addingProduct(v, w1) }
        if R > 1 { let v = SIMD16<Float>(repeating: ap[lda]); c1a = c1a.addingProduct(v, w0); c1b = c1b.addingProduct(v, w1) }
        if R > 2 { let v = SIMD16<Float>(repeating: ap[2 * lda]); c2a = c2a.addingProduct(v, w0); c2b = c2b.addingProduct(v, w1) }
        if R > 3 { let v = SIMD16<Float>(repeating: ap[3 * lda]); c3a = c3a.addingProduct(v, w0); c3b = c3b.addingProduct(v, w1) }
        if R > 4 { let v = SIMD16<Float>(repeating: ap[4 * lda]); c4a = c4a.addingProduct(v, w0); c4b = c4b.addingProduct(v, w1) }
        if R > 5 { let v = SIMD16<Float>(repeating: ap[5 * lda]); c5a = c5a.addingProduct(v, w0); c5b = c5b.addingProduct(v, w1) }
        if R > 6 { let v = SIMD16<Float>(repeating: ap[6 * lda]); c6a = c6a.addingProduct(v, w0); c6b = c6b.addingProduct(v, w1) }
        if R > 7 { let v = SIMD16<Float>(repeating: ap[7 * lda]); c7a = c7a.addingProduct(v, w0); c7b = c7b.addingProduct(v, w1) }
        bp += ldb; ap += 1
    }
    @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
        if let d = out[r] { store16(load16(d) + v0, d); store16(load16(d + 16) + v1, d + 16) }
    }
    put(0, c0a, c0b)
    if R > 1 { put(1, c1a, c1b) }
    if R > 2 { put(2, c2a, c2b) }
    if R > 3 { put(3, c3a, c3b) }
    if R > 4 { put(4, c4a, c4b) }
    if R > 5 { put(5, c5a, c5b) }
    if R > 6 { put(6, c6a, c6b) }
    if R > 7 { put(7, c7a, c7b) }
}

@inline(never)
func scatterTileRows(_ R: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ kc: Int,
                     _ out: UnsafePointer<UnsafeMutablePointer<Float>?>) {
    switch R {
    case 8: scatterTile(8, a, lda, b, ldb, kc, out)
    case 7: scatterTile(7, a, lda, b, ldb, kc, out)
    case 6: scatterTile(6, a, lda, b, ldb, kc, out)
    case 5: scatterTile(5, a, lda, b, ldb, kc, out)
    case 4: scatterTile(4, a, lda, b, ldb, kc, out)
    case 3: scatterTile(3, a, lda, b, ldb, kc, out)
    case 2: scatterTile(2, a, lda, b, ldb, kc, out)
    default: scatterTile(1, a, lda, b, ldb, kc, out)
    }
}
