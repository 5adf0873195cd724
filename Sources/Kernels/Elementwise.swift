// Elementwise and layout kernels, NHWC, vectorized 16 floats at a time.
//
// Flat kernels take a range of element indices; per-pixel kernels a range of pixels
// (batch folded in). Each element is computed independently, so any split is bit-exact.

/// out[i] = act(x[i]) for i in `elements`. `out` may equal `x` (in place).
/// Every activation gets its own loop with the body inlined, each in its own small function:
/// one out-of-line call per vector is latency-bound (~50 cycles for the exp-based ones), and
/// in one big function the optimizer stopped inlining the closures (the depthwise kernels'
/// ReLU6 pass then cost ~5% of MobileNetV2).
public func applyActivation(_ act: Activation, input x: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                            elements: Range<Int>) {
    switch act {
    case .none: if UnsafePointer(out) != x { copyElements(x, out, elements) }
    case .relu: reluElements(x, out, elements)
    case .relu6: relu6Elements(x, out, elements)
    case .sigmoid: sigmoidElements(x, out, elements)
    case .silu: siluElements(x, out, elements)
    case .tanh: tanhElements(x, out, elements)
    case .leakyRelu, .hardswish, .hardsigmoid: activationLoop(x, out, elements) { activate($0, act) }
    }
}

@inline(never) func copyElements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e) { $0 }
}
@inline(never) func reluElements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e) { max16($0, SIMD16<Float>(repeating: 0)) }
}
@inline(never) func relu6Elements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e) { clamp16($0, SIMD16<Float>(repeating: 0), SIMD16<Float>(repeating: 6)) }
}
@inline(never) func sigmoidElements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e, sigmoidInline)
}
@inline(never) func siluElements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e, siluInline)
}
@inline(never) func tanhElements(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ e: Range<Int>) {
    activationLoop(x, out, e, tanhInline)
}

@_transparent
func activationLoop(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ elements: Range<Int>,
                    _ f: (SIMD16<Float>) -> SIMD16<Float>) {
    var i = elements.lowerBound
    while i + 16 <= elements.upperBound {
        store16(f(load16(x + i)), out + i)
        i += 16
    }
    if i < elements.upperBound {
        let n = elements.upperBound - i
        storePartial(f(loadPartial(x + i, n)), out + i, n)
    }
}

/// out[i] = act(a[i] + b[i]). `out` may equal `a` or `b`.
public func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                elements: Range<Int>, activation act: Activation = .none) {
    var i = elements.lowerBound
    while i + 16 <= elements.upperBound {
        store16(activate(load16(a + i) + load16(b + i), act), out + i)
        i += 16
    }
    if i < elements.upperBound {
        let n = elements.upperBound - i
        storePartial(activate(loadPartial(a + i, n) + loadPartial(b + i, n), act), out + i, n)
    }
}

/// out[i] = a[i] * b[i].
public func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                     elements: Range<Int>) {
    var i = elements.lowerBound
    while i + 16 <= elements.upperBound {
        store16(load16(a + i) * load16(b + i), out + i)
        i += 16
    }
    if i < elements.upperBound {
        let n = elements.upperBound - i
        storePartial(loadPartial(a + i, n) * loadPartial(b + i, n), out + i, n)
    }
}

/// Calls `body(firstChannel, lanes)` for each block of up to 16 channels (or elements).
@inlinable @inline(__always)
public func perChannel(_ c: Int, _ body: (Int, Int) -> Void) {
    var ch = 0
    while ch < c {
        body(ch, min(16, c - ch))
        ch += 16
    }
}

/// Squeeze-excitation gate: y[n, h, w, c] = x[n, h, w, c] * g[n, c] for pixels `pixels` of
/// an `[N, H, W, C]` tensor with `pixelsPerImage = H * W`. `out` may equal `x`.
public func channelGate(input x: UnsafePointer<Float>, gate g: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                        channels c: Int, pixelsPerImage hw: Int, pixels: Range<Int>) {
    for p in pixels {
        let gp = g + (p / hw) * c, xp = x + p * c, op = out + p * c
        perChannel(c) { ch, lanes in
            if lanes == 16 {
                store16(load16(xp + ch) * load16(gp + ch), op + ch)
            } else {
                storePartial(loadPartial(xp + ch, lanes) * loadPartial(gp + ch, lanes), op + ch, lanes)
            }
        }
    }
}

