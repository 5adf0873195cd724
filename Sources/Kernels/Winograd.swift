// Winograd convolution for 3x3, stride 1, dilation 1, groups 1 convs (NHWC).
//
// F(m x m, 3x3) computes an m x m output tile from an α x α input patch (α = m + 2) with α²
// multiplies per (input channel, output channel) pair instead of 9 m². Per tile:
//
//   V = Bᵀ d B        input transform, per 16-channel vector (padding taps read as zero)
//   M_ξ = V_ξ · U_ξ   for each of the α² positions ξ, a GEMM over input channels
//   Y = Aᵀ M A        output transform, then + bias (+ residual), activation, store
//
// U = G g Gᵀ is computed at pack time (in Double) and stored as α² packed GEMM B matrices
// [Cin x Cout] (a `PackedWeights` with α² groups), so the multiplies run on the register-blocked
// GEMM microkernel of Gemm.swift. The bias is added after the output transform.
//
// Two tile sizes:
// - F(2x2, 3x3), α = 4: 2.25x fewer multiplies, transforms of adds only, error close to direct.
// - F(4x4, 3x3), α = 6: 4x fewer multiplies. Interpolation points {0, 1, -1, 1/2, -2} (and ∞):
//   measured in float32 with 128 input channels, max relative error per tile ~6e-6 against
//   ~2.6e-5 for the common {0, ±1, ±2} (direct: ~3e-7).
//
// Work is split by tile (tile = (image, tile row, tile column), row-major); a thread walks its
// tiles in blocks of `blockTiles`, transforming the block's inputs into V (α² matrices of
// blockTiles x Cin), running the α² GEMMs into M (α² matrices of blockTiles x Cout) and
// transforming M into the output. V and M of a block are sized to stay in L2. Every output is
// computed by the same instruction sequence whatever block or thread its tile falls in (the GEMM
// computes each row identically in every row-tile size), so results are bit-identical for any
// split of the tiles.

/// B matrices (Cin x Cout, α² groups) and bias of a Winograd conv; valid while the owning
/// `WinogradWeights` is alive.
public struct WinogradMatrix: @unchecked Sendable {
    public let u: PackedMatrix
    /// Cout rounded up to 16, zero padded.
    public let bias: UnsafePointer<Float>
    /// Output tile size m (2 or 4).
    public let tile: Int
    public var alpha: Int { tile + 2 }
}

/// Owner of transformed, packed Winograd weights.
public final class WinogradWeights: @unchecked Sendable {
    public let matrix: WinogradMatrix
    private let packed: PackedWeights
    private let biasStorage: UnsafeMutablePointer<Float>

    /// `weight` is OIHW `[Cout, Cin, 3, 3]`; `tile` is 2 (F(2x2,3x3)) or 4 (F(4x4,3x3)).
    public init(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int, bias: UnsafePointer<Float>?, tile: Int) {
        precondition(tile == 2 || tile == 4, "Winograd tile must be 2 or 4")
        let g = tile == 4 ? winogradG4 : winogradG2
        let alpha = tile + 2, a2 = alpha * alpha
        let cin = inChannels, cout = outChannels
        // u[(ξ * cin + ci) * cout + co]
        var u = [Float](repeating: 0, count: a2 * cin * cout)
        var gg = [Double](repeating: 0, count: alpha * 3)
        for ci in 0..<cin {
            for co in 0..<cout {  // consecutive co: consecutive floats of each of the α² outputs
                let w = weight + (co * cin + ci) * 9
                // gg = G · w  (α x 3)
                for i in 0..<alpha {
                    for j in 0..<3 {
                        var s = 0.0
                        for k in 0..<3 { s += g[i][k] * Double(w[k * 3 + j]) }
                        gg[i * 3 + j] = s
                    }
                }
                // U = gg · Gᵀ  (α x α)
                for i in 0..<alpha {
                    for j in 0..<alpha {
                        var s = 0.0
                        for k in 0..<3 { s += gg[i * 3 + k] * g[j][k] }
                        u[((i * alpha + j) * cin + ci) * cout + co] = Float(s)
                    }
                }
            }
        }
        packed = u.withUnsafeBufferPointer { up in
            let p = up.baseAddress!
            return PackedWeights(k: cin, n: cout, groups: a2, bias: nil) { xi, k, n in p[(xi * cin + k) * cout + n] }
        }
        let padded = (cout + 15) / 16 * 16
        biasStorage = .allocate(capacity: padded)
        biasStorage.initialize(repeating: 0, count: padded)
        if let bias { biasStorage.update(from: bias, count: cout) }
        matrix = WinogradMatrix(u: packed.matrix, bias: UnsafePointer(biasStorage), tile: tile)
    }

