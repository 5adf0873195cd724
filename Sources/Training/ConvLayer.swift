// Convolution: forward through the inference kernels (Kernels.igemm / gemm / depthwise with
// weights packed lazily after each optimizer step), backward as three GEMM-shaped products:
//   dB[co]          = Σ_p dY[p, co]                                  (column sums)
//   dW[(tap,ci),co] = Σ_p X[p ⊕ tap, ci] · dY[p, co]                (trainingGemm, indirect A
//                     over the forward indirection table: no im2col buffer)
//   dX[q, ci]       = Σ_(tap,co) dY[q ⊖ tap, co] · W[co, ci, tap]   (Kernels.igemm over a
//                     second table that, for input pixel q and tap t, points at the output
//                     pixel that read q through t, or at zeros)
// The dX table covers every geometry at once: stride (an input pixel that no output pixel
// reaches through a tap points at zeros), padding, dilation and groups (per-group channel
// offsets), so grouped, depthwise, strided and dilated convs share one correct path. Depthwise
// convs pay for the generality with thin GEMMs; the zoo nets that train here use dense convs.

import IR
import Kernels

final class ConvLayer: TrainLayer, @unchecked Sendable {
    let conv: Conv2D
    let geometry: Conv2dShape
    private var packed: PackedWeights?
    private var packedDepthwise: PackedDepthwiseWeights?
    private var packedTransposed: PackedWeights?
    private var packedVersion = -1
    private var transposedVersion = -1
    /// Forward table: output pixel p, tap t → input pixel (channel 0) or `zero`.
    private var table: UnsafeMutablePointer<UnsafePointer<Float>>?
    /// Backward-data table: input pixel q, tap t → output-gradient pixel or `zero`.
    private var tableDX: UnsafeMutablePointer<UnsafePointer<Float>>?
    private let zero: UnsafeMutablePointer<Float>
    /// Row i = (tap, ci) of the dW reduction: its tap and its input channel (group offset in).
    private let tapOf: UnsafeMutablePointer<Int32>
    private let ciOf: UnsafeMutablePointer<Int32>
    /// dW of all groups as [g][(tap, ci)][co_g], transposed into OIHW after the GEMM.
    private let dwScratch: UnsafeMutablePointer<Float>
    /// Direct kernels for single-input-channel convs (see DirectConv.swift), nil otherwise.
    private let direct: DirectConv?
    private let directWeights: UnsafeMutablePointer<Float>
    private let directPartials: UnsafeMutablePointer<Float>
    /// Few-input-channel dX through a per-image GEMM and col2im (see `backwardDataCol2im`):
    /// weights as [co][(tap, ci)], nil when the conv does not take that path.
    private let colWeights: UnsafeMutablePointer<Float>?
    /// dW of unpadded stride-1 convs with few channels (see RowConvWeightGradient) and its
    /// per-chunk partial sums; nil when the conv does not take that path.
    private let rowDW: RowConvWeightGradient?
    private let rowPartials: UnsafeMutablePointer<Float>?
    /// Winograd F(2x2, 3x3) forward and dX (see Winograd.swift) with their transformed
    /// weights, nil when the conv does not take that path.
    private let winograd: Winograd3x3?
    private let winogradData: Winograd3x3?
    private let winogradWeights: UnsafeMutablePointer<Float>?
    private let winogradDataWeights: UnsafeMutablePointer<Float>?
    /// Partial dU of the Winograd dW per chunk of `directChunk` images.
    private let winogradPartials: UnsafeMutablePointer<Float>?
    private var winogradVersion = -1
    private var winogradDataVersion = -1

