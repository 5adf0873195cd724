// Winograd F(2x2, 3x3) convolution (Lavin & Gray) for 3x3, stride-1 convs over whole 16-channel
// vectors: each 2x2 block of output pixels is
//   Y = Aᵀ [ Σ_ci (G g Gᵀ)[co, ci] ⊙ (Bᵀ d B)[ci] ] A
// with d the 4x4 input patch, so the multiply-adds are 16 GEMMs (one per transformed tap ξ) of
// (tiles × Cin) · (Cin × Cout): 16 per 2x2 outputs and channel pair instead of 36, 2.25x fewer.
// Used for the forward of such convs and for their dX, which is the same kind of conv: dY
// padded by 2 - pad, correlated with the flipped, transposed kernel.
//
// Work is per image (images split over threads) and, within one, per block of `winogradBlock`
// tiles: input transform into V[ξ][tile][ci], 16 trainingGemm calls into M[ξ][tile][co], output
// transform (+ bias, or + the existing output when accumulating). The operation order of every
// output element is fixed, so results do not depend on the thread count.
//
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]

import Kernels

/// Tiles (2x2 output blocks) per transform/GEMM block.
let winogradBlock = 64

struct Winograd3x3 {
    /// Channels of the conv's input and output (multiples of 16).
    let cin: Int, cout: Int
    let inH: Int, inW: Int
    let outH: Int, outW: Int
    /// Rows/columns of zeros before the input (0...2).
    let padTop: Int, padLeft: Int

    var tilesH: Int { (outH + 1) / 2 }
    var tilesW: Int { (outW + 1) / 2 }
    /// Floats of the transformed weights U[ξ][ci][co].
    var weightFloats: Int { 16 * cin * cout }

    static func eligible(_ g: Conv2dShape) -> Bool {
        g.groups == 1 && g.kernelH == 3 && g.kernelW == 3 && g.strideH == 1 && g.strideW == 1
            && g.dilationH == 1 && g.dilationW == 1 && g.inChannels % 16 == 0 && g.outChannels % 16 == 0
            && g.padTop <= 2 && g.padLeft <= 2 && g.outHeight > 0 && g.outWidth > 0
    }

    /// The forward conv of `g`.
    static func forward(_ g: Conv2dShape) -> Winograd3x3 {
        Winograd3x3(cin: g.inChannels, cout: g.outChannels, inH: g.inHeight, inW: g.inWidth,
                    outH: g.outHeight, outW: g.outWidth, padTop: g.padTop, padLeft: g.padLeft)
    }

    /// dX of `g` as a conv of dY: dX[iy, ix] = Σ dY[iy + padTop - ky, ix + padLeft - kx] · W[ky, kx].
    static func data(_ g: Conv2dShape) -> Winograd3x3 {
        Winograd3x3(cin: g.outChannels, cout: g.inChannels, inH: g.outHeight, inW: g.outWidth,
                    outH: g.inHeight, outW: g.inWidth, padTop: 2 - g.padTop, padLeft: 2 - g.padLeft)
    }

    /// U[ξ][ci][co] = (G g Gᵀ)[ξ] of the 3x3 kernel g = kernel(co, ci) (9 floats, row-major;
    /// flipped in both directions when `flip`).
    func transformWeights(_ kernel: (Int, Int) -> UnsafePointer<Float>, flip: Bool, into u: UnsafeMutablePointer<Float>) {
        for co in 0..<cout {
            for ci in 0..<cin {
                let k = kernel(co, ci)
                @inline(__always) func g(_ r: Int, _ c: Int) -> Float { flip ? k[8 - 3 * r - c] : k[3 * r + c] }
                // Row r of G g (4 x 3), then that row times Gᵀ (4 values).
                @inline(__always) func put(_ r: Int, _ t0: Float, _ t1: Float, _ t2: Float) {
                    let base = u + (r * 4 * cin + ci) * cout + co, step = cin * cout
                    base[0] = t0
                    base[step] = 0.5 * (t0 + t1 + t2)
                    base[2 * step] = 0.5 * (t0 - t1 + t2)
                    base[3 * step] = t2
                }
                put(0, g(0, 0), g(0, 1), g(0, 2))
                put(1, 0.5 * (g(0, 0) + g(1, 0) + g(2, 0)), 0.5 * (g(0, 1) + g(1, 1) + g(2, 1)), 0.5 * (g(0, 2) + g(1, 2) + g(2, 2)))
                put(2, 0.5 * (g(0, 0) - g(1, 0) + g(2, 0)), 0.5 * (g(0, 1) - g(1, 1) + g(2, 1)), 0.5 * (g(0, 2) - g(1, 2) + g(2, 2)))
                put(3, g(2, 0), g(2, 1), g(2, 2))
            }
        }
    }

    /// One image: y (outH × outW × cout, NHWC) = conv(x (inH × inW × cin)) + bias, or
    /// y += conv(x) when `accumulate`. `scratch` holds `scratchFloats` floats.
    var scratchFloats: Int { 16 * winogradBlock * (cin + cout) }