    deinit { biasStorage.deallocate() }
}

/// G for F(2x2, 3x3) (Lavin's).
let winogradG2: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
/// G for F(4x4, 3x3) with points 0, 1, -1, 1/2, -2, ∞.
let winogradG4: [[Double]] = [[1, 0, 0], [1.0 / 3, 1.0 / 3, 1.0 / 3], [-1.0 / 3, 1.0 / 3, -1.0 / 3],
                              [-16.0 / 15, -8.0 / 15, -4.0 / 15], [1.0 / 15, -2.0 / 15, 4.0 / 15], [0, 0, 1]]

/// True for the convs this file handles.
public func winogradApplies(_ s: Conv2dShape) -> Bool {
    s.kernelH == 3 && s.kernelW == 3 && s.strideH == 1 && s.strideW == 1 && s.dilationH == 1 && s.dilationW == 1
        && s.groups == 1 && s.outHeight >= 1 && s.outWidth >= 1
}

/// Tiles of a conv: batch x ceil(outH / m) x ceil(outW / m).
public func winogradTiles(_ s: Conv2dShape, tile m: Int) -> Int {
    s.batch * ((s.outHeight + m - 1) / m) * ((s.outWidth + m - 1) / m)
}

/// Per-thread scratch of one Winograd conv: V and M blocks and the transforms' temporary.
public final class WinogradScratch: @unchecked Sendable {
    public let blockTiles: Int
    public let slots: Int
    let floatsPerSlot: Int
    private let storage: UnsafeMutablePointer<Float>

    /// `blockTiles` defaults to as many tiles as keep V and M within ~`budgetBytes` (8...64, a
    /// multiple of the GEMM row tile). Measured on ResNet-50's F(4x4) layers: 256 KiB and 512 KiB
    /// budgets run alike, 1 MiB is ~8% slower at 56x56 and 28x28, 2 MiB ~25%.
    public init(shape s: Conv2dShape, tile m: Int, slots: Int, blockTiles: Int? = nil, budgetBytes: Int = 512 * 1024, maxBlock: Int = 64) {
        let alpha = m + 2, a2 = alpha * alpha
        let ldv = (s.inChannels + 15) / 16 * 16, ldm = (s.outChannels + 15) / 16 * 16
        let perTile = a2 * (ldv + ldm) * 4
        let t = blockTiles ?? min(maxBlock, max(gemmMR, budgetBytes / perTile / gemmMR * gemmMR))
        self.blockTiles = t
        self.slots = slots
        floatsPerSlot = (a2 * t * (ldv + ldm) + a2 * 16 + 15) / 16 * 16
        let count = floatsPerSlot * slots
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        storage.initialize(repeating: 0, count: count)
    }

    public func slot(_ i: Int) -> UnsafeMutablePointer<Float> { storage + i * floatsPerSlot }

    deinit { storage.deallocate() }
}