    init(node: Int, name: String, conv: Conv2D, inShape: TensorShape, outShape: TensorShape, batch: Int) {
        self.conv = conv
        geometry = Conv2dShape(batch: batch, inChannels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                               outChannels: conv.outChannels, kernelH: conv.kernel.h, kernelW: conv.kernel.w,
                               strideH: conv.stride.h, strideW: conv.stride.w,
                               padTop: conv.padding.top, padLeft: conv.padding.left,
                               padBottom: conv.padding.bottom, padRight: conv.padding.right,
                               dilationH: conv.dilation.h, dilationW: conv.dilation.w, groups: conv.groups)
        let zeroCount = max(16, inShape.channels, conv.outChannels) + 16
        zero = .allocate(capacity: zeroCount)
        zero.initialize(repeating: 0, count: zeroCount)
        let g = geometry
        let k = g.taps * g.inChannelsPerGroup
        tapOf = .allocate(capacity: k * g.groups)
        ciOf = .allocate(capacity: k * g.groups)
        for grp in 0..<g.groups {
            for i in 0..<k {
                tapOf[grp * k + i] = Int32(i / g.inChannelsPerGroup)
                ciOf[grp * k + i] = Int32(grp * g.inChannelsPerGroup + i % g.inChannelsPerGroup)
            }
        }
        dwScratch = .allocate(capacity: max(1, k * g.outChannels))
        direct = DirectConv.eligible(g) ? DirectConv(g) : nil
        colWeights = ConvLayer.dataGradientByColumns(g) ? .allocate(capacity: max(1, k * g.outChannels)) : nil
        rowDW = direct == nil && RowConvWeightGradient.eligible(g) ? RowConvWeightGradient(g: g) : nil
        rowPartials = rowDW.map { .allocate(capacity: max(1, $0.partialFloats * ((batch + directChunk - 1) / directChunk))) }
        directWeights = .allocate(capacity: max(1, direct?.packedWeightFloats ?? 0))
        directPartials = .allocate(capacity: max(1, (direct?.partialFloats ?? 0) * ((batch + directChunk - 1) / directChunk)))
        winograd = Winograd3x3.eligible(g) ? .forward(g) : nil
        winogradData = winograd != nil ? .data(g) : nil
        winogradWeights = winograd.map { .allocate(capacity: $0.weightFloats) }
        winogradDataWeights = winogradData.map { .allocate(capacity: $0.weightFloats) }
        // dW partial sums per image chunk: only while they stay small (16 MB), else the table GEMM.
        let chunks = (batch + directChunk - 1) / directChunk
        winogradPartials = winograd.flatMap { $0.weightFloats * chunks <= 4 << 20 ? .allocate(capacity: $0.weightFloats * chunks) : nil }
        super.init(node: node, name: name, inShapes: [inShape], outShape: outShape, batch: batch)
    }

    deinit {
        winogradWeights?.deallocate(); winogradDataWeights?.deallocate(); winogradPartials?.deallocate()
        zero.deallocate(); tapOf.deallocate(); ciOf.deallocate(); dwScratch.deallocate()
        directWeights.deallocate(); directPartials.deallocate(); colWeights?.deallocate(); rowPartials?.deallocate()
        table?.deallocate(); tableDX?.deallocate()
    }

    override var needs: LayerNeeds { LayerNeeds(inputs: true) }

    var isDepthwise: Bool { conv.groups > 1 && conv.groups == geometry.inChannels && conv.groups == conv.outChannels }

