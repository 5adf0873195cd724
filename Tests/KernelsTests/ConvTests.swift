import Kernels
import Testing

/// One conv test configuration (NCHW reference vs NHWC optimized).
struct ConvCase: CustomTestStringConvertible, Sendable {
    var shape: Conv2dShape
    var activation: Activation = .none
    var residual = false
    var testDescription: String {
        let s = shape
        return "N\(s.batch) C\(s.inChannels)->\(s.outChannels) \(s.inHeight)x\(s.inWidth) k\(s.kernelH)x\(s.kernelW) "
            + "s\(s.strideH),\(s.strideW) p\(s.padTop),\(s.padLeft),\(s.padBottom),\(s.padRight) "
            + "d\(s.dilationH),\(s.dilationW) g\(s.groups) \(activation)\(residual ? " +res" : "")"
    }
}

func conv(_ n: Int = 1, _ cin: Int, _ cout: Int, _ h: Int, _ w: Int, k: Int, kw: Int? = nil, s: Int = 1, sw: Int? = nil,
          p: Int = 0, pad: (Int, Int, Int, Int)? = nil, d: Int = 1, g: Int = 1,
          _ act: Activation = .none, res: Bool = false) -> ConvCase {
    let (pt, pl, pb, pr) = pad ?? (p, p, p, p)
    return ConvCase(shape: Conv2dShape(batch: n, inChannels: cin, inHeight: h, inWidth: w, outChannels: cout,
                                       kernelH: k, kernelW: kw ?? k, strideH: s, strideW: sw ?? s,
                                       padTop: pt, padLeft: pl, padBottom: pb, padRight: pr,
                                       dilationH: d, dilationW: d, groups: g),
                    activation: act, residual: res)
}

let convCases: [ConvCase] = [
    conv(1, 17, 33, 5, 5, k: 1),                          // pointwise GEMM path
    conv(3, 33, 17, 5, 7, k: 1, .relu, res: true),
    conv(1, 3, 16, 13, 13, k: 1, s: 2),                   // strided 1x1 (indirect)
    conv(1, 3, 17, 13, 13, k: 3, p: 1, .relu6),
    conv(3, 16, 33, 5, 5, k: 3, p: 1, .silu, res: true),
    conv(1, 17, 40, 13, 11, k: 3, s: 2, p: 1, .hardswish),
    conv(1, 8, 9, 13, 13, k: 3, p: 2, d: 2, .leakyRelu(0.2)),
    conv(1, 5, 7, 13, 13, k: 5, s: 1, p: 2, .sigmoid),
    conv(1, 5, 7, 13, 13, k: 5, s: 4, pad: (2, 1, 0, 3), .tanh),
    conv(2, 3, 8, 13, 13, k: 7, s: 2, p: 3, .hardsigmoid),
    conv(1, 3, 5, 13, 13, k: 11, s: 4, p: 2, .relu),
    conv(1, 4, 6, 1, 1, k: 3, p: 1),                       // 1x1 spatial, all-but-one taps padding
    conv(1, 6, 4, 5, 5, k: 3, kw: 1, s: 2, sw: 1, pad: (1, 0, 0, 0)),
    conv(1, 16, 32, 5, 5, k: 3, p: 1, g: 2, .relu, res: true),   // grouped
    conv(3, 34, 66, 5, 5, k: 1, g: 2, .silu),              // grouped pointwise
    conv(1, 12, 12, 13, 13, k: 3, s: 2, p: 1, d: 2, g: 4),
    conv(1, 33, 65, 7, 7, k: 3, pad: (0, 1, 2, 0), .relu), // N remainder 1 after two panels
]