/// Winograd conv of tiles `tiles` (a sub-range of `0..<winogradTiles(shape, tile:)`), NHWC input
/// (pixel stride Cin) and output (pixel stride Cout), output channels of the 32-wide weight
/// panels `panels` (default: all). `scratch` is one slot of a `WinogradScratch` made for this
/// shape and tile (one per concurrently running call). Any split of the tiles or the panels gives
/// bit-identical output. With few tiles, splitting panels over threads lets each thread read only
/// its share of the (α²/9 times larger than direct) weights; the input transform is then repeated
/// by every thread.
public func winogradConv3x3(shape s: Conv2dShape, input: UnsafePointer<Float>, weights w: WinogradMatrix,
                            output: UnsafeMutablePointer<Float>, tiles: Range<Int>, panels: Range<Int>? = nil,
                            blockTiles: Int, scratch: UnsafeMutablePointer<Float>, epilogue: Epilogue = Epilogue()) {
    precondition(winogradApplies(s) && w.u.k == s.inChannels && w.u.n == s.outChannels && w.u.groups == w.alpha * w.alpha)
    let m = w.tile, alpha = w.alpha, a2 = alpha * alpha
    let ldv = (s.inChannels + 15) / 16 * 16, ldm = (s.outChannels + 15) / 16 * 16
    let v = scratch, mm = scratch + a2 * blockTiles * ldv, tmp = mm + a2 * blockTiles * ldm
    let g = WinogradGeometry(s, m: m)
    let panels = panels ?? 0..<w.u.panels
    let channels = (panels.lowerBound * gemmNR)..<min(s.outChannels, panels.upperBound * gemmNR)
    if channels.isEmpty { return }
    var t0 = tiles.lowerBound
    while t0 < tiles.upperBound {
        let count = min(blockTiles, tiles.upperBound - t0)
        for j in 0..<count {
            if m == 4 {
                inputTile4(g, input: input, tile: t0 + j, v: v + j * ldv, planeStride: blockTiles * ldv, tmp: tmp)
            } else {
                inputTile2(g, input: input, tile: t0 + j, v: v + j * ldv, planeStride: blockTiles * ldv, tmp: tmp)
            }
        }
        for xi in 0..<a2 {
            gemm(a: v + xi * blockTiles * ldv, lda: ldv, weights: w.u, group: xi,
                 c: mm + xi * blockTiles * ldm, ldc: ldm, rows: 0..<count, panels: panels)
        }
        for j in 0..<count {
            if m == 4 {
                outputTile4(g, m: mm + j * ldm, planeStride: blockTiles * ldm, tile: t0 + j, bias: w.bias,
                            output: output, channels: channels, epilogue: epilogue, tmp: tmp)
            } else {
                outputTile2(g, m: mm + j * ldm, planeStride: blockTiles * ldm, tile: t0 + j, bias: w.bias,
                            output: output, channels: channels, epilogue: epilogue, tmp: tmp)
            }
        }
        t0 += count
    }
}

/// Shape facts the tile transforms need.
struct WinogradGeometry {
    let h, w, cin, cout, outH, outW, padTop, padLeft, tilesH, tilesW, m: Int

    init(_ s: Conv2dShape, m: Int) {
        h = s.inHeight; w = s.inWidth; cin = s.inChannels; cout = s.outChannels
        outH = s.outHeight; outW = s.outWidth; padTop = s.padTop; padLeft = s.padLeft
        tilesH = (outH + m - 1) / m; tilesW = (outW + m - 1) / m
        self.m = m
    }

    /// (image, first output row, first output column) of a tile.
    @inline(__always)
    func origin(_ t: Int) -> (n: Int, oy: Int, ox: Int) {
        let per = tilesH * tilesW
        let n = t / per, r = t % per
        return (n, r / tilesW * m, r % tilesW * m)
    }
}

/// Bit i set when coordinate `start + i` (i < count) lies in `0..<limit`.
@inline(__always)
func validMask(_ start: Int, _ count: Int, _ limit: Int) -> Int {
    var mask = 0
    for i in 0..<count where start + i >= 0 && start + i < limit { mask |= 1 << i }
    return mask
}

/// Loads 16 (or `nc` < 16) channels, or zero for a padding tap.
@inline(__always)
func loadTap(_ p: UnsafePointer<Float>, _ ok: Bool, _ nc: Int) -> SIMD16<Float> {
    if !ok { return SIMD16<Float>(repeating: 0) }
    return nc == 16 ? load16(p) : loadPartial(p, nc)
}

// MARK: F(4x4, 3x3)