    func run(x: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
             accumulate: Bool, scratch: UnsafeMutablePointer<Float>) {
        let tiles = tilesH * tilesW
        let v = scratch, m = scratch + 16 * winogradBlock * cin
        let vStride = winogradBlock * cin, mStride = winogradBlock * cout
        var t0 = 0
        while t0 < tiles {
            let count = min(winogradBlock, tiles - t0)
            for t in 0..<count { inputTransform(tile: t0 + t, x: x, v: v + t * cin, stride: vStride) }
            for xi in 0..<16 {
                trainingGemm(m: count, n: cout, k: cin, a: .strided(v + xi * vStride, ai: cin, ak: 1),
                             b: u + xi * cin * cout, ldb: cout, c: m + xi * mStride, ldc: cout, accumulate: false, threads: 1)
            }
            for t in 0..<count { outputTransform(tile: t0 + t, m: m + t * cout, stride: mStride, bias: bias, y: y, accumulate: accumulate) }
            t0 += count
        }
    }

    /// V[ξ] = (Bᵀ d B)[ξ] of one tile, 16 channels at a time, at v + ξ·stride + ci.
    @inline(__always)
    private func inputTransform(tile: Int, x: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>, stride: Int) {
        let ty = tile / tilesW, tx = tile % tilesW
        let iy0 = 2 * ty - padTop, ix0 = 2 * tx - padLeft
        let inside = iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= inH && ix0 + 4 <= inW
        let z = SIMD16<Float>(repeating: 0)
        var ci = 0
        while ci < cin {
            @inline(__always) func d(_ r: Int, _ c: Int) -> SIMD16<Float> {
                let iy = iy0 + r, ix = ix0 + c
                if !inside && (iy < 0 || iy >= inH || ix < 0 || ix >= inW) { return z }
                return load16(x + (iy * inW + ix) * cin + ci)
            }
            // Column c of Bᵀ d.
            @inline(__always) func column(_ c: Int) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
                let d0 = d(0, c), d1 = d(1, c), d2 = d(2, c), d3 = d(3, c)
                return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            // Row r of (Bᵀ d) B.
            @inline(__always) func row(_ r: Int, _ a0: SIMD16<Float>, _ a1: SIMD16<Float>, _ a2: SIMD16<Float>, _ a3: SIMD16<Float>) {
                let base = v + (4 * r) * stride + ci
                store16(a0 - a2, base)
                store16(a1 + a2, base + stride)
                store16(a2 - a1, base + 2 * stride)
                store16(a1 - a3, base + 3 * stride)
            }
            row(0, c0.0, c1.0, c2.0, c3.0)
            row(1, c0.1, c1.1, c2.1, c3.1)
            row(2, c0.2, c1.2, c2.2, c3.2)
            row(3, c0.3, c1.3, c2.3, c3.3)
            ci += 16
        }
    }

    /// y block of one tile = Aᵀ M A (+ bias, or + y), 16 channels at a time.
    @inline(__always)
    private func outputTransform(tile: Int, m: UnsafePointer<Float>, stride: Int, bias: UnsafePointer<Float>?,
                                 y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let ty = tile / tilesW, tx = tile % tilesW
        let oy = 2 * ty, ox = 2 * tx
        let full = oy + 2 <= outH && ox + 2 <= outW
        let z = SIMD16<Float>(repeating: 0)
        var co = 0
        while co < cout {
            @inline(__always) func mm(_ r: Int, _ c: Int) -> SIMD16<Float> { load16(m + (4 * r + c) * stride + co) }
            // Column c of Aᵀ M (2 values).
            @inline(__always) func column(_ c: Int) -> (SIMD16<Float>, SIMD16<Float>) {
                let m0 = mm(0, c), m1 = mm(1, c), m2 = mm(2, c), m3 = mm(3, c)
                return (m0 + m1 + m2, m1 - m2 - m3)
            }
            let s0 = column(0), s1 = column(1), s2 = column(2), s3 = column(3)
            let b = bias.map { load16($0 + co) } ?? z
            @inline(__always) func put(_ r: Int, _ c: Int, _ value: SIMD16<Float>) {
                if !full && (oy + r >= outH || ox + c >= outW) { return }
                let p = y + ((oy + r) * outW + ox + c) * cout + co
                store16(accumulate ? load16(p) + value : value + b, p)
            }
            put(0, 0, s0.0 + s1.0 + s2.0)
            put(0, 1, s1.0 - s2.0 - s3.0)
            put(1, 0, s0.1 + s1.1 + s2.1)
            put(1, 1, s1.1 - s2.1 - s3.1)
            co += 16
        }
    }
}

// dW by the same transforms: with M[ξ] = Σ_ci U[ξ][ci] V[ξ][ci] and y = Aᵀ M A per tile,
//   dM = A dY Aᵀ,  dU[ξ][ci][co] = Σ_tiles V[ξ][tile][ci] · dM[ξ][tile][co],  dg = Gᵀ dU G,
// so the reduction over output pixels is 16 GEMMs over tiles (2.25x fewer multiply-adds than
// the direct dW). Images are reduced in fixed chunks whose partial dU are summed in chunk order
// (independent of the thread count).
extension Winograd3x3 {
    /// Floats of one partial dU and of the scratch of `weightGradient`.
    var gradientScratchFloats: Int { 16 * winogradBlock * (cin + cout) }

