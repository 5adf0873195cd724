// Depthwise convolution (groups == Cin == Cout), NHWC, direct.
//
// Vectorized over channels: in NHWC a pixel's channels are contiguous, and packed weights are
// `[tap][C]`, so one tap for 16 channels is one FMA of two vector loads. A GEMM formulation
// would waste the K dimension (K = taps only), so this is a direct loop.
//
// Where four consecutive output pixels of a row have all horizontal taps inside the input,
// they are computed together so each weight vector is loaded once for four FMAs (the kernel
// is otherwise load-bound). Border pixels go through a one-pixel path that skips out-of-range
// taps. Both paths sum the same taps in the same (ky, kx) order starting from zero, so the
// result of a pixel does not depend on which path, i.e. on how the pixel range was split.

/// Depthwise conv of output pixels `pixels` (sub-range of `0..<shape.outputPixels`).
/// `shape.groups` must equal `inChannels` and `outChannels` (channel multiplier 1).
public func depthwiseConv2d(shape s: Conv2dShape, input: UnsafePointer<Float>, inputPixelStride: Int? = nil,
                            weights: PackedDepthwise, output: UnsafeMutablePointer<Float>,
                            outputPixelStride: Int? = nil, pixels: Range<Int>,
                            epilogue: Epilogue = Epilogue()) {
    let c = s.inChannels
    precondition(s.groups == c && s.outChannels == c && weights.channels == c
                 && weights.kernelH == s.kernelH && weights.kernelW == s.kernelW)
    let inStride = inputPixelStride ?? c
    let outStride = outputPixelStride ?? c
    let oh = s.outHeight, ow = s.outWidth
    let act = epilogue.activation
    // First and one-past-last ox whose horizontal taps are all inside the input.
    let oxLo = s.padLeft <= 0 ? 0 : (s.padLeft + s.strideW - 1) / s.strideW
    let lastOff = (s.kernelW - 1) * s.dilationW - s.padLeft
    let oxHi = s.inWidth - 1 - lastOff < 0 ? 0 : min(ow, (s.inWidth - 1 - lastOff) / s.strideW + 1)

    let resStride = epilogue.residualStride

    var p = pixels.lowerBound
    // Decompose the first pixel once; then walk rows incrementally (no divisions per pixel).
    var ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
    while p < pixels.upperBound {
        let rowEnd = min(pixels.upperBound, p + (ow - ox))
        let iy0 = oy * s.strideH - s.padTop
        // Valid ky: 0 <= iy0 + ky*dH < inHeight.
        let kyLo = iy0 >= 0 ? 0 : (-iy0 + s.dilationH - 1) / s.dilationH
        let kyHi = max(kyLo, min(s.kernelH, iy0 >= s.inHeight ? 0 : (s.inHeight - 1 - iy0) / s.dilationH + 1))
        let imageBase = input + n * s.inHeight * s.inWidth * inStride
        while p < rowEnd {
            let ix0 = ox * s.strideW - s.padLeft
            let four = ox >= oxLo && ox + 3 < oxHi && p + 3 < rowEnd
            let kxLo = four || ix0 >= 0 ? 0 : (-ix0 + s.dilationW - 1) / s.dilationW
            let kxHi = four ? s.kernelW
                : max(kxLo, min(s.kernelW, ix0 >= s.inWidth ? 0 : (s.inWidth - 1 - ix0) / s.dilationW + 1))
            let t = DwTaps(
                x: imageBase + ((iy0 + kyLo * s.dilationH) * s.inWidth + ix0 + kxLo * s.dilationW) * inStride,
                w: weights.weights + (kyLo * s.kernelW + kxLo) * c,
                rows: kyHi - kyLo, cols: kxHi - kxLo,
                xRow: s.dilationH * s.inWidth * inStride, xCol: s.dilationW * inStride,
                wRow: s.kernelW * c, channels: c, bias: weights.bias,
                out: output + p * outStride, residual: epilogue.residual.map { $0 + p * resStride }, act: act)
            if c < 16 {
                dwPartial(t, pixels: four ? 4 : 1, xPixel: s.strideW * inStride, outPixel: outStride, resPixel: resStride)
            } else if four {
                dwFour(t, xPixel: s.strideW * inStride, outPixel: outStride, resPixel: resStride)
            } else {
                dwOne(t)
            }
            let done = four ? 4 : 1
            p += done; ox += done
        }
        // Next output row.
        ox = 0; oy += 1
        if oy == oh { oy = 0; n += 1 }
    }
}

/// The taps of one output pixel that fall inside the input: `rows x cols` input pixels starting
/// at `x` (steps `xRow`, `xCol`), weights starting at `w` (steps `wRow`, `channels`).
struct DwTaps {
    let x: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let rows: Int
    let cols: Int
    let xRow: Int
    let xCol: Int
    let wRow: Int
    let channels: Int
    let bias: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let residual: UnsafePointer<Float>?
    let act: Activation
}

/// Channel blocks: 16 wide; when C > 16 is not a multiple of 16 the last block is moved back to
/// end at C, overlapping the previous one (which recomputes identical values), so no partial
/// vectors are needed. Returns the start of the block after `ch`, or nil when done.
@inline(__always)
func nextBlock(_ ch: Int, _ c: Int) -> Int? {
    if ch + 16 >= c { return nil }
    return min(ch + 16, c - 16)
}