/// Bᵀ x for points 0, 1, -1, 1/2, -2, ∞ (rows of Bᵀ:
/// [1, -3/2, -2, 3/2, 1, 0], [0, -1, 1/2, 5/2, 1, 0], [0, 1, -5/2, 1/2, 1, 0],
/// [0, -2, -1, 2, 1, 0], [0, 1/2, -1, -1/2, 1, 0], [0, 1, -3/2, -2, 3/2, 1]).
@inline(__always)
func inputTransform6(_ d0: SIMD16<Float>, _ d1: SIMD16<Float>, _ d2: SIMD16<Float>, _ d3: SIMD16<Float>,
                     _ d4: SIMD16<Float>, _ d5: SIMD16<Float>)
    -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let half = SIMD16<Float>(repeating: 0.5), two = SIMD16<Float>(repeating: 2)
    let c15 = SIMD16<Float>(repeating: 1.5), c25 = SIMD16<Float>(repeating: 2.5)
    // w0 = d0 + d4 + 1.5 (d3 - d1) - 2 d2
    let w0 = (d0 + d4).addingProduct(d3 - d1, c15).addingProduct(d2, -two)
    // w1 = d4 - d1 + 0.5 d2 + 2.5 d3
    let w1 = (d4 - d1).addingProduct(d2, half).addingProduct(d3, c25)
    // w2 = d4 + d1 - 2.5 d2 + 0.5 d3
    let w2 = (d4 + d1).addingProduct(d2, -c25).addingProduct(d3, half)
    // w3 = d4 - d2 + 2 (d3 - d1)
    let w3 = (d4 - d2).addingProduct(d3 - d1, two)
    // w4 = d4 - d2 + 0.5 (d1 - d3)
    let w4 = (d4 - d2).addingProduct(d1 - d3, half)
    // w5 = d5 + d1 - 1.5 d2 - 2 d3 + 1.5 d4
    let w5 = (d5 + d1).addingProduct(d4 - d2, c15).addingProduct(d3, -two)
    return (w0, w1, w2, w3, w4, w5)
}

/// Aᵀ x (rows [1, 1, 1, 1, 1, 0], [0, 1, -1, 1/2, -2, 0], [0, 1, 1, 1/4, 4, 0],
/// [0, 1, -1, 1/8, -8, 1]).
@inline(__always)
func outputTransform6(_ m0: SIMD16<Float>, _ m1: SIMD16<Float>, _ m2: SIMD16<Float>, _ m3: SIMD16<Float>,
                      _ m4: SIMD16<Float>, _ m5: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let s = m1 + m2, d = m1 - m2
    let y0 = m0 + s + m3 + m4
    let y1 = d.addingProduct(m3, SIMD16<Float>(repeating: 0.5)).addingProduct(m4, SIMD16<Float>(repeating: -2))
    let y2 = s.addingProduct(m3, SIMD16<Float>(repeating: 0.25)).addingProduct(m4, SIMD16<Float>(repeating: 4))
    let y3 = (d + m5).addingProduct(m3, SIMD16<Float>(repeating: 0.125)).addingProduct(m4, SIMD16<Float>(repeating: -8))
    return (y0, y1, y2, y3)
}

/// V of one tile: `v + ξ * planeStride` receives the Cin channels of position ξ.
@inline(never)
func inputTile4(_ g: WinogradGeometry, input: UnsafePointer<Float>, tile: Int, v: UnsafeMutablePointer<Float>,
                planeStride: Int, tmp: UnsafeMutablePointer<Float>) {
    let (n, oy, ox) = g.origin(tile)
    let iy0 = oy - g.padTop, ix0 = ox - g.padLeft
    let cin = g.cin
    let rows = validMask(iy0, 6, g.h), cols = validMask(ix0, 6, g.w)
    let base = input + ((n * g.h + iy0) * g.w + ix0) * cin
    let rs = g.w * cin
    var c0 = 0
    while c0 < cin {
        let nc = min(16, cin - c0)
        // Columns: tmp[i * 6 + x] = (Bᵀ d)[i][x].
        for x in 0..<6 {
            let p = base + x * cin + c0
            let ok = cols >> x & 1 != 0 ? rows : 0
            let t = inputTransform6(loadTap(p, ok & 1 != 0, nc), loadTap(p + rs, ok & 2 != 0, nc),
                                    loadTap(p + 2 * rs, ok & 4 != 0, nc), loadTap(p + 3 * rs, ok & 8 != 0, nc),
                                    loadTap(p + 4 * rs, ok & 16 != 0, nc), loadTap(p + 5 * rs, ok & 32 != 0, nc))
            let q = tmp + x * 16
            store16(t.0, q); store16(t.1, q + 96); store16(t.2, q + 192)
            store16(t.3, q + 288); store16(t.4, q + 384); store16(t.5, q + 480)
        }
        // Rows: V[i * 6 + j] = ((Bᵀ d) B)[i][j].
        for i in 0..<6 {
            let q = tmp + i * 96
            let t = inputTransform6(load16(q), load16(q + 16), load16(q + 32), load16(q + 48), load16(q + 64), load16(q + 80))
            let o = v + (i * 6) * planeStride + c0
            store16(t.0, o); store16(t.1, o + planeStride); store16(t.2, o + 2 * planeStride)
            store16(t.3, o + 3 * planeStride); store16(t.4, o + 4 * planeStride); store16(t.5, o + 5 * planeStride)
        }
        c0 += 16
    }
}