    override func bind() {
        let g = geometry, taps = g.taps
        let z = UnsafePointer(zero)
        let oh = g.outHeight, ow = g.outWidth
        let t = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, g.outputPixels * taps))
        let input = UnsafePointer(x[0])
        var idx = 0
        for n in 0..<g.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<g.kernelH {
                        let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                        for kx in 0..<g.kernelW {
                            let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                            let inside = iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth
                            t[idx] = inside ? input + ((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels : z
                            idx += 1
                        }
                    }
                }
            }
        }
        table = t
        guard dx[0] != nil, let dy else { return }
        let inPixels = g.batch * g.inHeight * g.inWidth
        let d = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, inPixels * taps))
        let grad = UnsafePointer(dy)
        idx = 0
        for n in 0..<g.batch {
            for iy in 0..<g.inHeight {
                for ix in 0..<g.inWidth {
                    for ky in 0..<g.kernelH {
                        let ny = iy + g.padTop - ky * g.dilationH
                        let oy = ny / g.strideH
                        let okY = ny >= 0 && ny % g.strideH == 0 && oy < oh
                        for kx in 0..<g.kernelW {
                            let nx = ix + g.padLeft - kx * g.dilationW
                            let ox = nx / g.strideW
                            let ok = okY && nx >= 0 && nx % g.strideW == 0 && ox < ow
                            d[idx] = ok ? grad + ((n * oh + oy) * ow + ox) * g.outChannels : z
                            idx += 1
                        }
                    }
                }
            }
        }
        tableDX = d
    }

    private func repack() {
        guard packedVersion != weightsVersion else { return }
        let g = geometry
        let bias: UnsafePointer<Float>? = conv.bias ? UnsafePointer(params[1]) : nil
        if isDepthwise {
            packedDepthwise = PackedDepthwiseWeights(params[0], channels: g.inChannels, kernelH: g.kernelH, kernelW: g.kernelW, bias: bias)
        } else {
            packed = PackedWeights.conv(params[0], outChannels: g.outChannels, inChannelsPerGroup: g.inChannelsPerGroup,
                                        kernelH: g.kernelH, kernelW: g.kernelW, groups: g.groups, bias: bias)
        }
        packedVersion = weightsVersion
    }

    override func forward(_ s: RunState) {
        let g = geometry.withBatch(s.n)
        let pixels = g.outputPixels
        let xs = SendablePointer(x[0]), ys = SendableMutablePointer(y)
        let work = Int(g.flops / 2)
        if let direct, directConvEnabled {
            direct.packWeights(params[0], into: directWeights)
            let ws = SendablePointer(directWeights)
            let bs: SendablePointer? = conv.bias ? SendablePointer(params[1]) : nil
            parallel(s.n, threads: s.threads, work: work) { images in
                direct.forward(x: xs.pointer, packed: ws.pointer, bias: bs?.pointer, y: ys.pointer, images: images)
            }
            return
        }
        if let wf = winograd, let u = winogradWeights, directConvEnabled {
            if winogradVersion != weightsVersion {
                let w = UnsafePointer(params[0]), cin = g.inChannels
                wf.transformWeights({ co, ci in w + (co * cin + ci) * 9 }, flip: false, into: u)
                winogradVersion = weightsVersion
            }
            let us = SendablePointer(u), bs: SendablePointer? = conv.bias ? SendablePointer(params[1]) : nil
            let inPer = g.inHeight * g.inWidth * g.inChannels, outPer = g.outHeight * g.outWidth * g.outChannels
            parallel(s.n, threads: s.threads, work: work) { images in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: wf.scratchFloats)
                defer { scratch.deallocate() }
                for n in images {
                    wf.run(x: xs.pointer + n * inPer, u: us.pointer, bias: bs?.pointer, y: ys.pointer + n * outPer,
                           accumulate: false, scratch: scratch)
                }
            }
            return
        }
        repack()
        if isDepthwise, let pd = packedDepthwise?.packed {
            parallel(pixels, threads: s.threads, work: work) { r in
                depthwiseConv2d(shape: g, input: xs.pointer, weights: pd, output: ys.pointer, pixels: r)
            }
            return
        }
        guard let w = packed?.matrix, let t = table else { return }
        let ts = TablePointer(t), zs = SendablePointer(zero)
        let cg = g.inChannelsPerGroup, ng = g.outChannelsPerGroup
        parallel(pixels, threads: s.threads, work: work, alignment: 8) { r in
            for grp in 0..<g.groups {
                if g.isPointwise {
                    gemm(a: xs.pointer + grp * cg, lda: g.inChannels, weights: w, group: grp,
                         c: ys.pointer + grp * ng, ldc: g.outChannels, rows: r)
                } else {
                    igemm(indirection: ts.pointer, taps: g.taps, offset: grp * cg, zero: zs.pointer, weights: w,
                          group: grp, c: ys.pointer + grp * ng, ldc: g.outChannels, rows: r)
                }
            }
        }
    }

    override func backward(_ s: RunState) {
        guard let dy, let table else { return }
        let g = geometry.withBatch(s.n)
        if conv.bias { columnSums(dy, pixels: g.outputPixels, channels: g.outChannels, into: grads[1], threads: s.threads) }
        timed("dW") { weightGradient(s, table) }
        guard let dxp = dx[0], tableDX != nil else { return }
        timed("dX") { dataGradient(s, dxp) }
    }

    private func weightGradient(_ s: RunState, _ table: UnsafeMutablePointer<UnsafePointer<Float>>) {
        guard let dy else { return }
        let g = geometry.withBatch(s.n)
        let pixels = g.outputPixels
        let cg = g.inChannelsPerGroup, ng = g.outChannelsPerGroup, taps = g.taps, k = taps * cg
        let xs = SendablePointer(x[0]), gs = SendablePointer(dy), work = Int(g.flops / 2)
        if let wf = winograd, let wp = winogradPartials, directConvEnabled {
            // Partial dU per image chunk, then dW = Gᵀ dU G.
            reduceOverImageChunks(s, partialFloats: wf.weightFloats, partials: wp, into: wp, work: work,
                                  scratchFloats: wf.gradientScratchFloats) { images, partial, scratch in
                wf.weightGradient(x: xs.pointer, dy: gs.pointer, images: images, partial: partial, scratch: scratch!)
            }
            wf.kernelGradient(wp, into: grads[0])
            return
        }
        if let direct, directConvEnabled {
            // [co][tap] is OIHW for Cin = 1.
            reduceOverImageChunks(s, partialFloats: direct.partialFloats, partials: directPartials, into: grads[0], work: work) { images, partial, _ in
                direct.weightGradient(x: xs.pointer, dy: gs.pointer, images: images, out: partial)
            }
        } else {
        // dW per group into [(tap, ci)][co_g], then into OIHW.
        if let rowDW, let rp = rowPartials, directConvEnabled {
            reduceOverImageChunks(s, partialFloats: rowDW.partialFloats, partials: rp, into: dwScratch, work: work) { images, partial, _ in
                rowDW.run(x: xs.pointer, dy: gs.pointer, images: images, out: partial)
            }
        } else {
        if cg % 32 == 0 && directConvEnabled {
            // Whole 32-channel blocks per tap: dWᵀ through the table as B (see tableGemm),
            // [co][(tap, ci)] per group, then into OIHW.
            for grp in 0..<g.groups {
                tableGemm(m: ng, k: pixels, a: dy + grp * ng, lda: g.outChannels, table: UnsafePointer(table), taps: taps,
                          channels: cg, offset: grp * cg, c: dwScratch + grp * ng * k, ldc: k, threads: s.threads)
            }
            let dw = grads[0]
            for grp in 0..<g.groups {
                for j in 0..<ng {
                    let src = dwScratch + (grp * ng + j) * k, dst = dw + (grp * ng + j) * cg * taps
                    for tap in 0..<taps {
                        for ci in 0..<cg { dst[ci * taps + tap] = src[tap * cg + ci] }
                    }
                }
            }
            return
        }
        for grp in 0..<g.groups {
            let a = AView(a: zero, ai: 0, ak: 0, table: UnsafePointer(table), taps: taps,
                          tapOf: UnsafePointer(tapOf + grp * k), ciOf: UnsafePointer(ciOf + grp * k))
            trainingGemm(m: k, n: ng, k: pixels, a: a, b: dy + grp * ng, ldb: g.outChannels,
                         c: dwScratch + grp * k * ng, ldc: ng, accumulate: false, threads: s.threads)
        }
        }
        let dw = grads[0]
        for grp in 0..<g.groups {
            let src = dwScratch + grp * k * ng
            for i in 0..<k {
                let tap = i / cg, ci = i % cg
                for j in 0..<ng {
                    dw[((grp * ng + j) * cg + ci) * taps + tap] = src[i * ng + j]
                }
            }
        }
        }
    }

    private func dataGradient(_ s: RunState, _ dxp: UnsafeMutablePointer<Float>) {
        guard let tableDX else { return }
        let g = geometry.withBatch(s.n)
        let cg = g.inChannelsPerGroup, ng = g.outChannelsPerGroup, taps = g.taps
        if let wd = winogradData, let u = winogradDataWeights, let dy, directConvEnabled {
            if winogradDataVersion != weightsVersion {
                // The conv of dY: its input channels are this conv's outputs and vice versa.
                let w = UnsafePointer(params[0])
                wd.transformWeights({ ci, co in w + (co * cg + ci) * 9 }, flip: true, into: u)
                winogradDataVersion = weightsVersion
            }
            let us = SendablePointer(u), gs = SendablePointer(dy), ds = SendableMutablePointer(dxp)
            let inPer = g.outHeight * g.outWidth * g.outChannels, outPer = g.inHeight * g.inWidth * g.inChannels
            let acc = accumulate[0]
            parallel(s.n, threads: s.threads, work: Int(g.flops / 2)) { images in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: wd.scratchFloats)
                defer { scratch.deallocate() }
                for n in images {
                    wd.run(x: gs.pointer + n * inPer, u: us.pointer, bias: nil, y: ds.pointer + n * outPer,
                           accumulate: acc, scratch: scratch)
                }
            }
            return
        }
        if colWeights != nil && directConvEnabled {
            backwardDataCol2im(s, dxp)
            return
        }
        if transposedVersion != weightsVersion {
            let w = UnsafePointer(params[0])
            packedTransposed = PackedWeights(k: taps * ng, n: cg, groups: g.groups, bias: nil) { grp, kk, j in
                let tap = kk / ng, co = grp * ng + kk % ng
                return w[(co * cg + j) * taps + tap]
            }
            transposedVersion = weightsVersion
        }
        guard let wt = packedTransposed?.matrix else { return }
        let inPixels = s.n * g.inHeight * g.inWidth
        let ts = TablePointer(tableDX), zs = SendablePointer(zero), ds = SendableMutablePointer(dxp)
        let acc = accumulate[0]
        parallel(inPixels, threads: s.threads, work: Int(g.flops / 2), alignment: 8) { r in
            for grp in 0..<g.groups {
                let out = ds.pointer + grp * cg
                let e = acc ? Epilogue(residual: UnsafePointer(out), residualStride: g.inChannels) : Epilogue()
                igemm(indirection: ts.pointer, taps: taps, offset: grp * ng, zero: zs.pointer, weights: wt,
                      group: grp, c: out, ldc: g.inChannels, rows: r, epilogue: e)
            }
        }
    }
}

