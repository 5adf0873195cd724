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

    var p = pixels.lowerBound
    while p < pixels.upperBound {
        let ox = p % ow
        let oy = (p / ow) % oh
        let n = p / (ow * oh)
        let iy0 = oy * s.strideH - s.padTop
        // Valid ky: 0 <= iy0 + ky*dH < inHeight.
        let kyLo = iy0 >= 0 ? 0 : (-iy0 + s.dilationH - 1) / s.dilationH
        let kyHi = min(s.kernelH, iy0 >= s.inHeight ? 0 : (s.inHeight - 1 - iy0) / s.dilationH + 1)
        let ix0 = ox * s.strideW - s.padLeft
        let rowBase = input + n * s.inHeight * s.inWidth * inStride
        let out = output + p * outStride
        let res = epilogue.residual.map { $0 + p * epilogue.residualStride }

        if ox >= oxLo && ox + 3 < oxHi && p + 3 < pixels.upperBound {
            // Four interior pixels of one row.
            let step = s.strideW * inStride
            var ch = 0
            while ch < c {
                let lanes = min(16, c - ch)
                var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                for ky in kyLo..<max(kyLo, kyHi) {
                    let iy = iy0 + ky * s.dilationH
                    var x = rowBase + (iy * s.inWidth + ix0) * inStride + ch
                    var w = weights.weights + ky * s.kernelW * c + ch
                    for _ in 0..<s.kernelW {
                        if lanes == 16 {
                            let wv = load16(w)
                            a0 = a0.addingProduct(load16(x), wv)
                            a1 = a1.addingProduct(load16(x + step), wv)
                            a2 = a2.addingProduct(load16(x + 2 * step), wv)
                            a3 = a3.addingProduct(load16(x + 3 * step), wv)
                        } else {
                            let wv = loadPartial(w, lanes)
                            a0 = a0.addingProduct(loadPartial(x, lanes), wv)
                            a1 = a1.addingProduct(loadPartial(x + step, lanes), wv)
                            a2 = a2.addingProduct(loadPartial(x + 2 * step, lanes), wv)
                            a3 = a3.addingProduct(loadPartial(x + 3 * step, lanes), wv)
                        }
                        x += s.dilationW * inStride
                        w += c
                    }
                }
                let b = lanes == 16 ? load16(weights.bias + ch) : loadPartial(weights.bias + ch, lanes)
                dwFinish(a0, b, res.map { $0 + ch }, out + ch, lanes, act)
                dwFinish(a1, b, res.map { $0 + epilogue.residualStride + ch }, out + outStride + ch, lanes, act)
                dwFinish(a2, b, res.map { $0 + 2 * epilogue.residualStride + ch }, out + 2 * outStride + ch, lanes, act)
                dwFinish(a3, b, res.map { $0 + 3 * epilogue.residualStride + ch }, out + 3 * outStride + ch, lanes, act)
                ch += 16
            }
            p += 4
            continue
        }

        // One pixel, any position.
        let kxLo = ix0 >= 0 ? 0 : (-ix0 + s.dilationW - 1) / s.dilationW
        let kxHi = min(s.kernelW, ix0 >= s.inWidth ? 0 : (s.inWidth - 1 - ix0) / s.dilationW + 1)
        var ch = 0
        while ch + 64 <= c {
            var a0 = SIMD16<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
            for ky in kyLo..<max(kyLo, kyHi) {
                let iy = iy0 + ky * s.dilationH
                for kx in kxLo..<max(kxLo, kxHi) {
                    let x = rowBase + (iy * s.inWidth + ix0 + kx * s.dilationW) * inStride + ch
                    let w = weights.weights + (ky * s.kernelW + kx) * c + ch
                    a0 = a0.addingProduct(load16(x), load16(w))
                    a1 = a1.addingProduct(load16(x + 16), load16(w + 16))
                    a2 = a2.addingProduct(load16(x + 32), load16(w + 32))
                    a3 = a3.addingProduct(load16(x + 48), load16(w + 48))
                }
            }
            dwFinish(a0, load16(weights.bias + ch), res.map { $0 + ch }, out + ch, 16, act)
            dwFinish(a1, load16(weights.bias + ch + 16), res.map { $0 + ch + 16 }, out + ch + 16, 16, act)
            dwFinish(a2, load16(weights.bias + ch + 32), res.map { $0 + ch + 32 }, out + ch + 32, 16, act)
            dwFinish(a3, load16(weights.bias + ch + 48), res.map { $0 + ch + 48 }, out + ch + 48, 16, act)
            ch += 64
        }
        while ch < c {
            let lanes = min(16, c - ch)
            var a0 = SIMD16<Float>(repeating: 0)
            for ky in kyLo..<max(kyLo, kyHi) {
                let iy = iy0 + ky * s.dilationH
                for kx in kxLo..<max(kxLo, kxHi) {
                    let x = rowBase + (iy * s.inWidth + ix0 + kx * s.dilationW) * inStride + ch
                    let w = weights.weights + (ky * s.kernelW + kx) * c + ch
                    if lanes == 16 {
                        a0 = a0.addingProduct(load16(x), load16(w))
                    } else {
                        a0 = a0.addingProduct(loadPartial(x, lanes), loadPartial(w, lanes))
                    }
                }
            }
            let b = lanes == 16 ? load16(weights.bias + ch) : loadPartial(weights.bias + ch, lanes)
            dwFinish(a0, b, res.map { $0 + ch }, out + ch, lanes, act)
            ch += 16
        }
        p += 1
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