/// One pixel, C >= 16: four channel blocks at a time (four FMA chains), then single blocks.
@inline(never)
func dwOne(_ t: DwTaps) {
    let c = t.channels
    var ch = 0
    while ch + 64 <= c {
        var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var xr = t.x + ch, wr = t.w + ch
        for _ in 0..<t.rows {
            var x = xr, w = wr
            for _ in 0..<t.cols {
                a0 = a0.addingProduct(load16(x), load16(w))
                a1 = a1.addingProduct(load16(x + 16), load16(w + 16))
                a2 = a2.addingProduct(load16(x + 32), load16(w + 32))
                a3 = a3.addingProduct(load16(x + 48), load16(w + 48))
                x += t.xCol; w += c
            }
            xr += t.xRow; wr += t.wRow
        }
        dwFinish(a0, load16(t.bias + ch), t.residual.map { $0 + ch }, t.out + ch, 16, t.act)
        dwFinish(a1, load16(t.bias + ch + 16), t.residual.map { $0 + ch + 16 }, t.out + ch + 16, 16, t.act)
        dwFinish(a2, load16(t.bias + ch + 32), t.residual.map { $0 + ch + 32 }, t.out + ch + 32, 16, t.act)
        dwFinish(a3, load16(t.bias + ch + 48), t.residual.map { $0 + ch + 48 }, t.out + ch + 48, 16, t.act)
        ch += 64
    }
    if ch >= c { return }
    if ch > c - 16 { ch = c - 16 }
    while true {
        var a0 = SIMD16<Float>(repeating: 0)
        var xr = t.x + ch, wr = t.w + ch
        for _ in 0..<t.rows {
            var x = xr, w = wr
            for _ in 0..<t.cols {
                a0 = a0.addingProduct(load16(x), load16(w))
                x += t.xCol; w += c
            }
            xr += t.xRow; wr += t.wRow
        }
        dwFinish(a0, load16(t.bias + ch), t.residual.map { $0 + ch }, t.out + ch, 16, t.act)
        guard let next = nextBlock(ch, c) else { return }
        ch = next
    }
}

/// Four interior pixels of a row (all taps valid), C >= 16: each weight vector feeds four FMAs.
@inline(never)
func dwFour(_ t: DwTaps, xPixel: Int, outPixel: Int, resPixel: Int) {
    let c = t.channels
    var ch = 0
    while true {
        var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var xr = t.x + ch, wr = t.w + ch
        for _ in 0..<t.rows {
            var x = xr, w = wr
            for _ in 0..<t.cols {
                let wv = load16(w)
                a0 = a0.addingProduct(load16(x), wv)
                a1 = a1.addingProduct(load16(x + xPixel), wv)
                a2 = a2.addingProduct(load16(x + 2 * xPixel), wv)
                a3 = a3.addingProduct(load16(x + 3 * xPixel), wv)
                x += t.xCol; w += c
            }
            xr += t.xRow; wr += t.wRow
        }
        let b = load16(t.bias + ch)
        dwFinish(a0, b, t.residual.map { $0 + ch }, t.out + ch, 16, t.act)
        dwFinish(a1, b, t.residual.map { $0 + resPixel + ch }, t.out + outPixel + ch, 16, t.act)
        dwFinish(a2, b, t.residual.map { $0 + 2 * resPixel + ch }, t.out + 2 * outPixel + ch, 16, t.act)
        dwFinish(a3, b, t.residual.map { $0 + 3 * resPixel + ch }, t.out + 3 * outPixel + ch, 16, t.act)
        guard let next = nextBlock(ch, c) else { return }
        ch = next
    }
}

/// C < 16: partial vectors, `pixels` (1 or 4) consecutive pixels sharing the same taps layout.
@inline(never)
func dwPartial(_ t: DwTaps, pixels: Int, xPixel: Int, outPixel: Int, resPixel: Int) {
    let c = t.channels
    let b = loadPartial(t.bias, c)
    for j in 0..<pixels {
        var a0 = SIMD16<Float>(repeating: 0)
        var xr = t.x + j * xPixel, wr = t.w
        for _ in 0..<t.rows {
            var x = xr, w = wr
            for _ in 0..<t.cols {
                a0 = a0.addingProduct(loadPartial(x, c), loadPartial(w, c))
                x += t.xCol; w += c
            }
            xr += t.xRow; wr += t.wRow
        }
        dwFinish(a0, b, t.residual.map { $0 + j * resPixel }, t.out + j * outPixel, c, t.act)
    }
}

/// acc + bias, + residual, activation, store `lanes` (1...16) channels.
@inline(__always)
func dwFinish(_ acc: SIMD16<Float>, _ bias: SIMD16<Float>, _ residual: UnsafePointer<Float>?,
              _ out: UnsafeMutablePointer<Float>, _ lanes: Int, _ act: Activation) {
    var v = acc + bias
    if let residual { v += lanes == 16 ? load16(residual) : loadPartial(residual, lanes) }
    v = activate(v, act)
    if lanes == 16 { store16(v, out) } else { storePartial(v, out, lanes) }
}
