// C (+)= A · Bᵀ with both operands row-major along the reduction: the forward of a linear layer,
// y = x · Wᵀ with W in PyTorch's [out, in] layout, without transposing or packing W (which
// changes after every optimizer step; re-transposing fc1's 9216 × 128 weights cost more than
// the product itself).
//
// Register tile: 6 rows of A × 4 rows of B, 24 accumulators of 16 lanes, each a partial dot
// product over k ≡ lane (mod 16); per 16 k: 10 vector loads, 24 FMAs. Missing rows of a
// ragged tile read a valid row and are not stored. The reduction runs in chunks of
// `dotChunk` (A and B chunks stay in L2, the 4 B rows of a tile in L1 across the A tiles);
// after each chunk the accumulators are summed across lanes (a fixed tree) and added to C.
// Every C element is therefore computed by the same operation sequence whatever tile or
// thread computes it: results do not depend on the thread count. Threads split the B rows.

import Kernels

/// Reduction chunk of `dotGemm` (floats of a row).
let dotChunk = 1024

/// Sum of the 16 lanes, as a fixed tree.
@inline(__always)
func laneSum(_ v: SIMD16<Float>) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

/// One 6 × 4 tile over k0..<k1 (rows i0..<i0+ri of A, j0..<j0+rj of B), added into C.
@inline(__always)
func dotTile(_ a: UnsafePointer<Float>, _ lda: Int, _ i0: Int, _ ri: Int,
             _ b: UnsafePointer<Float>, _ ldb: Int, _ j0: Int, _ rj: Int,
             _ k0: Int, _ k1: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let z = SIMD16<Float>(repeating: 0)
    var c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z
    var c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z
    var c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z
    let a0 = a + i0 * lda + k0, a1 = a + (i0 + min(1, ri - 1)) * lda + k0
    let a2 = a + (i0 + min(2, ri - 1)) * lda + k0, a3 = a + (i0 + min(3, ri - 1)) * lda + k0
    let a4 = a + (i0 + min(4, ri - 1)) * lda + k0, a5 = a + (i0 + min(5, ri - 1)) * lda + k0
    let b0 = b + j0 * ldb + k0, b1 = b + (j0 + min(1, rj - 1)) * ldb + k0
    let b2 = b + (j0 + min(2, rj - 1)) * ldb + k0, b3 = b + (j0 + min(3, rj - 1)) * ldb + k0
    @inline(__always) func step(_ w0: SIMD16<Float>, _ w1: SIMD16<Float>, _ w2: SIMD16<Float>, _ w3: SIMD16<Float>,
                                _ x0: SIMD16<Float>, _ x1: SIMD16<Float>, _ x2: SIMD16<Float>,
                                _ x3: SIMD16<Float>, _ x4: SIMD16<Float>, _ x5: SIMD16<Float>) {
        c00 = c00.addingProduct(x0, w0); c01 = c01.addingProduct(x0, w1); c02 = c02.addingProduct(x0, w2); c03 = c03.addingProduct(x0, w3)
        c10 = c10.addingProduct(x1, w0); c11 = c11.addingProduct(x1, w1); c12 = c12.addingProduct(x1, w2); c13 = c13.addingProduct(x1, w3)
        c20 = c20.addingProduct(x2, w0); c21 = c21.addingProduct(x2, w1); c22 = c22.addingProduct(x2, w2); c23 = c23.addingProduct(x2, w3)
        c30 = c30.addingProduct(x3, w0); c31 = c31.addingProduct(x3, w1); c32 = c32.addingProduct(x3, w2); c33 = c33.addingProduct(x3, w3)
        c40 = c40.addingProduct(x4, w0); c41 = c41.addingProduct(x4, w1); c42 = c42.addingProduct(x4, w2); c43 = c43.addingProduct(x4, w3)
        c50 = c50.addingProduct(x5, w0); c51 = c51.addingProduct(x5, w1); c52 = c52.addingProduct(x5, w2); c53 = c53.addingProduct(x5, w3)
    }
    let len = k1 - k0, full = len & ~15
    var k = 0
    while k < full {
        step(load16(b0 + k), load16(b1 + k), load16(b2 + k), load16(b3 + k),
             load16(a0 + k), load16(a1 + k), load16(a2 + k), load16(a3 + k), load16(a4 + k), load16(a5 + k))
        k += 16
    }
    if full < len {
        let t = len - full
        step(ldp(b0 + k, t), ldp(b1 + k, t), ldp(b2 + k, t), ldp(b3 + k, t),
             ldp(a0 + k, t), ldp(a1 + k, t), ldp(a2 + k, t), ldp(a3 + k, t), ldp(a4 + k, t), ldp(a5 + k, t))
    }
    @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>) {
        guard r < ri else { return }
        let row = c + (i0 + r) * ldc + j0
        row[0] += laneSum(v0)
        if rj > 1 { row[1] += laneSum(v1) }
        if rj > 2 { row[2] += laneSum(v2) }
        if rj > 3 { row[3] += laneSum(v3) }
    }
    put(0, c00, c01, c02, c03); put(1, c10, c11, c12, c13); put(2, c20, c21, c22, c23)
    put(3, c30, c31, c32, c33); put(4, c40, c41, c42, c43); put(5, c50, c51, c52, c53)
}

/// C[i, j] = (C[i, j] if accumulate, else 0) + Σ_k A[i, k] · B[j, k] for i < m, j < n, k < k.
/// A[i, k] is `a[i * lda + k]`, B[j, k] is `b[j * ldb + k]`, C[i, j] is `c[i * ldc + j]`.
/// The thread count does not change the result.
func dotGemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, threads: Int) {
    if m <= 0 || n <= 0 { return }
    if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
    if k <= 0 { return }
    let as_ = SendablePointer(a), bs = SendablePointer(b), cs = SendableMutablePointer(c)
    parallel((n + 3) / 4, threads: threads, work: m * n * k) { tiles in
        let a = as_.pointer, b = bs.pointer, c = cs.pointer
        var k0 = 0
        while k0 < k {
            let k1 = min(k, k0 + dotChunk)
            for t in tiles {
                let j0 = t * 4, rj = min(4, n - j0)
                var i0 = 0
                while i0 < m {
                    dotTile(a, lda, i0, min(6, m - i0), b, ldb, j0, rj, k0, k1, c, ldc)
                    i0 += 6
                }
            }
            k0 = k1
        }
    }
}
