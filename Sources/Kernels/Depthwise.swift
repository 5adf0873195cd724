// Depthwise convolution (groups == Cin == Cout), NHWC, direct.
//
// Vectorized over channels: in NHWC a pixel's channels are contiguous, and packed weights are
// `[tap][C]`, so one tap for 16 channels is one FMA of two vector loads. A GEMM formulation
// would waste the K dimension (K = taps only), so this is a direct loop.
//
// The pixel range is walked one output row segment at a time. The interior of a row (pixels
// whose horizontal taps are all inside the input) goes four pixels at a time, one 16-channel
// block after another, each weight vector loaded once for four FMAs; 3x3 and 5x5 kernels with
// stride 1 or 2 are specialized so neighbouring pixels share input loads (see `dwInterior`).
// Border pixels take a one-pixel path over all channels that skips out-of-range taps. Every
// path sums the same taps in the same (ky, kx) order starting from zero and then adds the
// bias, so a pixel's result does not depend on the path, i.e. on how the range was split.
//
// The activation runs over the finished row segment while it is still in L1, with its body
// inlined in a tight loop (a call per vector from the FMA loop cost more than the SiLU itself).

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
    // First and one-past-last ox whose horizontal taps are all inside the input.
    let oxLo = s.padLeft <= 0 ? 0 : min(ow, (s.padLeft + s.strideW - 1) / s.strideW)
    let lastOff = (s.kernelW - 1) * s.dilationW - s.padLeft
    let oxHi = s.inWidth - 1 - lastOff < 0 ? 0 : min(ow, (s.inWidth - 1 - lastOff) / s.strideW + 1)

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
        let row = DwRow(
            x: imageBase + (iy0 + kyLo * s.dilationH) * s.inWidth * inStride,
            w: weights.weights + kyLo * s.kernelW * c,
            rows: kyHi - kyLo, kernelW: s.kernelW,
            xRow: s.dilationH * s.inWidth * inStride, xCol: s.dilationW * inStride, xPixel: s.strideW * inStride,
            inStride: inStride, strideW: s.strideW, padLeft: s.padLeft, inWidth: s.inWidth, dilationW: s.dilationW, channels: c,
            bias: weights.bias, out: output + p * outStride, outPixel: outStride,
            residual: epilogue.residual.map { $0 + p * epilogue.residualStride }, resPixel: epilogue.residualStride,
            ox0: ox, count: rowEnd - p, oxLo: oxLo, oxHi: oxHi, lanes: min(16, c))
        dwRow(row)
        if epilogue.activation != .none {
            let out = output + p * outStride
            if outStride == c {
                applyActivation(epilogue.activation, input: out, output: out, elements: 0..<(rowEnd - p) * c)
            } else {
                for j in 0..<(rowEnd - p) {
                    applyActivation(epilogue.activation, input: out + j * outStride, output: out + j * outStride, elements: 0..<c)
                }
            }
        }
        p = rowEnd
        // Next output row.
        ox = 0; oy += 1
        if oy == oh { oy = 0; n += 1 }
    }
}

/// One output row segment: `count` pixels from `ox0`. `x` is column 0 of the first input row
/// inside the input (kernel row kyLo), `w` that kernel row's weights; `rows` kernel rows are
/// valid. Steps in floats: `xRow` to the next kernel row, `xCol` to the next kernel column,
/// `xPixel` to the next output pixel's input.
struct DwRow {
    let x: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let rows: Int
    let kernelW: Int
    let xRow: Int
    let xCol: Int
    let xPixel: Int
    let inStride: Int
    let strideW: Int
    let padLeft: Int
    let inWidth: Int
    let dilationW: Int
    let channels: Int
    let bias: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let outPixel: Int
    let residual: UnsafePointer<Float>?
    let resPixel: Int
    let ox0: Int
    let count: Int
    let oxLo: Int
    let oxHi: Int
    /// 16, or C when C < 16.
    let lanes: Int
}

/// Channel blocks: 16 wide; when C > 16 is not a multiple of 16 the last block is moved back
/// to end at C, overlapping the previous one (which recomputes identical values). Returns the
/// block after `ch`, or nil.
@inline(__always)
func nextChannelBlock(_ ch: Int, _ c: Int) -> Int? {
    ch + 16 >= c ? nil : min(ch + 16, c - 16)
}