/// Runs the optimized NHWC conv (or depthwise conv) on NCHW data and returns NCHW output.
func optimizedConv(_ c: ConvCase, x: [Float], weight: [Float], bias: [Float], residual: [Float]?,
                   threads: Int = 1, cuts: [Int]? = nil, depthwise: Bool = false) -> [Float] {
    let s = c.shape
    let inSp = s.inHeight * s.inWidth, outSp = s.outHeight * s.outWidth
    let xh = toNHWC(x, batch: s.batch, channels: s.inChannels, spatial: inSp)
    let rh = residual.map { toNHWC($0, batch: s.batch, channels: s.outChannels, spatial: outSp) } ?? []
    let outCount = s.batch * s.outChannels * outSp
    let y: [Float] = xh.withUnsafeBufferPointer { xp in rh.withUnsafeBufferPointer { rp in
        let xs = SendablePointer(xp.baseAddress!)
        let res = residual == nil ? nil : SendablePointer(rp.baseAddress!)
        let act = c.activation
        if depthwise {
            let w = PackedDepthwiseWeights(weight, channels: s.inChannels, kernelH: s.kernelH, kernelW: s.kernelW, bias: bias)
            let pw = w.packed
            let body: @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void = { r, out in
                depthwiseConv2d(shape: s, input: xs.pointer, weights: pw, output: out, pixels: r,
                                epilogue: Epilogue(activation: act, residual: res?.pointer, residualStride: s.outChannels))
            }
            return withExtendedLifetime(w) {
                if let cuts { return runPieces(s.outputPixels, cuts: cuts, outputCount: outCount, body) }
                return runSplit(s.outputPixels, threads: threads, outputCount: outCount, body)
            }
        }
        let w = PackedWeights.conv(weight, outChannels: s.outChannels, inChannelsPerGroup: s.inChannelsPerGroup,
                                   kernelH: s.kernelH, kernelW: s.kernelW, groups: s.groups, bias: bias)
        let ind = ConvIndirectionBuffer(shape: s, input: xs.pointer)
        let mat = w.matrix, iv = ind.view
        let body: @Sendable (Range<Int>, UnsafeMutablePointer<Float>) -> Void = { r, out in
            conv2d(shape: s, input: xs.pointer, indirection: iv, weights: mat, output: out, pixels: r,
                   epilogue: Epilogue(activation: act, residual: res?.pointer, residualStride: s.outChannels))
        }
        return withExtendedLifetime((w, ind)) {
            if let cuts { return runPieces(s.outputPixels, cuts: cuts, outputCount: outCount, body) }
            return runSplit(s.outputPixels, threads: threads, alignment: gemmMR, outputCount: outCount, body)
        }
    } }
    return toNCHW(y, batch: s.batch, channels: s.outChannels, spatial: outSp)
}

func convData(_ c: ConvCase, seed: UInt64) -> (x: [Float], w: [Float], b: [Float], r: [Float]?) {
    let s = c.shape
    var rng = SplitMix64(seed: seed)
    let x = rng.array(s.batch * s.inChannels * s.inHeight * s.inWidth)
    let w = rng.array(s.outChannels * s.inChannelsPerGroup * s.taps)
    let b = rng.array(s.outChannels)
    let r = c.residual ? rng.array(s.batch * s.outChannels * s.outHeight * s.outWidth) : nil
    return (x, w, b, r)
}

@Suite struct ConvTests {
    @Test(arguments: convCases)
    func matchesReference(_ c: ConvCase) {
        let (x, w, b, r) = convData(c, seed: 42)
        let ref = Reference.conv2d(x, c.shape, weight: w, bias: b, residual: r, activation: c.activation)
        let got = optimizedConv(c, x: x, weight: w, bias: b, residual: r)
        let err = relativeError(got, ref)
        #expect(err <= 1e-4, "error \(err)")
    }

    @Test(arguments: [convCases[4], convCases[5], convCases[13], convCases[1]])
    func threadSplitsAreBitExact(_ c: ConvCase) {
        let (x, w, b, r) = convData(c, seed: 3)
        let one = optimizedConv(c, x: x, weight: w, bias: b, residual: r, threads: 1)
        let two = optimizedConv(c, x: x, weight: w, bias: b, residual: r, threads: 2)
        let odd = optimizedConv(c, x: x, weight: w, bias: b, residual: r, cuts: [1, 2, 7, 11, 20])
        #expect(one == two)
        #expect(one == odd)
    }

