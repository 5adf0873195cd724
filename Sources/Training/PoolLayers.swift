// Pooling layers. Forward uses the inference kernels' window arithmetic (PyTorch's, including
// ceil_mode and padding); max pool in training mode also records, per output element, which
// input pixel won (the first maximum in scan order, as PyTorch), so backward is a scatter of
// dY to the winners. Average pools (adaptive too) scatter dY / divisor over each window.
// Backward scatters are split over images, which never share input pixels.

import IR
import Kernels

/// Window of output pixel (oy, ox) of an avg/max pool: clamped input rows and columns, and the
/// divisor of an average pool (PyTorch's avg_pool2d / adaptive_avg_pool2d rules).
struct PoolWindow {
    var y0: Int, y1: Int, x0: Int, x1: Int, divisor: Int
}

/// Off in tests to compare the few-channel max pool path against the general one.
nonisolated(unsafe) var directPoolEnabled = true

final class PoolLayer: TrainLayer, @unchecked Sendable {
    enum Kind { case max, avg, adaptive }
    let kind: Kind
    let geometry: Pool2dShape

    init(node: Int, name: String, pool: Pool2D?, adaptive: Bool, inShape: TensorShape, outShape: TensorShape, batch: Int) {
        if let p = pool, !adaptive {
            kind = p.kind == .max ? .max : .avg
            geometry = Pool2dShape(batch: batch, channels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                                   kernelH: p.kernel.h, kernelW: p.kernel.w, strideH: p.stride.h, strideW: p.stride.w,
                                   padTop: p.padding.h, padLeft: p.padding.w, padBottom: p.padding.h, padRight: p.padding.w,
                                   dilationH: p.dilation.h, dilationW: p.dilation.w, ceilMode: p.ceilMode,
                                   countIncludePad: p.countIncludePad)
        } else {
            kind = .adaptive
            geometry = Pool2dShape(batch: batch, channels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                                   kernelH: 1, kernelW: 1, strideH: 1, strideW: 1)
        }
        super.init(node: node, name: name, inShapes: [inShape], outShape: outShape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(auxPerSample: kind == .max ? outFloats : 0) }

    func window(_ oy: Int, _ ox: Int) -> PoolWindow {
        let g = geometry
        switch kind {
        case .adaptive:
            let oh = outShape.height, ow = outShape.width
            let y0 = oy * g.inHeight / oh, y1 = ((oy + 1) * g.inHeight + oh - 1) / oh
            let x0 = ox * g.inWidth / ow, x1 = ((ox + 1) * g.inWidth + ow - 1) / ow
            return PoolWindow(y0: y0, y1: y1, x0: x0, x1: x1, divisor: (y1 - y0) * (x1 - x0))
        case .avg, .max:
            var y0 = oy * g.strideH - g.padTop, x0 = ox * g.strideW - g.padLeft
            var y1 = min(y0 + g.kernelH, g.inHeight + g.padBottom), x1 = min(x0 + g.kernelW, g.inWidth + g.padRight)
            let poolSize = (y1 - y0) * (x1 - x0)
            y0 = max(y0, 0); x0 = max(x0, 0)
            y1 = min(y1, g.inHeight); x1 = min(x1, g.inWidth)
            return PoolWindow(y0: y0, y1: y1, x0: x0, x1: x1, divisor: g.countIncludePad ? poolSize : (y1 - y0) * (x1 - x0))
        }
    }

    override func forward(_ s: RunState) {
        let g = geometry.withBatch(s.n)
        let xs = SendablePointer(x[0]), ys = SendableMutablePointer(y)
        let pixels = s.n * outPixels
        let work = pixels * g.channels * max(1, g.kernelH * g.kernelW)
        switch kind {
        case .avg:
            parallel(pixels, threads: s.threads, work: work) { r in avgPool2d(shape: g, input: xs.pointer, output: ys.pointer, pixels: r) }
        case .adaptive:
            let oh = outShape.height, ow = outShape.width
            parallel(pixels, threads: s.threads, work: work) { r in
                adaptiveAvgPool2d(batch: g.batch, channels: g.channels, inHeight: g.inHeight, inWidth: g.inWidth,
                                  outHeight: oh, outWidth: ow, input: xs.pointer, output: ys.pointer, pixels: r)
            }
        case .max:
            guard s.training, let aux else {
                parallel(pixels, threads: s.threads, work: work) { r in maxPool2d(shape: g, input: xs.pointer, output: ys.pointer, pixels: r) }
                return
            }
            let idx = SendableMutablePointer(aux)
            parallel(pixels, threads: s.threads, work: work) { r in self.maxWithIndices(g, xs.pointer, ys.pointer, idx.pointer, r) }
        }
    }

    /// Max pool that also stores the winning input pixel (within its image) per element, as
    /// Int32 bits in `aux`; -1 when the window has no input pixel.
    private func maxWithIndices(_ g: Pool2dShape, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ aux: UnsafeMutablePointer<Float>, _ pixels: Range<Int>) {
        let c = g.channels, oh = g.outHeight, ow = g.outWidth
        let idx = UnsafeMutableRawPointer(aux).assumingMemoryBound(to: Int32.self)
        if isPlain2x2 && c % 16 == 0 {
            // 2x2/2 windows inside the image, whole 16-channel vectors: four loads per vector,
            // the same winner rule (strict >, so the first maximum in scan order).
            let iw = g.inWidth, ihw = g.inHeight * iw
            var p = pixels.lowerBound
            while p < pixels.upperBound {
                let ox0 = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
                let end = min(pixels.upperBound, p + ow - ox0)
                let base = x + n * ihw * c
                var q0 = 2 * oy * iw + 2 * ox0
                while p < end {
                    let r0 = base + q0 * c, r1 = r0 + iw * c
                    let yp = y + p * c, ip = idx + p * c
                    let a0 = SIMD16<Int32>(repeating: Int32(q0)), a1 = SIMD16<Int32>(repeating: Int32(q0 + 1))
                    let a2 = SIMD16<Int32>(repeating: Int32(q0 + iw)), a3 = SIMD16<Int32>(repeating: Int32(q0 + iw + 1))
                    var ch = 0
                    while ch < c {
                        var m = load16(r0 + ch), at = a0
                        let v1 = load16(r0 + c + ch), v2 = load16(r1 + ch), v3 = load16(r1 + c + ch)
                        var b = v1 .> m; m.replace(with: v1, where: b); at.replace(with: a1, where: b)
                        b = v2 .> m; m.replace(with: v2, where: b); at.replace(with: a2, where: b)
                        b = v3 .> m; m.replace(with: v3, where: b); at.replace(with: a3, where: b)
                        store16(m, yp + ch)
                        UnsafeMutableRawPointer(ip + ch).storeBytes(of: at, as: SIMD16<Int32>.self)
                        ch += 16
                    }
                    p += 1; q0 += 2
                }
            }
            return
        }
        if c < 16 && directPoolEnabled && g.padTop == 0 && g.padLeft == 0 && g.dilationH == 1 && g.dilationW == 1
            && (oh - 1) * g.strideH + g.kernelH <= g.inHeight && (ow - 1) * g.strideW + g.kernelW <= g.inWidth {
            // Few channels, every window inside the image: scalar scan per channel (a 16-lane
            // block would be mostly masked). Same winner rule: the first maximum in scan order.
            let kh = g.kernelH, kw = g.kernelW, iw = g.inWidth
            if kh == 2 && kw == 2 {
                let sh = g.strideH, sw = g.strideW, ihw = g.inHeight * iw
                var p = pixels.lowerBound
                while p < pixels.upperBound {
                    let ox0 = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
                    let end = min(pixels.upperBound, p + ow - ox0)
                    let base = x + n * ihw * c
                    var q0 = oy * sh * iw + ox0 * sw
                    while p < end {
                        let r0 = base + q0 * c, r1 = r0 + iw * c
                        let yp = y + p * c, ip = idx + p * c
                        let q1 = Int32(q0 + 1), q2 = Int32(q0 + iw), q3 = Int32(q0 + iw + 1)
                        for ch in 0..<c {
                            var m = r0[ch], at = Int32(q0)
                            let v1 = r0[c + ch], v2 = r1[ch], v3 = r1[c + ch]
                            var b = v1 > m; m = b ? v1 : m; at = b ? q1 : at
                            b = v2 > m; m = b ? v2 : m; at = b ? q2 : at
                            b = v3 > m; m = b ? v3 : m; at = b ? q3 : at
                            yp[ch] = m
                            ip[ch] = at
                        }
                        p += 1; q0 += sw
                    }
                }
                return
            }
            for p in pixels {
                let ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
                let q0 = oy * g.strideH * iw + ox * g.strideW
                let base = x + n * g.inHeight * iw * c
                let yp = y + p * c, ip = idx + p * c
                for ch in 0..<c {
                    var m = base[q0 * c + ch], at = q0
                    for ky in 0..<kh {
                        let rowq = q0 + ky * iw
                        for kx in 0..<kw where ky > 0 || kx > 0 {
                            let q = rowq + kx
                            let v = base[q * c + ch]
                            let better = v > m
                            m = better ? v : m
                            at = better ? q : at
                        }
                    }
                    yp[ch] = m
                    ip[ch] = Int32(at)
                }
            }
            return
        }
        for p in pixels {
            let ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
            let y0 = oy * g.strideH - g.padTop, x0 = ox * g.strideW - g.padLeft
            let base = x + n * g.inHeight * g.inWidth * c
            perChannel(c) { ch, lanes in
                var m = SIMD16<Float>(repeating: -.infinity)
                var at = SIMD16<Int32>(repeating: -1)
                for ky in 0..<g.kernelH {
                    let iy = y0 + ky * g.dilationH
                    if iy < 0 || iy >= g.inHeight { continue }
                    for kx in 0..<g.kernelW {
                        let ix = x0 + kx * g.dilationW
                        if ix < 0 || ix >= g.inWidth { continue }
                        let q = iy * g.inWidth + ix
                        let v = ldp(base + q * c + ch, lanes)
                        let better = (v .> m) .| (at .< 0)
                        m = m.replacing(with: v, where: better)
                        at = at.replacing(with: Int32(q), where: better)
                    }
                }
                stp(m, y + p * c + ch, lanes)
                if lanes == 16 {
                    UnsafeMutableRawPointer(idx + p * c + ch).storeBytes(of: at, as: SIMD16<Int32>.self)
                } else {
                    for l in 0..<lanes { idx[p * c + ch + l] = at[l] }
                }
            }
        }
    }

    /// Max pool with 2x2 windows, stride 2, that tile the input exactly (no padding, even
    /// sides): each input pixel is in exactly one window. Takes the vector paths when the
    /// channels are whole 16-lane vectors.
    var isPlain2x2: Bool {
        let g = geometry
        return kind == .max && directPoolEnabled && g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2
            && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0 && g.dilationH == 1 && g.dilationW == 1
            && g.inHeight == 2 * g.outHeight && g.inWidth == 2 * g.outWidth
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let g = geometry, c = g.channels
        if isPlain2x2 && c % 16 == 0, let aux {
            // Every input element belongs to one window: write dY where it won, zero (or
            // leave the accumulated value) elsewhere; no separate zeroing pass.
            let ds = SendableMutablePointer(d), gs = SendablePointer(dy), ids = SendablePointer(aux)
            let acc = accumulate[0], ow = g.outWidth, ohw = g.outHeight * ow, iw = g.inWidth
            let outPixels = s.n * ohw
            parallel(outPixels, threads: s.threads, work: outPixels * c * 8) { r in
                let zero = SIMD16<Float>(repeating: 0)
                for p in r {
                    let ox = p % ow, oy = (p / ow) % g.outHeight, n = p / ohw
                    let q0 = 2 * oy * iw + 2 * ox
                    let r0 = ds.pointer + (n * g.inHeight * iw + q0) * c, r1 = r0 + iw * c
                    let gp = gs.pointer + p * c
                    let ip = UnsafeRawPointer(ids.pointer + p * c)
                    let a0 = SIMD16<Int32>(repeating: Int32(q0)), a1 = SIMD16<Int32>(repeating: Int32(q0 + 1))
                    let a2 = SIMD16<Int32>(repeating: Int32(q0 + iw))
                    var ch = 0
                    while ch < c {
                        let v = load16(gp + ch)
                        let at = ip.loadUnaligned(fromByteOffset: ch * 4, as: SIMD16<Int32>.self)
                        var w0 = zero, w1 = zero, w2 = zero, w3 = zero
                        w0.replace(with: v, where: at .== a0)
                        w1.replace(with: v, where: at .== a1)
                        w2.replace(with: v, where: at .== a2)
                        w3.replace(with: v, where: (at .!= a0) .& (at .!= a1) .& (at .!= a2))
                        if acc {
                            store16(load16(r0 + ch) + w0, r0 + ch); store16(load16(r0 + c + ch) + w1, r0 + c + ch)
                            store16(load16(r1 + ch) + w2, r1 + ch); store16(load16(r1 + c + ch) + w3, r1 + c + ch)
                        } else {
                            store16(w0, r0 + ch); store16(w1, r0 + c + ch); store16(w2, r1 + ch); store16(w3, r1 + c + ch)
                        }
                        ch += 16
                    }
                }
            }
            return
        }
        let inPerImage = g.inHeight * g.inWidth * c, outPerImage = outFloats
        let ds = SendableMutablePointer(d), gs = SendablePointer(dy)
        let acc = accumulate[0]
        let auxp = aux.map(SendableMutablePointer.init)
        let oh = outShape.height, ow = outShape.width
        parallel(s.n, threads: s.threads, work: s.n * (inPerImage + outPerImage) * 4) { images in
            for n in images {
                let dxi = ds.pointer + n * inPerImage, dyi = gs.pointer + n * outPerImage
                if !acc { dxi.update(repeating: 0, count: inPerImage) }
                if self.kind == .max, let a = auxp {
                    let idx = UnsafeRawPointer(a.pointer + n * outPerImage).assumingMemoryBound(to: Int32.self)
                    for p in 0..<(oh * ow) {
                        for ch in 0..<c {
                            let q = Int(idx[p * c + ch])
                            if q >= 0 { dxi[q * c + ch] += dyi[p * c + ch] }
                        }
                    }
                    continue
                }
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let w = self.window(oy, ox)
                        let src = dyi + (oy * ow + ox) * c
                        let inv = 1 / Float(max(1, w.divisor))
                        for iy in w.y0..<max(w.y0, w.y1) {
                            for ix in w.x0..<max(w.x0, w.x1) {
                                let dst = dxi + (iy * g.inWidth + ix) * c
                                perChannel(c) { ch, lanes in
                                    stp(ldp(dst + ch, lanes) + ldp(src + ch, lanes) * SIMD16<Float>(repeating: inv), dst + ch, lanes)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
