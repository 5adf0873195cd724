// Direct convolution for single-input-channel convs (the first conv of an MNIST net: Cin = 1,
// stride 1, no dilation, one group). Through the GEMM paths such a conv has K = 1 per tap and a
// handful of output channels, so the 32-wide register tiles are mostly empty and every FMA pays
// for an indirection-table load. Here the work is vectorized over 16 output pixels along a row
// instead, reading a zero-padded copy of each image plane (no bounds tests, no padding taps):
//   forward: y[oy, ox.., co] = b[co] + Σ_tap P[oy + ky, ox.. + kx] · w[co, tap]  (8 channels
//            per register block)
//   dW:      dW[co, tap] = Σ_n Σ_oy Σ_ox P_n[oy + ky, ox + kx] · dY_n[oy, ox, co], with dY of
//            each image first transposed into planes. Images are reduced in fixed chunks of
//            `directChunk` whose partial sums are added in chunk order, so the result does not
//            depend on the thread count.
// dX (when the input needs a gradient) and the bias gradient stay on the general path.

import Kernels

/// Off in tests to compare against the general (GEMM) path.
nonisolated(unsafe) var directConvEnabled = true

/// Images per dW partial sum.
let directChunk = 8

struct DirectConv {
    let g: Conv2dShape
    /// Padded plane width: every 16-wide load of output columns, shifted by kx, stays inside.
    let wp: Int
    let hp: Int
    /// Output-gradient plane width (outWidth rounded up to 16; the extra lanes stay zero).
    let wd: Int

    static func eligible(_ g: Conv2dShape) -> Bool {
        g.groups == 1 && g.inChannels == 1 && g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1
            && g.kernelW <= 8 && g.outChannels <= 16 && g.outHeight > 0 && g.outWidth > 0
    }

    init(_ g: Conv2dShape) {
        self.g = g
        wd = (g.outWidth + 15) / 16 * 16
        wp = wd + g.kernelW - 1
        hp = g.outHeight + g.kernelH - 1
    }

    var planeFloats: Int { hp * wp }

    /// Copies image n (one channel) into the padded plane `p` (whose border is already zero
    /// and stays so: only the interior is written).
    @inline(__always)
    func fillPlane(_ x: UnsafePointer<Float>, _ n: Int, _ p: UnsafeMutablePointer<Float>) {
        let src = x + n * g.inHeight * g.inWidth
        for iy in 0..<g.inHeight {
            let py = iy + g.padTop
            if py < 0 || py >= hp { continue }
            var x0 = 0, x1 = g.inWidth
            x0 = max(x0, -g.padLeft); x1 = min(x1, wp - g.padLeft)
            if x1 > x0 { (p + py * wp + g.padLeft + x0).update(from: src + iy * g.inWidth + x0, count: x1 - x0) }
        }
    }

    /// Weights as [co block of 8][tap][8], zero beyond outChannels.
    func packWeights(_ w: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let taps = g.taps, co = g.outChannels, blocks = (co + 7) / 8
        for b in 0..<blocks {
            for t in 0..<taps {
                for j in 0..<8 {
                    let c = b * 8 + j
                    out[(b * taps + t) * 8 + j] = c < co ? w[c * taps + t] : 0
                }
            }
        }
    }

    var packedWeightFloats: Int { (g.outChannels + 7) / 8 * g.taps * 8 }