    /// Splitting the output-channel panels (what small, weight-heavy convs do over threads)
    /// gives the same bits as one call over all panels, for GEMM and indirect-GEMM convs.
    @Test(arguments: [conv(3, 17, 45, 5, 7, k: 1, .relu, res: true), convCases[4], convCases[5], conv(1, 24, 70, 7, 7, k: 1, .relu),
                      conv(2, 16, 100, 3, 3, k: 3, p: 1, .silu, res: true)])
    func panelSplitsAreBitExact(_ c: ConvCase) {
        let s = c.shape
        let (x, w, b, r) = convData(c, seed: 5)
        let xh = toNHWC(x, batch: s.batch, channels: s.inChannels, spatial: s.inHeight * s.inWidth)
        let rh = r.map { toNHWC($0, batch: s.batch, channels: s.outChannels, spatial: s.outHeight * s.outWidth) }
        let packed = w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            PackedWeights.conv(wp.baseAddress!, outChannels: s.outChannels, inChannelsPerGroup: s.inChannels,
                               kernelH: s.kernelH, kernelW: s.kernelW, bias: bp.baseAddress!) } }
        let panels = packed.matrix.panels
        #expect(panels >= 2)
        func run(_ pieces: [Range<Int>?]) -> [Float] {
            var out = [Float](repeating: .nan, count: s.outputPixels * s.outChannels)
            xh.withUnsafeBufferPointer { xp in
                (rh ?? []).withUnsafeBufferPointer { rp in
                    out.withUnsafeMutableBufferPointer { op in
                        let ind = ConvIndirectionBuffer(shape: s, input: xp.baseAddress!)
                        for piece in pieces {
                            conv2d(shape: s, input: xp.baseAddress!, indirection: s.isPointwise ? nil : ind.view, weights: packed.matrix,
                                   output: op.baseAddress!, pixels: 0..<s.outputPixels, panels: piece,
                                   epilogue: Epilogue(activation: c.activation, residual: rh == nil ? nil : rp.baseAddress,
                                                      residualStride: s.outChannels))
                        }
                    }
                }
            }
            return out
        }
        let whole = run([nil])
        #expect(whole == run((0..<panels).map { $0..<($0 + 1) }))
        #expect(whole == run([0..<1, 1..<panels]))
    }

    /// Output written into a channel slice of a wider (concat) tensor; input read from a slice.
    @Test func stridedInputAndOutput() {
        let c = conv(1, 5, 6, 7, 7, k: 3, p: 1, .relu)
        let s = c.shape
        let (x, w, b, _) = convData(c, seed: 9)
        let ref = Reference.conv2d(x, s, weight: w, bias: b, activation: .relu)
        let inStride = 9, outStride = 10, pixels = 49
        let xh = toNHWC(x, batch: 1, channels: 5, spatial: pixels)
        var wide = [Float](repeating: 0, count: pixels * inStride)
        for p in 0..<pixels { for ch in 0..<5 { wide[p * inStride + 2 + ch] = xh[p * 5 + ch] } }
        var out = [Float](repeating: -7, count: pixels * outStride)
        wide.withUnsafeBufferPointer { xp in
            let input = xp.baseAddress! + 2
            let pw = PackedWeights.conv(w, outChannels: 6, inChannelsPerGroup: 5, kernelH: 3, kernelW: 3, bias: b)
            let ind = ConvIndirectionBuffer(shape: s, input: input, inputPixelStride: inStride)
            out.withUnsafeMutableBufferPointer { op in
                conv2d(shape: s, input: input, inputPixelStride: inStride, indirection: ind.view, weights: pw.matrix,
                       output: op.baseAddress! + 3, outputPixelStride: outStride, pixels: 0..<pixels,
                       epilogue: Epilogue(activation: .relu))
            }
        }
        var got = [Float](repeating: 0, count: pixels * 6)
        for p in 0..<pixels {
            for ch in 0..<6 { got[p * 6 + ch] = out[p * outStride + 3 + ch] }
            #expect(out[p * outStride + 2] == -7 && out[p * outStride + 9] == -7)
        }
        #expect(relativeError(toNCHW(got, batch: 1, channels: 6, spatial: pixels), ref) <= 1e-4)
    }
}

let depthwiseCases: [ConvCase] = [
    conv(1, 3, 3, 13, 13, k: 3, p: 1, g: 3, .relu),
    conv(3, 17, 17, 13, 13, k: 3, s: 2, p: 1, g: 17, .relu6, res: true),
    conv(1, 33, 33, 5, 13, k: 5, p: 2, g: 33, .hardswish),
    conv(1, 64, 64, 13, 13, k: 3, p: 1, g: 64, .silu, res: true),
    conv(1, 80, 80, 13, 13, k: 3, p: 2, d: 2, g: 80, .sigmoid),
    conv(1, 24, 24, 13, 13, k: 7, s: 4, pad: (3, 2, 1, 3), g: 24, .tanh),
    conv(1, 72, 72, 13, 13, k: 11, s: 1, p: 5, g: 72, .leakyRelu(0.3)),
    conv(1, 16, 16, 1, 1, k: 3, p: 1, g: 16, .hardsigmoid),
    conv(1, 20, 20, 5, 5, k: 1, g: 20),
    conv(2, 40, 40, 13, 13, k: 5, s: 2, p: 0, g: 40),
]

@Suite struct DepthwiseTests {
    @Test(arguments: depthwiseCases)
    func matchesReference(_ c: ConvCase) {
        let (x, w, b, r) = convData(c, seed: 77)
        let ref = Reference.conv2d(x, c.shape, weight: w, bias: b, residual: r, activation: c.activation)
        let got = optimizedConv(c, x: x, weight: w, bias: b, residual: r, depthwise: true)
        let err = relativeError(got, ref)
        #expect(err <= 1e-4, "error \(err)")
    }

    @Test(arguments: [depthwiseCases[1], depthwiseCases[3]])
    func threadSplitsAreBitExact(_ c: ConvCase) {
        let (x, w, b, r) = convData(c, seed: 4)
        let one = optimizedConv(c, x: x, weight: w, bias: b, residual: r, threads: 1, depthwise: true)
        let two = optimizedConv(c, x: x, weight: w, bias: b, residual: r, threads: 2, depthwise: true)
        let odd = optimizedConv(c, x: x, weight: w, bias: b, residual: r, cuts: [1, 2, 5, 13, 15, 22], depthwise: true)
        #expect(one == two)
        #expect(one == odd)
    }
}