/// A row segment: border pixels one at a time with all their channels (few pixels, possibly
/// many channels), the interior four pixels at a time, one channel block after another.
@inline(never)
func dwRow(_ r: DwRow) {
    let end = r.ox0 + r.count
    var ox = r.ox0
    let leftEnd = min(end, max(ox, r.oxLo))
    while ox < leftEnd { dwPixelAllChannels(r, ox); ox += 1 }
    let fours = r.lanes < 16 ? 0 : max(0, min(end, r.oxHi) - ox) / 4
    if fours > 0 {
        dwInterior(r, from: ox, groups: fours)
        ox += 4 * fours
    }
    while ox < end { dwPixelAllChannels(r, ox); ox += 1 }
}

/// One pixel, every channel: 64 channels (four FMA chains) at a time, then single blocks.
@inline(never)
func dwPixelAllChannels(_ r: DwRow, _ ox: Int) {
    let c = r.channels
    var ch = 0
    if r.lanes == 16 {
        let start = ox * r.strideW - r.padLeft
        let kxLo = start >= 0 ? 0 : (-start + r.dilationW - 1) / r.dilationW
        let kxHi = max(kxLo, min(r.kernelW, start >= r.inWidth ? 0 : (r.inWidth - 1 - start) / r.dilationW + 1))
        let x0 = r.x + (start + kxLo * r.dilationW) * r.inStride, w0 = r.w + kxLo * c
        let j = ox - r.ox0
        while ch + 64 <= c {
            var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            var xr = x0 + ch, wr = w0 + ch
            for _ in 0..<r.rows {
                var x = xr, w = wr
                for _ in kxLo..<kxHi {
                    a0 = a0.addingProduct(load16(x), load16(w))
                    a1 = a1.addingProduct(load16(x + 16), load16(w + 16))
                    a2 = a2.addingProduct(load16(x + 32), load16(w + 32))
                    a3 = a3.addingProduct(load16(x + 48), load16(w + 48))
                    x += r.xCol; w += c
                }
                xr += r.xRow; wr += r.kernelW * c
            }
            let o = r.out + j * r.outPixel + ch, b = r.bias + ch
            a0 += load16(b); a1 += load16(b + 16); a2 += load16(b + 32); a3 += load16(b + 48)
            if let res = r.residual {
                let rp = res + j * r.resPixel + ch
                a0 += load16(rp); a1 += load16(rp + 16); a2 += load16(rp + 32); a3 += load16(rp + 48)
            }
            store16(a0, o); store16(a1, o + 16); store16(a2, o + 32); store16(a3, o + 48)
            ch += 64
        }
        if ch >= c { return }
        ch = min(ch, c - 16)
    }
    while true {
        dwPixel(r, ox, channel: ch)
        guard let next = nextChannelBlock(ch, c) else { return }
        ch = next
    }
}

/// `groups` runs of four interior pixels from `from`, with the common shapes (3x3 and 5x5,
/// stride 1 or 2, no dilation) specialized so the compiler sees the pixel step as a constant
/// multiple of the tap step: with stride 1, pixel p's tap k and pixel p+1's tap k-1 are the
/// same address, so a 3-wide row needs 6 loads for 12 FMAs instead of 12, and the address
/// arithmetic fits in registers (with the two steps as unrelated run-time values LLVM kept one
/// induction variable per (pixel, tap), spilled them all and ran ~3x slower).
@inline(never)
func dwInterior(_ r: DwRow, from: Int, groups: Int) {
    let c = r.channels, rows = r.rows, xRow = r.xRow, inStride = r.inStride, op = r.outPixel, rpx = r.resPixel
    let x0 = r.x + (from * r.strideW - r.padLeft) * r.inStride
    let out0 = r.out + (from - r.ox0) * r.outPixel
    let res0 = r.residual.map { $0 + (from - r.ox0) * r.resPixel }
    let kind = r.dilationW != 1 ? 0 : r.kernelW * 10 + r.strideW
    var ch = 0
    while true {
        let x = x0 + ch, w = r.w + ch, bias = r.bias + ch, out = out0 + ch, res = res0.map { $0 + ch }
        switch kind {
        case 31:
            dwFours(x: x, w: w, bias: bias, out: out, residual: res, groups: groups, rows: rows, kernelW: 3, channels: c,
                    xRow: xRow, xCol: inStride, xPixel: inStride, outPixel: op, resPixel: rpx)
        case 32:
            dwFours(x: x, w: w, bias: bias, out: out, residual: res, groups: groups, rows: rows, kernelW: 3, channels: c,
                    xRow: xRow, xCol: inStride, xPixel: 2 * inStride, outPixel: op, resPixel: rpx)
        case 51:
            dwFours(x: x, w: w, bias: bias, out: out, residual: res, groups: groups, rows: rows, kernelW: 5, channels: c,
                    xRow: xRow, xCol: inStride, xPixel: inStride, outPixel: op, resPixel: rpx)
        case 52:
            dwFours(x: x, w: w, bias: bias, out: out, residual: res, groups: groups, rows: rows, kernelW: 5, channels: c,
                    xRow: xRow, xCol: inStride, xPixel: 2 * inStride, outPixel: op, resPixel: rpx)
        default:
            dwFours(x: x, w: w, bias: bias, out: out, residual: res, groups: groups, rows: rows, kernelW: r.kernelW, channels: c,
                    xRow: xRow, xCol: r.xCol, xPixel: r.xPixel, outPixel: op, resPixel: rpx)
        }
        guard let next = nextChannelBlock(ch, c) else { return }
        ch = next
    }
}