    func forward(x: UnsafePointer<Float>, packed w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>, images: Range<Int>) {
        let plane = UnsafeMutablePointer<Float>.allocate(capacity: planeFloats)
        plane.initialize(repeating: 0, count: planeFloats)
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: 8 * 16)
        defer { plane.deallocate(); tmp.deallocate() }
        let co = g.outChannels, taps = g.taps, kh = g.kernelH, kw = g.kernelW
        let oh = g.outHeight, ow = g.outWidth
        for n in images {
            fillPlane(x, n, plane)
            for b in 0..<((co + 7) / 8) {
                let wb = w + b * taps * 8
                let c0 = b * 8, cn = min(8, co - c0)
                var bz = [Float](repeating: 0, count: 8)
                if let bias { for j in 0..<cn { bz[j] = bias[c0 + j] } }
                let b0 = SIMD16<Float>(repeating: bz[0]), b1 = SIMD16<Float>(repeating: bz[1])
                let b2 = SIMD16<Float>(repeating: bz[2]), b3 = SIMD16<Float>(repeating: bz[3])
                let b4 = SIMD16<Float>(repeating: bz[4]), b5 = SIMD16<Float>(repeating: bz[5])
                let b6 = SIMD16<Float>(repeating: bz[6]), b7 = SIMD16<Float>(repeating: bz[7])
                for oy in 0..<oh {
                    var xb = 0
                    while xb < ow {
                        var a0 = b0, a1 = b1, a2 = b2, a3 = b3, a4 = b4, a5 = b5, a6 = b6, a7 = b7
                        var wt = wb
                        for ky in 0..<kh {
                            let row = plane + (oy + ky) * wp + xb
                            for kx in 0..<kw {
                                let v = load16(row + kx)
                                a0 = a0.addingProduct(v, SIMD16(repeating: wt[0]))
                                a1 = a1.addingProduct(v, SIMD16(repeating: wt[1]))
                                a2 = a2.addingProduct(v, SIMD16(repeating: wt[2]))
                                a3 = a3.addingProduct(v, SIMD16(repeating: wt[3]))
                                a4 = a4.addingProduct(v, SIMD16(repeating: wt[4]))
                                a5 = a5.addingProduct(v, SIMD16(repeating: wt[5]))
                                a6 = a6.addingProduct(v, SIMD16(repeating: wt[6]))
                                a7 = a7.addingProduct(v, SIMD16(repeating: wt[7]))
                                wt += 8
                            }
                        }
                        store16(a0, tmp); store16(a1, tmp + 16); store16(a2, tmp + 32); store16(a3, tmp + 48)
                        store16(a4, tmp + 64); store16(a5, tmp + 80); store16(a6, tmp + 96); store16(a7, tmp + 112)
                        let lanes = min(16, ow - xb)
                        let out = y + ((n * oh + oy) * ow + xb) * co + c0
                        for l in 0..<lanes {
                            for j in 0..<cn { out[l * co + j] = tmp[j * 16 + l] }
                        }
                        xb += 16
                    }
                }
            }
        }
    }

    var partialFloats: Int { g.outChannels * g.taps }

    /// dW partial sum over `images` into `out` as [co][tap] (written, not accumulated).
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, images: Range<Int>,
                        out: UnsafeMutablePointer<Float>) {
        let co = g.outChannels, taps = g.taps, kh = g.kernelH, kw = g.kernelW
        let oh = g.outHeight, ow = g.outWidth
        let plane = UnsafeMutablePointer<Float>.allocate(capacity: planeFloats)
        plane.initialize(repeating: 0, count: planeFloats)
        let dPlanes = UnsafeMutablePointer<Float>.allocate(capacity: co * oh * wd)
        dPlanes.initialize(repeating: 0, count: co * oh * wd)
        let acc = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: co * taps)
        acc.initialize(repeating: SIMD16(repeating: 0), count: co * taps)
        defer { plane.deallocate(); dPlanes.deallocate(); acc.deallocate() }
        let z = SIMD16<Float>(repeating: 0)
        for n in images {
            fillPlane(x, n, plane)
            let src = dy + n * oh * ow * co
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let s = src + (oy * ow + ox) * co
                    for c in 0..<co { dPlanes[(c * oh + oy) * wd + ox] = s[c] }
                }
            }
            for c in 0..<co {
                let dp = dPlanes + c * oh * wd
                for ky in 0..<kh {
                    let ab = acc + c * taps + ky * kw
                    var a0 = ab[0]
                    var a1 = kw > 1 ? ab[1] : z, a2 = kw > 2 ? ab[2] : z, a3 = kw > 3 ? ab[3] : z
                    var a4 = kw > 4 ? ab[4] : z, a5 = kw > 5 ? ab[5] : z, a6 = kw > 6 ? ab[6] : z, a7 = kw > 7 ? ab[7] : z
                    for oy in 0..<oh {
                        let row = plane + (oy + ky) * wp
                        let drow = dp + oy * wd
                        var xb = 0
                        while xb < wd {
                            let d = load16(drow + xb)
                            let r = row + xb
                            a0 = a0.addingProduct(load16(r), d)
                            if kw > 1 { a1 = a1.addingProduct(load16(r + 1), d) }
                            if kw > 2 { a2 = a2.addingProduct(load16(r + 2), d) }
                            if kw > 3 { a3 = a3.addingProduct(load16(r + 3), d) }
                            if kw > 4 { a4 = a4.addingProduct(load16(r + 4), d) }
                            if kw > 5 { a5 = a5.addingProduct(load16(r + 5), d) }
                            if kw > 6 { a6 = a6.addingProduct(load16(r + 6), d) }
                            if kw > 7 { a7 = a7.addingProduct(load16(r + 7), d) }
                            xb += 16
                        }
                    }
                    ab[0] = a0
                    if kw > 1 { ab[1] = a1 }; if kw > 2 { ab[2] = a2 }; if kw > 3 { ab[3] = a3 }
                    if kw > 4 { ab[4] = a4 }; if kw > 5 { ab[5] = a5 }; if kw > 6 { ab[6] = a6 }; if kw > 7 { ab[7] = a7 }
                }
            }
        }
        for i in 0..<(co * taps) { out[i] = acc[i].sum() }
    }
}

