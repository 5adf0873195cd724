import Kernels
import Testing

@Suite struct ElementwiseTests {
    @Test(arguments: allActivations)
    func activationInPlace(_ act: Activation) {
        var rng = SplitMix64(seed: 31)
        let x = rng.array(1000, scale: 8)
        let ref = Reference.activation(x, act)
        var y = x
        y.withUnsafeMutableBufferPointer { p in
            let sp = SendableMutablePointer(p.baseAddress!)
            parallelFor(p.count - 3, threads: 2) { r in applyActivation(act, input: sp.pointer, output: sp.pointer, elements: r) }
            applyActivation(act, input: sp.pointer, output: sp.pointer, elements: (p.count - 3)..<p.count)
        }
        #expect(relativeError(y, ref) <= 1e-5)
    }

    @Test(arguments: [Activation.none, .relu, .silu])
    func addWithActivation(_ act: Activation) {
        var rng = SplitMix64(seed: 32)
        let a = rng.array(333), b = rng.array(333)
        let ref = Reference.add(a, b, activation: act)
        var y = [Float](repeating: 0, count: 333)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
            add(ap.baseAddress!, bp.baseAddress!, output: yp.baseAddress!, elements: 0..<100, activation: act)
            add(ap.baseAddress!, bp.baseAddress!, output: yp.baseAddress!, elements: 100..<333, activation: act)
        } } }
        #expect(relativeError(y, ref) <= 1e-6)
    }

    @Test(arguments: [1, 17, 48])
    func channelGateMatchesReference(_ c: Int) {
        var rng = SplitMix64(seed: 33)
        let n = 3, hw = 13
        let x = rng.array(n * c * hw), g = rng.array(n * c)
        let ref = Reference.channelMultiply(x, gate: g, batch: n, channels: c, spatial: hw)
        let got = g.withUnsafeBufferPointer { gp in
            let gs = SendablePointer(gp.baseAddress!)
            return nhwcRun(x, batch: n, channels: c, inSpatial: hw, outSpatial: hw, threads: 2) { i, o, r in
                channelGate(input: i, gate: gs.pointer, output: o, channels: c, pixelsPerImage: hw, pixels: r)
            }
        }
        #expect(got == ref)
    }

    @Test(arguments: [1, 10, 16, 1000, 37])
    func softmaxMatchesReference(_ length: Int) {
        var rng = SplitMix64(seed: 34)
        let rows = 3
        let x = rng.array(rows * length, scale: 10)
        let ref = Reference.softmax(x, rows: rows, length: length)
        var y = x
        y.withUnsafeMutableBufferPointer { p in
            softmax(input: p.baseAddress!, output: p.baseAddress!, length: length, rows: 0..<rows)
        }
        #expect(relativeError(y, ref) <= 1e-5)
    }

    @Test func batchNorm() {
        var rng = SplitMix64(seed: 35)
        let n = 2, c = 21, hw = 11
        let x = rng.array(n * c * hw)
        let gamma = rng.array(c), beta = rng.array(c), mean = rng.array(c)
        let variance = rng.array(c).map { abs($0) + 0.1 }
        let ref = Reference.batchNorm(x, batch: n, channels: c, spatial: hw, gamma: gamma, beta: beta, mean: mean, variance: variance)
        let (scale, shift) = batchNormScaleShift(gamma: gamma, beta: beta, mean: mean, variance: variance)
        let got = scale.withUnsafeBufferPointer { sp in shift.withUnsafeBufferPointer { hp in
            let ss = SendablePointer(sp.baseAddress!), hs = SendablePointer(hp.baseAddress!)
            return nhwcRun(x, batch: n, channels: c, inSpatial: hw, outSpatial: hw) { i, o, r in
                scaleShift(input: i, scale: ss.pointer, shift: hs.pointer, output: o, channels: c, pixels: r)
            }
        } }
        #expect(relativeError(got, ref) <= 1e-5)
    }

    @Test func transposesRoundTrip() {
        var rng = SplitMix64(seed: 36)
        let n = 2, c = 19, hw = 37
        let x = rng.array(n * c * hw)
        var nhwc = [Float](repeating: 0, count: x.count), back = nhwc
        x.withUnsafeBufferPointer { xp in nhwc.withUnsafeMutableBufferPointer { yp in
            nchwToNhwc(input: xp.baseAddress!, output: yp.baseAddress!, channels: c, pixelsPerImage: hw, pixels: 0..<30)
            nchwToNhwc(input: xp.baseAddress!, output: yp.baseAddress!, channels: c, pixelsPerImage: hw, pixels: 30..<(n * hw))
        } }
        #expect(nhwc == toNHWC(x, batch: n, channels: c, spatial: hw))
        nhwc.withUnsafeBufferPointer { xp in back.withUnsafeMutableBufferPointer { yp in
            nhwcToNchw(input: xp.baseAddress!, output: yp.baseAddress!, channels: c, pixelsPerImage: hw, pixels: 0..<(n * hw))
        } }
        #expect(back == x)
    }

    @Test func concatViaChannelCopy() {
        var rng = SplitMix64(seed: 37)
        let n = 2, hw = 5, c1 = 3, c2 = 17
        let a = rng.array(n * c1 * hw), b = rng.array(n * c2 * hw)
        let ref = Reference.concatChannels([a, b], channels: [c1, c2], batch: n, spatial: hw)
        let ah = toNHWC(a, batch: n, channels: c1, spatial: hw), bh = toNHWC(b, batch: n, channels: c2, spatial: hw)
        var y = [Float](repeating: 0, count: n * hw * (c1 + c2))
        ah.withUnsafeBufferPointer { ap in bh.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
            copyChannels(ap.baseAddress!, srcStride: c1, yp.baseAddress!, dstStride: c1 + c2, channels: c1, pixels: 0..<(n * hw))
            copyChannels(bp.baseAddress!, srcStride: c2, yp.baseAddress! + c1, dstStride: c1 + c2, channels: c2, pixels: 0..<(n * hw))
        } } }
        #expect(toNCHW(y, batch: n, channels: c1 + c2, spatial: hw) == ref)
    }

    @Test func parallelForPartitions() {
        for count in [0, 1, 7, 64, 100] {
            for threads in 1...4 {
                for alignment in [1, 8] {
                    var covered = 0
                    for t in 0..<threads {
                        let r = chunk(count, parts: threads, index: t, alignment: alignment)
                        #expect(r.lowerBound == covered)
                        covered = r.upperBound
                    }
                    #expect(covered == count)
                }
            }
        }
    }
}