/// Output of one tile from its M (`m + ξ * planeStride`, Cout channels each).
@inline(never)
func outputTile4(_ g: WinogradGeometry, m: UnsafeMutablePointer<Float>, planeStride: Int, tile: Int,
                 bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels: Range<Int>,
                 epilogue e: Epilogue, tmp: UnsafeMutablePointer<Float>) {
    let (n, oy, ox) = g.origin(tile)
    let cout = g.cout
    let rowsValid = min(4, g.outH - oy), colsValid = min(4, g.outW - ox)
    let firstPixel = (n * g.outH + oy) * g.outW + ox
    var c0 = channels.lowerBound
    while c0 < channels.upperBound {
        let nc = min(16, cout - c0)
        // Columns: tmp[r * 6 + x] = (Aᵀ M)[r][x].
        for x in 0..<6 {
            let p = m + x * planeStride + c0
            let s6 = 6 * planeStride
            let t = outputTransform6(load16(p), load16(p + s6), load16(p + 2 * s6), load16(p + 3 * s6),
                                     load16(p + 4 * s6), load16(p + 5 * s6))
            let q = tmp + x * 16
            store16(t.0, q); store16(t.1, q + 96); store16(t.2, q + 192); store16(t.3, q + 288)
        }
        let b = load16(bias + c0)
        for r in 0..<rowsValid {
            let q = tmp + r * 96
            let y = outputTransform6(load16(q), load16(q + 16), load16(q + 32), load16(q + 48), load16(q + 64), load16(q + 80))
            let pixel = firstPixel + r * g.outW
            store4(y.0, y.1, y.2, y.3, colsValid, nc: nc, bias: b, pixel: pixel, c0: c0, cout: cout, output: output, e)
        }
        c0 += 16
    }
}

/// Finishes up to 4 output pixels of a row (valid ones only): + bias, + residual, activation.
@_transparent
func store4(_ y0: SIMD16<Float>, _ y1: SIMD16<Float>, _ y2: SIMD16<Float>, _ y3: SIMD16<Float>, _ valid: Int,
            nc: Int, bias: SIMD16<Float>, pixel: Int, c0: Int, cout: Int, output: UnsafeMutablePointer<Float>, _ e: Epilogue) {
    finishPixel(y0, nc: nc, bias: bias, pixel: pixel, c0: c0, cout: cout, output: output, e)
    if valid > 1 { finishPixel(y1, nc: nc, bias: bias, pixel: pixel + 1, c0: c0, cout: cout, output: output, e) }
    if valid > 2 { finishPixel(y2, nc: nc, bias: bias, pixel: pixel + 2, c0: c0, cout: cout, output: output, e) }
    if valid > 3 { finishPixel(y3, nc: nc, bias: bias, pixel: pixel + 3, c0: c0, cout: cout, output: output, e) }
}