/// dW of an unpadded stride-1 dense conv with few channels (kernelW·Cin rows per kernel row,
/// at most 16 output channels): dW[(ky, kx, ci), co] = Σ_(n, oy, ox) X[n, oy + ky, ox + kx, ci]
/// · dY[n, oy, ox, co]. For a kernel row ky and output pixel the (kx, ci) rows read kernelW·Cin
/// consecutive input floats, so 8 rows at a time accumulate in registers (one 16-lane vector of
/// output channels each) with no indirection table. Partial sums over `images` go to `out` as
/// [(tap, ci)][co] (written, not accumulated).
struct RowConvWeightGradient {
    let g: Conv2dShape

    static func eligible(_ g: Conv2dShape) -> Bool {
        g.groups == 1 && g.inChannels <= 8 && g.outChannels <= 16 && g.strideH == 1 && g.strideW == 1
            && g.dilationH == 1 && g.dilationW == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
            && g.outHeight > 0 && g.outWidth > 0
    }

    var partialFloats: Int { g.taps * g.inChannels * g.outChannels }

    func run(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, images: Range<Int>, out: UnsafeMutablePointer<Float>) {
        let cin = g.inChannels, co = g.outChannels, kwc = g.kernelW * cin
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        let rows = g.kernelH * kwc
        let acc = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: rows)
        acc.initialize(repeating: SIMD16(repeating: 0), count: rows)
        // dY of one image with rows padded to 16 lanes (zero beyond co) when co < 16.
        let pad = co < 16 ? UnsafeMutablePointer<Float>.allocate(capacity: oh * ow * 16) : nil
        pad?.initialize(repeating: 0, count: oh * ow * 16)
        defer { acc.deallocate(); pad?.deallocate() }
        let ldd = pad == nil ? co : 16
        for n in images {
            var d = dy + n * oh * ow * co
            if let pad {
                for p in 0..<(oh * ow) { (pad + p * 16).update(from: d + p * co, count: co) }
                d = UnsafePointer(pad)
            }
            let xn = x + n * ih * iw * cin
            for ky in 0..<g.kernelH {
                var jb = 0
                while jb < kwc {
                    let r = min(8, kwc - jb)
                    let ab = acc + ky * kwc + jb
                    let z = SIMD16<Float>(repeating: 0)
                    var a0 = ab[0]
                    var a1 = r > 1 ? ab[1] : z, a2 = r > 2 ? ab[2] : z, a3 = r > 3 ? ab[3] : z
                    var a4 = r > 4 ? ab[4] : z, a5 = r > 5 ? ab[5] : z, a6 = r > 6 ? ab[6] : z, a7 = r > 7 ? ab[7] : z
                    for oy in 0..<oh {
                        var xp = xn + (oy + ky) * iw * cin + jb
                        var dp = d + oy * ow * ldd
                        if r == 8 {
                            for _ in 0..<ow {
                                let v = load16(dp)
                                a0 = a0.addingProduct(SIMD16(repeating: xp[0]), v)
                                a1 = a1.addingProduct(SIMD16(repeating: xp[1]), v)
                                a2 = a2.addingProduct(SIMD16(repeating: xp[2]), v)
                                a3 = a3.addingProduct(SIMD16(repeating: xp[3]), v)
                                a4 = a4.addingProduct(SIMD16(repeating: xp[4]), v)
                                a5 = a5.addingProduct(SIMD16(repeating: xp[5]), v)
                                a6 = a6.addingProduct(SIMD16(repeating: xp[6]), v)
                                a7 = a7.addingProduct(SIMD16(repeating: xp[7]), v)
                                xp += cin; dp += ldd
                            }
                        } else {
                            for _ in 0..<ow {
                                let v = load16(dp)
                                a0 = a0.addingProduct(SIMD16(repeating: xp[0]), v)
                                if r > 1 { a1 = a1.addingProduct(SIMD16(repeating: xp[1]), v) }
                                if r > 2 { a2 = a2.addingProduct(SIMD16(repeating: xp[2]), v) }
                                if r > 3 { a3 = a3.addingProduct(SIMD16(repeating: xp[3]), v) }
                                if r > 4 { a4 = a4.addingProduct(SIMD16(repeating: xp[4]), v) }
                                if r > 5 { a5 = a5.addingProduct(SIMD16(repeating: xp[5]), v) }
                                if r > 6 { a6 = a6.addingProduct(SIMD16(repeating: xp[6]), v) }
                                xp += cin; dp += ldd
                            }
                        }
                    }
                    ab[0] = a0
                    if r > 1 { ab[1] = a1 }; if r > 2 { ab[2] = a2 }; if r > 3 { ab[3] = a3 }
                    if r > 4 { ab[4] = a4 }; if r > 5 { ab[5] = a5 }; if r > 6 { ab[6] = a6 }; if r > 7 { ab[7] = a7 }
                    jb += 8
                }
            }
        }
        for i in 0..<rows {
            let v = acc[i]
            for c in 0..<co { out[i * co + c] = v[c] }
        }
    }
}
