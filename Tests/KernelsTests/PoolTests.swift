import Kernels
import Testing

struct PoolCase: CustomTestStringConvertible, Sendable {
    var shape: Pool2dShape
    var testDescription: String {
        let s = shape
        return "N\(s.batch) C\(s.channels) \(s.inHeight)x\(s.inWidth) k\(s.kernelH)x\(s.kernelW) s\(s.strideH),\(s.strideW) "
            + "p\(s.padTop),\(s.padLeft),\(s.padBottom),\(s.padRight) d\(s.dilationH) ceil=\(s.ceilMode) incl=\(s.countIncludePad)"
    }
}

func pool(_ n: Int = 1, _ c: Int, _ h: Int, _ w: Int, k: Int, s: Int, p: Int = 0, pad: (Int, Int, Int, Int)? = nil,
          d: Int = 1, ceil: Bool = false, include: Bool = true) -> PoolCase {
    let (pt, pl, pb, pr) = pad ?? (p, p, p, p)
    return PoolCase(shape: Pool2dShape(batch: n, channels: c, inHeight: h, inWidth: w, kernelH: k, kernelW: k,
                                       strideH: s, strideW: s, padTop: pt, padLeft: pl, padBottom: pb, padRight: pr,
                                       dilationH: d, dilationW: d, ceilMode: ceil, countIncludePad: include))
}

let poolCases: [PoolCase] = [
    pool(1, 3, 13, 13, k: 3, s: 2, p: 1),
    pool(3, 17, 13, 13, k: 3, s: 2, p: 1, ceil: true),
    pool(1, 33, 5, 5, k: 2, s: 2, ceil: true),                 // ceil adds a partial window
    pool(1, 16, 6, 6, k: 3, s: 2, p: 1, ceil: true, include: false),
    pool(1, 5, 13, 13, k: 5, s: 4, p: 2, ceil: true),
    pool(2, 20, 7, 7, k: 7, s: 1),
    pool(1, 9, 13, 13, k: 2, s: 1, p: 1, include: false),
    pool(1, 40, 8, 8, k: 3, s: 3, pad: (1, 0, 1, 1), ceil: true),
    pool(1, 1, 1, 1, k: 1, s: 1),
    pool(1, 4, 5, 5, k: 2, s: 2, p: 1, ceil: true),
]

let maxOnlyCases: [PoolCase] = [
    pool(1, 18, 13, 13, k: 3, s: 2, p: 1, d: 2),
    pool(1, 7, 13, 13, k: 3, s: 1, p: 1, d: 2, ceil: true),
]

func nhwcRun(_ x: [Float], batch: Int, channels: Int, inSpatial: Int, outSpatial: Int, threads: Int = 1,
             _ body: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void) -> [Float] {
    let xh = toNHWC(x, batch: batch, channels: channels, spatial: inSpatial)
    let y = xh.withUnsafeBufferPointer { xp in
        let xs = SendablePointer(xp.baseAddress!)
        return runSplit(batch * outSpatial, threads: threads, outputCount: batch * outSpatial * channels) { r, o in
            body(xs.pointer, o, r)
        }
    }
    return toNCHW(y, batch: batch, channels: channels, spatial: outSpatial)
}

@Suite struct PoolTests {
    @Test(arguments: poolCases + maxOnlyCases)
    func maxPool(_ c: PoolCase) {
        let s = c.shape
        var rng = SplitMix64(seed: 21)
        let x = rng.array(s.batch * s.channels * s.inHeight * s.inWidth)
        let ref = Reference.maxPool2d(x, s)
        for threads in [1, 2] {
            let got = nhwcRun(x, batch: s.batch, channels: s.channels, inSpatial: s.inHeight * s.inWidth,
                              outSpatial: s.outHeight * s.outWidth, threads: threads) { i, o, r in
                maxPool2d(shape: s, input: i, output: o, pixels: r)
            }
            #expect(got == ref)
        }
    }

    @Test(arguments: poolCases)
    func avgPool(_ c: PoolCase) {
        let s = c.shape
        var rng = SplitMix64(seed: 22)
        let x = rng.array(s.batch * s.channels * s.inHeight * s.inWidth)
        let ref = Reference.avgPool2d(x, s)
        let got = nhwcRun(x, batch: s.batch, channels: s.channels, inSpatial: s.inHeight * s.inWidth,
                          outSpatial: s.outHeight * s.outWidth) { i, o, r in
            avgPool2d(shape: s, input: i, output: o, pixels: r)
        }
        #expect(relativeError(got, ref) <= 1e-5)
    }

    /// PyTorch output sizes for a few known cases.
    @Test func outputSizes() {
        #expect(pool(1, 1, 112, 112, k: 3, s: 2, p: 1).shape.outHeight == 56)
        #expect(pool(1, 1, 5, 5, k: 2, s: 2, ceil: true).shape.outHeight == 3)
        #expect(pool(1, 1, 5, 5, k: 2, s: 2).shape.outHeight == 2)
        #expect(pool(1, 1, 6, 6, k: 3, s: 2, p: 1, ceil: true).shape.outHeight == 4)
        #expect(pool(1, 1, 147, 147, k: 3, s: 2, ceil: true).shape.outHeight == 73)
        // The 4th ceil_mode window would start in the right padding only: dropped.
        #expect(pool(1, 1, 5, 5, k: 2, s: 2, p: 1, ceil: true).shape.outHeight == 3)
    }

    @Test(arguments: [(13, 13, 5, 3), (7, 7, 1, 1), (5, 9, 3, 4), (6, 6, 6, 6), (3, 3, 7, 5)])
    func adaptiveAvgPool(_ h: Int, _ w: Int, _ oh: Int, _ ow: Int) {
        var rng = SplitMix64(seed: 23)
        let n = 2, c = 19
        let x = rng.array(n * c * h * w)
        let ref = Reference.adaptiveAvgPool2d(x, batch: n, channels: c, height: h, width: w, outHeight: oh, outWidth: ow)
        let got = nhwcRun(x, batch: n, channels: c, inSpatial: h * w, outSpatial: oh * ow, threads: 2) { i, o, r in
            adaptiveAvgPool2d(batch: n, channels: c, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow,
                              input: i, output: o, pixels: r)
        }
        #expect(relativeError(got, ref) <= 1e-5)
    }

    @Test func globalAveragePool() {
        var rng = SplitMix64(seed: 24)
        let n = 3, c = 35, h = 7, w = 5
        let x = rng.array(n * c * h * w)
        let ref = Reference.adaptiveAvgPool2d(x, batch: n, channels: c, height: h, width: w, outHeight: 1, outWidth: 1)
        let got = nhwcRun(x, batch: n, channels: c, inSpatial: h * w, outSpatial: 1) { i, o, r in
            globalAvgPool(channels: c, height: h, width: w, input: i, output: o, images: r)
        }
        #expect(relativeError(got, ref) <= 1e-5)
    }
}