/// The interior loop: four pixels at a time, each weight vector loaded once for four FMAs.
@inline(__always)
func dwFours(x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
             residual: UnsafePointer<Float>?, groups: Int, rows: Int, kernelW: Int, channels c: Int,
             xRow: Int, xCol xc: Int, xPixel xp: Int, outPixel: Int, resPixel: Int) {
    let b = load16(bias)
    var xg = x, o = out, rp = residual
    for _ in 0..<groups {
        var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        var xr = xg, wk = w
        for _ in 0..<rows {
            for k in 0..<kernelW {
                let wv = load16(wk + k * c), xk = xr + k * xc
                a0 = a0.addingProduct(load16(xk), wv)
                a1 = a1.addingProduct(load16(xk + xp), wv)
                a2 = a2.addingProduct(load16(xk + 2 * xp), wv)
                a3 = a3.addingProduct(load16(xk + 3 * xp), wv)
            }
            xr += xRow; wk += kernelW * c
        }
        a0 += b; a1 += b; a2 += b; a3 += b
        if let r = rp {
            a0 += load16(r); a1 += load16(r + resPixel); a2 += load16(r + 2 * resPixel); a3 += load16(r + 3 * resPixel)
            rp = r + 4 * resPixel
        }
        store16(a0, o); store16(a1, o + outPixel); store16(a2, o + 2 * outPixel); store16(a3, o + 3 * outPixel)
        xg += 4 * xp; o += 4 * outPixel
    }
}

/// One pixel (border or not), one channel block: only the taps inside the input.
@inline(__always)
func dwPixel(_ r: DwRow, _ ox: Int, channel ch: Int) {
    let start = ox * r.strideW - r.padLeft
    let kxLo = start >= 0 ? 0 : (-start + r.dilationW - 1) / r.dilationW
    let kxHi = max(kxLo, min(r.kernelW, start >= r.inWidth ? 0 : (r.inWidth - 1 - start) / r.dilationW + 1))
    let c = r.channels, lanes = r.lanes
    var acc = SIMD16<Float>(repeating: 0)
    var xr = r.x + (start + kxLo * r.dilationW) * r.inStride + ch
    var wr = r.w + kxLo * c + ch
    for _ in 0..<r.rows {
        var x = xr, w = wr
        for _ in kxLo..<kxHi {
            if lanes == 16 { acc = acc.addingProduct(load16(x), load16(w)) }
            else { acc = acc.addingProduct(loadPartial(x, lanes), loadPartial(w, lanes)) }
            x += r.xCol; w += c
        }
        xr += r.xRow; wr += r.kernelW * c
    }
    let j = ox - r.ox0
    if lanes == 16 {
        var v = acc + load16(r.bias + ch)
        if let res = r.residual { v += load16(res + j * r.resPixel + ch) }
        store16(v, r.out + j * r.outPixel + ch)
    } else {
        var v = acc + loadPartial(r.bias + ch, lanes)
        if let res = r.residual { v += loadPartial(res + j * r.resPixel + ch, lanes) }
        storePartial(v, r.out + j * r.outPixel + ch, lanes)
    }
}