extension ConvLayer {
    /// Whether dX takes `backwardDataCol2im`: dense convs with few input channels (the igemm
    /// over `tableDX` would fill a handful of its 32 columns), and dense convs over whole
    /// 32-channel blocks whose output has clearly fewer pixels than their input (unpadded
    /// 3x3 convs on small images, where the igemm spends ~15% of its multiply-adds on the zero
    /// taps of border pixels; strided convs, where most taps are zero), see `backwardDataScatter`.
    static func dataGradientByColumns(_ g: Conv2dShape) -> Bool {
        guard g.groups == 1 else { return false }
        return g.inChannels <= 8 || scatterDataGradient(g)
    }

    static func scatterDataGradient(_ g: Conv2dShape) -> Bool {
        g.groups == 1 && g.inChannels % 32 == 0 && g.outHeight * g.outWidth * 20 <= g.inHeight * g.inWidth * 19
    }

    /// dX by output-pixel tiles added into dX (see `scatterTile`): per image, per tap and
    /// 32-channel block, T[p, ci] = Σ_co dY[p, co] · W[co, ci, tap] for 8 output pixels at a
    /// time, each row added to the input pixel p reads through the tap. Images are split over
    /// threads; within one, contributions are added in (tap, block, pixel) order.
    func backwardDataScatter(_ s: RunState, _ dxp: UnsafeMutablePointer<Float>) {
        guard let dy, let cw = colWeights else { return }
        let g = geometry.withBatch(s.n)
        let taps = g.taps, cin = g.inChannels, cout = g.outChannels, kc = taps * cin
        let w = params[0]
        for co in 0..<cout {
            for t in 0..<taps {
                for ci in 0..<cin { cw[co * kc + t * cin + ci] = w[(co * cin + ci) * taps + t] }
            }
        }
        let ow = g.outWidth, ohw = g.outHeight * ow, ih = g.inHeight, iw = g.inWidth
        let ws = SendablePointer(cw), gs = SendablePointer(dy), ds = SendableMutablePointer(dxp)
        let acc = accumulate[0]
        parallel(s.n, threads: s.threads, work: Int(g.flops / 2)) { images in
            let out = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: 8)
            defer { out.deallocate() }
            for n in images {
                let dxi = ds.pointer + n * ih * iw * cin, dyi = gs.pointer + n * ohw * cout
                if !acc { dxi.update(repeating: 0, count: ih * iw * cin) }
                for tap in 0..<taps {
                    let ky = tap / g.kernelW, kx = tap % g.kernelW
                    for cb in stride(from: 0, to: cin, by: 32) {
                        let b = ws.pointer + tap * cin + cb
                        var p0 = 0
                        while p0 < ohw {
                            let rows = min(8, ohw - p0)
                            for r in 0..<rows {
                                let p = p0 + r, oy = p / ow, ox = p % ow
                                let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                                let ix = ox * g.strideW - g.padLeft + kx * g.dilationW
                                out[r] = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? dxi + (iy * iw + ix) * cin + cb : nil
                            }
                            scatterTileRows(rows, dyi + p0 * cout, cout, b, kc, cout, out)
                            p0 += 8
                        }
                    }
                }
            }
        }
    }

    /// dX of a dense conv with few input channels, where the igemm over `tableDX` would fill
    /// a handful of its 32 columns: per image, C[p, (tap, ci)] = Σ_co dY[p, co] · W[co, ci, tap]
    /// (a GEMM 150 columns wide for a 5x5 conv of 6 channels, K = Cout), then each C row is
    /// added to the input pixels its taps read (col2im). Images are independent (split over
    /// threads) and each is summed in a fixed order.
    func backwardDataCol2im(_ s: RunState, _ dxp: UnsafeMutablePointer<Float>) {
        if ConvLayer.scatterDataGradient(geometry) {
            backwardDataScatter(s, dxp)
            return
        }
        guard let dy, let cw = colWeights else { return }
        let g = geometry.withBatch(s.n)
        let taps = g.taps, cin = g.inChannels, cout = g.outChannels, kc = taps * cin
        let w = params[0]
        for co in 0..<cout {
            for t in 0..<taps {
                for ci in 0..<cin { cw[co * kc + t * cin + ci] = w[(co * cin + ci) * taps + t] }
            }
        }
        let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow, ih = g.inHeight, iw = g.inWidth
        let ws = SendablePointer(cw), gs = SendablePointer(dy), ds = SendableMutablePointer(dxp)
        let acc = accumulate[0]
        parallel(s.n, threads: s.threads, work: Int(g.flops / 2)) { images in
            // 8 floats of slack: the gather reads 8 lanes of a segment of cin <= 8.
            let c = UnsafeMutablePointer<Float>.allocate(capacity: ohw * kc + 8)
            c.initialize(repeating: 0, count: ohw * kc + 8)
            defer { c.deallocate() }
            for n in images {
                trainingGemm(m: ohw, n: kc, k: cout, a: .strided(gs.pointer + n * ohw * cout, ai: cout, ak: 1),
                             b: ws.pointer, ldb: kc, c: c, ldc: kc, accumulate: false, threads: 1)
                let dxi = ds.pointer + n * ih * iw * cin
                if g.strideH == 1 && g.strideW == 1 {
                    // Gather: each input pixel sums the (tap, ci) segments of the output pixels
                    // that read it, taps in ascending order, in an 8-lane register.
                    for iy in 0..<ih {
                        for ix in 0..<iw {
                            var a = SIMD8<Float>(repeating: 0)
                            for ky in 0..<g.kernelH {
                                let oy = iy + g.padTop - ky * g.dilationH
                                if oy < 0 || oy >= oh { continue }
                                let row = c + oy * ow * kc + ky * g.kernelW * cin
                                for kx in 0..<g.kernelW {
                                    let ox = ix + g.padLeft - kx * g.dilationW
                                    if ox < 0 || ox >= ow { continue }
                                    a += UnsafeRawPointer(row + ox * kc + kx * cin).loadUnaligned(as: SIMD8<Float>.self)
                                }
                            }
                            let dst = dxi + (iy * iw + ix) * cin
                            if acc { for ci in 0..<cin { dst[ci] += a[ci] } } else { for ci in 0..<cin { dst[ci] = a[ci] } }
                        }
                    }
                    continue
                }
                if !acc { dxi.update(repeating: 0, count: ih * iw * cin) }
                for oy in 0..<oh {
                    for ky in 0..<g.kernelH {
                        let iy = oy * g.strideH - g.padTop + ky * g.dilationH
                        if iy < 0 || iy >= ih { continue }
                        for ox in 0..<ow {
                            let src = c + (oy * ow + ox) * kc + ky * g.kernelW * cin
                            let ix0 = ox * g.strideW - g.padLeft
                            for kx in 0..<g.kernelW {
                                let ix = ix0 + kx * g.dilationW
                                if ix < 0 || ix >= iw { continue }
                                let dst = dxi + (iy * iw + ix) * cin, sp = src + kx * cin
                                for ci in 0..<cin { dst[ci] += sp[ci] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An indirection table that may cross into `parallelFor` bodies (read-only there).
struct TablePointer: @unchecked Sendable {
    let pointer: UnsafePointer<UnsafePointer<Float>>
    init(_ p: UnsafeMutablePointer<UnsafePointer<Float>>) { pointer = UnsafePointer(p) }
}

/// Sums per-chunk partial results (`chunks` blocks of `size` floats from `partials`) into `out`
/// in chunk order, so the sum does not depend on how the chunks were spread over threads.
/// `out` may be `partials` itself (chunk 0 then stays in place).
extension ConvLayer {
    /// Runs `body(images, partial, scratch)` on fixed chunks of `directChunk` images over the
    /// threads (chunk c writes `partials + c * partialFloats`; with `scratchFloats` > 0 each
    /// thread gets that much scratch for its chunks, else nil), then sums the partials in chunk order into `out` (which may
    /// be `partials`): the result does not depend on the thread count.
    fileprivate func reduceOverImageChunks(
        _ s: RunState, partialFloats size: Int, partials: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
        work: Int, scratchFloats: Int = 0,
        _ body: @escaping @Sendable (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) -> Void
    ) {
        let chunks = (s.n + directChunk - 1) / directChunk, n = s.n
        let ps = SendableMutablePointer(partials)
        parallel(chunks, threads: s.threads, work: work) { r in
            let scratch = scratchFloats > 0 ? UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats) : nil
            defer { scratch?.deallocate() }
            for c in r {
                body((c * directChunk)..<min(n, (c + 1) * directChunk), ps.pointer + c * size, scratch)
            }
        }
        sumChunkPartials(partials, chunks: chunks, size: size, into: out)
    }
}

func sumChunkPartials(_ partials: UnsafeMutablePointer<Float>, chunks: Int, size: Int, into out: UnsafeMutablePointer<Float>) {
    if out != partials { out.update(from: partials, count: size) }
    for c in 1..<max(1, chunks) {
        let p = partials + c * size
        for i in 0..<size { out[i] += p[i] }
    }
}