/// Per-channel affine (inference batch norm when not folded into a conv):
/// y = act(x * scale[c] + shift[c]) for pixels `pixels`, NHWC. `out` may equal `x`.
public func scaleShift(input x: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                       output out: UnsafeMutablePointer<Float>, channels c: Int, pixels: Range<Int>,
                       activation act: Activation = .none) {
    for p in pixels {
        let xp = x + p * c, op = out + p * c
        perChannel(c) { ch, lanes in
            if lanes == 16 {
                store16(activate(load16(xp + ch) * load16(scale + ch) + load16(shift + ch), act), op + ch)
            } else {
                let v = loadPartial(xp + ch, lanes) * loadPartial(scale + ch, lanes) + loadPartial(shift + ch, lanes)
                storePartial(activate(v, act), op + ch, lanes)
            }
        }
    }
}

/// Folds inference batch-norm parameters into per-channel scale and shift:
/// scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
public func batchNormScaleShift(gamma: [Float], beta: [Float], mean: [Float], variance: [Float],
                                epsilon: Float = 1e-5) -> (scale: [Float], shift: [Float]) {
    var scale = [Float](repeating: 0, count: gamma.count), shift = scale
    for c in 0..<gamma.count {
        let s = Double(gamma[c]) / (Double(variance[c]) + Double(epsilon)).squareRoot()
        scale[c] = Float(s)
        shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
    }
    return (scale, shift)
}

/// Softmax over the last axis of length `length` for rows `rows` (row r at `x + r * length`).
/// Max-subtracted; `out` may equal `x`.
public func softmax(input x: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>, length: Int, rows: Range<Int>) {
    for r in rows {
        let xp = x + r * length, op = out + r * length
        var mv = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= length { mv = max16(mv, load16(xp + i)); i += 16 }
        var m = mv.max()
        while i < length { m = max(m, xp[i]); i += 1 }
        let mm = SIMD16<Float>(repeating: m)
        var sv = SIMD16<Float>(repeating: 0)
        i = 0
        while i + 16 <= length {
            let e = exp16(load16(xp + i) - mm)
            store16(e, op + i); sv += e; i += 16
        }
        if i < length {
            let n = length - i
            let e = exp16(loadPartial(xp + i, n) - mm)
            storePartial(e, op + i, n)
            sv += e.replacing(with: 0, where: SIMD16<Int32>(0..<16) .>= Int32(n))
        }
        let inv = SIMD16<Float>(repeating: 1 / sv.sum())
        i = 0
        while i + 16 <= length { store16(load16(op + i) * inv, op + i); i += 16 }
        while i < length { op[i] *= inv[0]; i += 1 }
    }
}

/// NCHW -> NHWC for pixels `pixels` of `0..<N*H*W`. Reads 16 pixels of a channel plane per step.
public func nchwToNhwc(input x: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                       channels c: Int, pixelsPerImage hw: Int, pixels: Range<Int>) {
    var p = pixels.lowerBound
    while p < pixels.upperBound {
        let n = p / hw, q = p % hw
        let count = min(16, pixels.upperBound - p, hw - q)
        let src = x + n * c * hw + q
        for ch in 0..<c {
            let s = src + ch * hw
            for j in 0..<count { out[(p + j) * c + ch] = s[j] }
        }
        p += count
    }
}

/// NHWC -> NCHW for pixels `pixels` of `0..<N*H*W`.
public func nhwcToNchw(input x: UnsafePointer<Float>, output out: UnsafeMutablePointer<Float>,
                       channels c: Int, pixelsPerImage hw: Int, pixels: Range<Int>) {
    var p = pixels.lowerBound
    while p < pixels.upperBound {
        let n = p / hw, q = p % hw
        let count = min(16, pixels.upperBound - p, hw - q)
        let dst = out + n * c * hw + q
        for ch in 0..<c {
            let d = dst + ch * hw
            for j in 0..<count { d[j] = x[(p + j) * c + ch] }
        }
        p += count
    }
}

/// Copies `channels` floats per pixel from `src` (pixel stride `srcStride`) to `dst` (pixel
/// stride `dstStride`): channel concat/slice in NHWC.
public func copyChannels(_ src: UnsafePointer<Float>, srcStride: Int, _ dst: UnsafeMutablePointer<Float>,
                         dstStride: Int, channels c: Int, pixels: Range<Int>) {
    for p in pixels {
        (dst + p * dstStride).update(from: src + p * srcStride, count: c)
    }
}