    /// partial += dU of images `images` (x: input images, dy: output gradients, NHWC).
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, images: Range<Int>,
                        partial: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let tiles = tilesH * tilesW
        let v = scratch, dm = scratch + 16 * winogradBlock * cin
        let vStride = winogradBlock * cin, mStride = winogradBlock * cout
        let inPer = inH * inW * cin, outPer = outH * outW * cout
        var first = true
        for n in images {
            let xi = x + n * inPer, gi = dy + n * outPer
            var t0 = 0
            while t0 < tiles {
                let count = min(winogradBlock, tiles - t0)
                for t in 0..<count {
                    inputTransform(tile: t0 + t, x: xi, v: v + t * cin, stride: vStride)
                    gradientTransform(tile: t0 + t, dy: gi, dm: dm + t * cout, stride: mStride)
                }
                for xi in 0..<16 {
                    trainingGemm(m: cin, n: cout, k: count, a: .strided(v + xi * vStride, ai: 1, ak: cin),
                                 b: dm + xi * mStride, ldb: cout, c: partial + xi * cin * cout, ldc: cout,
                                 accumulate: !first, threads: 1)
                }
                first = false
                t0 += count
            }
        }
        if first { partial.update(repeating: 0, count: weightFloats) }
    }

    /// dM[ξ] = (A dY Aᵀ)[ξ] of one tile (zeros beyond the output), 16 channels at a time.
    @inline(__always)
    private func gradientTransform(tile: Int, dy: UnsafePointer<Float>, dm: UnsafeMutablePointer<Float>, stride: Int) {
        let ty = tile / tilesW, tx = tile % tilesW
        let oy = 2 * ty, ox = 2 * tx
        let full = oy + 2 <= outH && ox + 2 <= outW
        let z = SIMD16<Float>(repeating: 0)
        var co = 0
        while co < cout {
            @inline(__always) func e(_ r: Int, _ c: Int) -> SIMD16<Float> {
                if !full && (oy + r >= outH || ox + c >= outW) { return z }
                return load16(dy + ((oy + r) * outW + ox + c) * cout + co)
            }
            let e00 = e(0, 0), e01 = e(0, 1), e10 = e(1, 0), e11 = e(1, 1)
            // Rows of A e (4 x 2), each expanded by Aᵀ on the right: (a, b) -> (a, a + b, a - b, -b).
            @inline(__always) func row(_ r: Int, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
                let base = dm + (4 * r) * stride + co
                store16(a, base)
                store16(a + b, base + stride)
                store16(a - b, base + 2 * stride)
                store16(-b, base + 3 * stride)
            }
            row(0, e00, e01)
            row(1, e00 + e10, e01 + e11)
            row(2, e00 - e10, e01 - e11)
            row(3, -e10, -e11)
            co += 16
        }
    }

    /// dW (OIHW, [co][ci][3][3]) = Gᵀ dU G of dU[ξ][ci][co].
    func kernelGradient(_ du: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>) {
        for co in 0..<cout {
            for ci in 0..<cin {
                @inline(__always) func u(_ r: Int, _ c: Int) -> Float { du[((r * 4 + c) * cin + ci) * cout + co] }
                // Gᵀ dU (3 x 4), row by row, then each row times G (3 values).
                let out = dw + (co * cin + ci) * 9
                @inline(__always) func put(_ r: Int, _ a: Float, _ b: Float, _ c: Float, _ d: Float) {
                    out[3 * r] = a + 0.5 * b + 0.5 * c
                    out[3 * r + 1] = 0.5 * b - 0.5 * c
                    out[3 * r + 2] = 0.5 * b + 0.5 * c + d
                }
                put(0, u(0, 0) + 0.5 * u(1, 0) + 0.5 * u(2, 0), u(0, 1) + 0.5 * u(1, 1) + 0.5 * u(2, 1),
                    u(0, 2) + 0.5 * u(1, 2) + 0.5 * u(2, 2), u(0, 3) + 0.5 * u(1, 3) + 0.5 * u(2, 3))
                put(1, 0.5 * u(1, 0) - 0.5 * u(2, 0), 0.5 * u(1, 1) - 0.5 * u(2, 1),
                    0.5 * u(1, 2) - 0.5 * u(2, 2), 0.5 * u(1, 3) - 0.5 * u(2, 3))
                put(2, 0.5 * u(1, 0) + 0.5 * u(2, 0) + u(3, 0), 0.5 * u(1, 1) + 0.5 * u(2, 1) + u(3, 1),
                    0.5 * u(1, 2) + 0.5 * u(2, 2) + u(3, 2), 0.5 * u(1, 3) + 0.5 * u(2, 3) + u(3, 3))
            }
        }
    }
}