@_transparent
func finishPixel(_ y: SIMD16<Float>, nc: Int, bias: SIMD16<Float>, pixel: Int, c0: Int, cout: Int,
                 output: UnsafeMutablePointer<Float>, _ e: Epilogue) {
    var x = y + bias
    let dst = output + pixel * cout + c0
    if nc == 16 {
        if let r = e.residual { x += load16(r + pixel * e.residualStride + c0) }
        store16(activate(x, e.activation), dst)
    } else {
        if let r = e.residual { x += loadPartial(r + pixel * e.residualStride + c0, nc) }
        storePartial(activate(x, e.activation), dst, nc)
    }
}

// MARK: F(2x2, 3x3)

/// V of one tile for F(2x2, 3x3): Bᵀ rows [1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1].
@inline(never)
func inputTile2(_ g: WinogradGeometry, input: UnsafePointer<Float>, tile: Int, v: UnsafeMutablePointer<Float>,
                planeStride: Int, tmp: UnsafeMutablePointer<Float>) {
    let (n, oy, ox) = g.origin(tile)
    let iy0 = oy - g.padTop, ix0 = ox - g.padLeft
    let cin = g.cin
    let rows = validMask(iy0, 4, g.h), cols = validMask(ix0, 4, g.w)
    let base = input + ((n * g.h + iy0) * g.w + ix0) * cin
    let rs = g.w * cin
    var c0 = 0
    while c0 < cin {
        let nc = min(16, cin - c0)
        for x in 0..<4 {
            let p = base + x * cin + c0
            let ok = cols >> x & 1 != 0 ? rows : 0
            let d0 = loadTap(p, ok & 1 != 0, nc), d1 = loadTap(p + rs, ok & 2 != 0, nc)
            let d2 = loadTap(p + 2 * rs, ok & 4 != 0, nc), d3 = loadTap(p + 3 * rs, ok & 8 != 0, nc)
            let q = tmp + x * 16
            store16(d0 - d2, q); store16(d1 + d2, q + 64); store16(d2 - d1, q + 128); store16(d1 - d3, q + 192)
        }
        for i in 0..<4 {
            let q = tmp + i * 64
            let d0 = load16(q), d1 = load16(q + 16), d2 = load16(q + 32), d3 = load16(q + 48)
            let o = v + (i * 4) * planeStride + c0
            store16(d0 - d2, o); store16(d1 + d2, o + planeStride); store16(d2 - d1, o + 2 * planeStride)
            store16(d1 - d3, o + 3 * planeStride)
        }
        c0 += 16
    }
}

/// Output of one tile for F(2x2, 3x3): Aᵀ rows [1, 1, 1, 0], [0, 1, -1, -1].
@inline(never)
func outputTile2(_ g: WinogradGeometry, m: UnsafeMutablePointer<Float>, planeStride: Int, tile: Int,
                 bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels: Range<Int>,
                 epilogue e: Epilogue, tmp: UnsafeMutablePointer<Float>) {
    let (n, oy, ox) = g.origin(tile)
    let cout = g.cout
    let rowsValid = min(2, g.outH - oy), colsValid = min(2, g.outW - ox)
    let firstPixel = (n * g.outH + oy) * g.outW + ox
    var c0 = channels.lowerBound
    while c0 < channels.upperBound {
        let nc = min(16, cout - c0)
        for x in 0..<4 {
            let p = m + x * planeStride + c0
            let s4 = 4 * planeStride
            let m0 = load16(p), m1 = load16(p + s4), m2 = load16(p + 2 * s4), m3 = load16(p + 3 * s4)
            let q = tmp + x * 16
            store16(m0 + m1 + m2, q); store16(m1 - m2 - m3, q + 64)
        }
        let b = load16(bias + c0)
        for r in 0..<rowsValid {
            let q = tmp + r * 64
            let m0 = load16(q), m1 = load16(q + 16), m2 = load16(q + 32), m3 = load16(q + 48)
            let pixel = firstPixel + r * g.outW
            finishPixel(m0 + m1 + m2, nc: nc, bias: b, pixel: pixel, c0: c0, cout: cout, output: output, e)
            if colsValid > 1 { finishPixel(m1 - m2 - m3, nc: nc, bias: b, pixel: pixel + 1, c0: c0, cout: cout, output: output, e) }
        }
        c0 += 16
    }
}
