import Kernels

/// One kernel call with everything resolved at instantiation: arena pointers, packed weights,
/// indirection buffers. `run` splits the step's independent work items (pixels, elements,
/// weight panels) into contiguous chunks over the threads; every kernel computes an item the
/// same way whatever chunk it falls in, so results do not depend on the thread count's split.
final class PreparedStep: @unchecked Sendable {
    enum Kind {
        case layout(toNHWC: Bool, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels: Int, pixelsPerImage: Int, pixels: Int)
        case conv(Conv2dShape, input: UnsafePointer<Float>, indirection: ConvIndirectionBuffer?, weights: PackedWeights,
                  output: UnsafeMutablePointer<Float>, epilogue: Epilogue)
        case depthwise(Conv2dShape, input: UnsafePointer<Float>, weights: PackedDepthwiseWeights, output: UnsafeMutablePointer<Float>, epilogue: Epilogue)
        case linear(input: UnsafePointer<Float>, weights: PackedWeights, output: UnsafeMutablePointer<Float>, batch: Int, activation: Activation)
        case scaleShift(input: UnsafePointer<Float>, scale: [Float], shift: [Float], output: UnsafeMutablePointer<Float>, channels: Int, pixels: Int, activation: Activation)
        case activation(Activation, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int)
        case pool(Pool2dShape, max: Bool, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pixels: Int)
        case adaptivePool(batch: Int, channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int,
                          input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pixels: Int)
        case add([UnsafePointer<Float>], output: UnsafeMutablePointer<Float>, count: Int, activation: Activation)
        case concat([UnsafePointer<Float>], channels: [Int], output: UnsafeMutablePointer<Float>, totalChannels: Int, pixels: Int)
        case multiply(UnsafePointer<Float>, UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int)
        case channelGate(UnsafePointer<Float>, gate: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels: Int, pixelsPerImage: Int, pixels: Int)
        case squeezeExcitation(SqueezeExcitationStep)
        case gatedConv(GatedConvStep)
        case pointwiseDepthwise(PointwiseDepthwiseStep)
        case winograd(WinogradStep)
        case softmax(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, length: Int, rows: Int)
    }

    let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    /// Work items and the chunk alignment that keeps GEMM row tiles whole.
    private var work: (items: Int, alignment: Int) {
        switch kind {
        case .layout(_, _, _, _, _, let p): (p, 1)
        case .conv(let s, _, _, let w, _, _): Self.splitsPanels(s, w.matrix) ? (w.matrix.panels, 1) : (s.outputPixels, gemmMR)
        case .depthwise(let s, _, _, _, _): (s.outputPixels, 4)
        case .linear(_, let w, _, _, _): (w.matrix.panels, 1)
        case .scaleShift(_, _, _, _, _, let p, _): (p, 1)
        case .activation(_, _, _, let n): ((n + 15) / 16, 1)
        case .pool(_, _, _, _, let p): (p, 1)
        case .adaptivePool(_, _, _, _, _, _, _, _, let p): (p, 1)
        case .add(_, _, let n, _): ((n + 15) / 16, 1)
        case .concat(_, _, _, _, let p): (p, 1)
        case .multiply(_, _, _, let n): ((n + 15) / 16, 1)
        case .channelGate(_, _, _, _, _, let p): (p, 1)
        case .squeezeExcitation, .gatedConv, .pointwiseDepthwise, .winograd: (1, 1)
        case .softmax(_, _, _, let r): (r, 1)
        }
    }

    /// Convs with at most this many output pixels (all images) and at least this many weights
    /// split their weight panels over the threads instead of their pixels. A 7x7 map (49
    /// pixels: six 8-row tiles and a 1-row one) splits 24/25 rows, i.e. 3 vs 4 sweeps of all
    /// the weights; with megabytes of weights (ResNet-50's layer4) that imbalance costs more
    /// than the split by channels, which leaves half of each pixel in the other core's cache
    /// for the next step (a net loss for EfficientNet-B0's 7x7 layers, <1 MB of weights).
    static let panelSplitPixels = 64
    static let panelSplitWeights = 1 << 19

    static func splitsPanels(_ s: Conv2dShape, _ w: PackedMatrix) -> Bool {
        s.groups == 1 && s.outputPixels <= panelSplitPixels && w.panels >= 2 && w.k * w.n >= panelSplitWeights
    }

    func run(threads: Int) {
        switch kind {
        case .squeezeExcitation(let se):
            se.run(threads: threads)
            return
        case .gatedConv(let conv):
            conv.run(threads: threads)
            return
        case .pointwiseDepthwise(let fused):
            fused.run(threads: threads)
            return
        case .winograd(let conv):
            conv.run(threads: threads)
            return
        default:
            break
        }
        let (items, alignment) = work
        parallelFor(items, threads: threads, alignment: alignment) { [self] r in execute(r) }
    }

    var isNCHWToNHWC: Bool {
        if case .layout(true, _, _, _, _, _) = kind { return true }
        return false
    }

    /// An NCHW→NHWC layout step run on `input` instead of its arena input.
    func runLayout(reading input: UnsafePointer<Float>, threads: Int) {
        guard case .layout(true, _, let out, let c, let hw, let pixels) = kind else { preconditionFailure("not an NCHW→NHWC layout step") }
        let x = SendablePointer(input), o = SendableMutablePointer(out)
        parallelFor(pixels, threads: threads) { r in nchwToNhwc(input: x.pointer, output: o.pointer, channels: c, pixelsPerImage: hw, pixels: r) }
    }

    /// Runs work items `r` (vector-of-16 chunks for elementwise kinds).
    private func execute(_ r: Range<Int>) {
        func elements(_ n: Int) -> Range<Int> { (r.lowerBound * 16)..<min(n, r.upperBound * 16) }
        switch kind {
        case .layout(let toNHWC, let x, let out, let c, let hw, _):
            if toNHWC { nchwToNhwc(input: x, output: out, channels: c, pixelsPerImage: hw, pixels: r) }
            else { nhwcToNchw(input: x, output: out, channels: c, pixelsPerImage: hw, pixels: r) }
        case .conv(let s, let x, let ind, let w, let out, let e):
            if Self.splitsPanels(s, w.matrix) {
                conv2d(shape: s, input: x, indirection: ind?.view, weights: w.matrix, output: out, pixels: 0..<s.outputPixels,
                       panels: r, epilogue: e)
            } else {
                conv2d(shape: s, input: x, indirection: ind?.view, weights: w.matrix, output: out, pixels: r, epilogue: e)
            }
        case .depthwise(let s, let x, let w, let out, let e):
            depthwiseConv2d(shape: s, input: x, weights: w.packed, output: out, pixels: r, epilogue: e)
        case .linear(let x, let w, let out, let batch, let act):
            linear(input: x, weights: w.matrix, output: out, rows: 0..<batch, panels: r, epilogue: Epilogue(activation: act))
        case .scaleShift(let x, let scale, let shift, let out, let c, _, let act):
            scale.withUnsafeBufferPointer { sp in
                shift.withUnsafeBufferPointer { tp in
                    scaleShift(input: x, scale: sp.baseAddress!, shift: tp.baseAddress!, output: out, channels: c, pixels: r, activation: act)
                }
            }
        case .activation(let act, let x, let out, let n):
            applyActivation(act, input: x, output: out, elements: elements(n))
        case .pool(let s, let isMax, let x, let out, _):
            if isMax { maxPool2d(shape: s, input: x, output: out, pixels: r) }
            else { avgPool2d(shape: s, input: x, output: out, pixels: r) }
        case .adaptivePool(let b, let c, let ih, let iw, let oh, let ow, let x, let out, _):
            adaptiveAvgPool2d(batch: b, channels: c, inHeight: ih, inWidth: iw, outHeight: oh, outWidth: ow, input: x, output: out, pixels: r)
        case .add(let xs, let out, let n, let act):
            let range = elements(n)
            if xs.count == 2 {
                add(xs[0], xs[1], output: out, elements: range, activation: act)
            } else {
                add(xs[0], xs[1], output: out, elements: range)
                for k in 2..<xs.count { add(UnsafePointer(out), xs[k], output: out, elements: range, activation: k == xs.count - 1 ? act : .none) }
            }
        case .concat(let xs, let channels, let out, let total, _):
            var offset = 0
            for (x, c) in zip(xs, channels) {
                copyChannels(x + r.lowerBound * c, srcStride: c, out + r.lowerBound * total + offset, dstStride: total, channels: c, pixels: 0..<r.count)
                offset += c
            }
        case .multiply(let a, let b, let out, let n):
            multiply(a, b, output: out, elements: elements(n))
        case .channelGate(let x, let g, let out, let c, let hw, _):
            channelGate(input: x, gate: g, output: out, channels: c, pixelsPerImage: hw, pixels: r)
        case .squeezeExcitation, .gatedConv, .pointwiseDepthwise, .winograd:
            break
        case .softmax(let x, let out, let length, _):
            softmax(input: x, output: out, length: length, rows: r)
        }
    }
}

/// The fused squeeze-excitation step: pool each image's channels, two small fully connected
/// layers (the 1x1 convs) with their activations, then scale the input by the gate, or, when
/// the gate was folded into the next conv's weights (`gateOnly`), write just the gate. The
/// small scratch vectors are allocated once, at instantiation.
///
/// The pool is split over threads by 16-channel blocks and the two layers by weight panels, so
/// every output is computed in the same order whatever the thread count. Small ones run on the
/// calling thread: handing out a few microseconds of work costs more than it saves.
final class SqueezeExcitationStep: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let batch: Int, channels: Int, squeeze: Int, pixelsPerImage: Int
    let fc1: PackedWeights, fc2: PackedWeights
    let act1: Activation, gate: Activation
    let gateOnly: Bool
    private let pooled: UnsafeMutablePointer<Float>
    private let hidden: UnsafeMutablePointer<Float>
    private let gates: UnsafeMutablePointer<Float>

    init(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, squeeze: Int, pixelsPerImage: Int,
         fc1: PackedWeights, fc2: PackedWeights, act1: Activation, gate: Activation, gateOnly: Bool) {
        self.input = input; self.output = output; self.batch = batch; self.channels = channels; self.squeeze = squeeze
        self.pixelsPerImage = pixelsPerImage; self.fc1 = fc1; self.fc2 = fc2; self.act1 = act1; self.gate = gate
        self.gateOnly = gateOnly
        pooled = .allocate(capacity: batch * channels)
        hidden = .allocate(capacity: batch * squeeze)
        gates = gateOnly ? output : .allocate(capacity: batch * channels)
    }

    deinit {
        pooled.deallocate()
        hidden.deallocate()
        if !gateOnly { gates.deallocate() }
    }

    /// Below this many floats of input (pool) or weights (a layer), one thread does the work.
    static let parallelThreshold = 16_384

    func run(threads: Int) {
        let hw = pixelsPerImage, c = channels
        let blocks = (c + 15) / 16
        parallelFor(batch * blocks, threads: hw * c * batch >= Self.parallelThreshold ? threads : 1) { [self] r in
            for item in r {
                let n = item / blocks, c0 = item % blocks * 16
                globalAvgPool(channels: min(16, c - c0), height: hw, width: 1, input: input + n * hw * c + c0,
                              inputPixelStride: c, output: pooled + n * c + c0, images: 0..<1)
            }
        }
        layer(fc1.matrix, input: pooled, output: hidden, activation: act1, threads: threads)
        layer(fc2.matrix, input: hidden, output: gates, activation: gate, threads: threads)
        if gateOnly { return }
        parallelFor(batch * hw, threads: threads) { [self] r in
            channelGate(input: input, gate: gates, output: output, channels: channels, pixelsPerImage: hw, pixels: r)
        }
    }

    private func layer(_ w: PackedMatrix, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
                       activation: Activation, threads: Int) {
        let rows = batch
        nonisolated(unsafe) let x = input, y = output
        parallelFor(w.panels, threads: w.k * w.n >= Self.parallelThreshold ? threads : 1) { r in
            linear(input: x, weights: w, output: y, rows: 0..<rows, panels: r, epilogue: Epilogue(activation: activation))
        }
    }
}

/// A 1x1 conv whose input channels are scaled per image by a squeeze-excitation gate, folded
/// into its weights (fold-gate-into-weights): per image, W' = diag(gate) · W into a scratch
/// copy of the packed weights, then the GEMM over that image's pixels with W'.
final class GatedConvStep: @unchecked Sendable {
    let shape: Conv2dShape
    let input: UnsafePointer<Float>
    let gate: UnsafePointer<Float>
    let weights: PackedWeights
    /// One scaled copy per image of the batch.
    let scaled: [PackedWeights]
    let output: UnsafeMutablePointer<Float>
    let epilogue: Epilogue

    init(shape: Conv2dShape, input: UnsafePointer<Float>, gate: UnsafePointer<Float>, weights: PackedWeights,
         output: UnsafeMutablePointer<Float>, epilogue: Epilogue) {
        self.shape = shape; self.input = input; self.gate = gate; self.weights = weights
        self.output = output; self.epilogue = epilogue
        scaled = (0..<shape.batch).map { _ in PackedWeights(copying: weights.matrix) }
    }

    func run(threads: Int) {
        let c = shape.inChannels, hw = shape.outHeight * shape.outWidth
        for n in 0..<shape.batch { scalePackedRows(weights.matrix, by: gate + n * c, into: scaled[n]) }
        parallelFor(shape.outputPixels, threads: threads, alignment: gemmMR) { [self] r in
            var p = r.lowerBound
            while p < r.upperBound {
                let n = p / hw, end = min(r.upperBound, (n + 1) * hw)
                conv2d(shape: shape, input: input, indirection: nil, weights: scaled[n].matrix, output: output,
                       pixels: p..<end, epilogue: epilogue)
                p = end
            }
        }
    }
}

/// A 1x1 conv fused into the depthwise conv that reads it (fuse-pointwise-depthwise). Threads
/// take contiguous ranges of output rows; each walks its range in bands of up to `bandRows`
/// output rows: it computes the expansion of the input rows the band needs into its own band
/// buffer (sized to stay in L2), reusing the rows the previous band already computed (moved to
/// the front), and runs the depthwise conv of the band from there. Each expanded value comes
/// from the same GEMM and each output from the same taps in the same order as unfused, so the
/// result is bit-identical to the two separate steps, for any thread count.
final class PointwiseDepthwiseStep: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    /// The depthwise conv over the whole (virtual) expanded tensor.
    let shape: Conv2dShape
    let inputChannels: Int
    let pointwise: PackedWeights
    let pointwiseActivation: Activation
    let depthwise: PackedDepthwiseWeights
    /// The depthwise conv's activation (the pass fuses only depthwise convs without residual).
    let epilogue: Epilogue
    let bandRows: Int
    /// Input rows a band of `bandRows` output rows reads.
    let bufferRows: Int
    private let buffers: [UnsafeMutablePointer<Float>]

    /// Band buffers are sized to about this many bytes by default (half of a 1 MiB L2, leaving
    /// room for the input rows and weights); tests pass tiny sizes to get many bands.
    static let defaultBandBytes = 512 * 1024

    init(shape: Conv2dShape, inputChannels: Int, input: UnsafePointer<Float>, pointwise: PackedWeights, pointwiseActivation: Activation,
         depthwise: PackedDepthwiseWeights, output: UnsafeMutablePointer<Float>, epilogue: Epilogue, threads: Int,
         bandBytes: Int = defaultBandBytes) {
        self.shape = shape; self.inputChannels = inputChannels; self.input = input; self.pointwise = pointwise
        self.pointwiseActivation = pointwiseActivation; self.depthwise = depthwise; self.output = output; self.epilogue = epilogue
        let rowFloats = shape.inWidth * shape.inChannels
        let span = shape.dilationH * (shape.kernelH - 1) + 1
        let fit = max(span, bandBytes / 4 / max(1, rowFloats))
        bandRows = max(1, min(shape.outHeight, (fit - span) / shape.strideH + 1))
        bufferRows = (bandRows - 1) * shape.strideH + span
        let floats = max(16, bufferRows * rowFloats)
        buffers = (0..<threads).map { _ in
            UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64).bindMemory(to: Float.self, capacity: floats)
        }
    }

    deinit { for b in buffers { b.deallocate() } }

    func run(threads: Int) {
        let s = shape
        parallelForChunks(s.batch * s.outHeight, threads: min(threads, buffers.count)) { [self] index, rows in
            let buffer = buffers[index]
            var t = rows.lowerBound
            // Input rows [heldFrom, heldTo) of image heldImage are in the buffer, from row 0.
            var heldImage = -1, heldFrom = 0, heldTo = 0
            while t < rows.upperBound {
                let n = t / s.outHeight, oy0 = t % s.outHeight
                let count = min(bandRows, s.outHeight - oy0, rows.upperBound - t)
                // Input rows the band reads, clipped to the image.
                let first = oy0 * s.strideH - s.padTop
                let end = (oy0 + count - 1) * s.strideH - s.padTop + s.dilationH * (s.kernelH - 1) + 1
                let lo = max(0, first), hi = min(s.inHeight, end)
                var computeFrom = lo
                if heldImage == n && heldFrom <= lo && lo < heldTo {
                    let keep = heldTo - lo
                    if lo > heldFrom {
                        buffer.update(from: buffer + (lo - heldFrom) * rowFloats, count: keep * rowFloats)
                    }
                    computeFrom = heldTo
                }
                if computeFrom < hi {
                    gemm(a: input + ((n * s.inHeight + computeFrom) * s.inWidth) * inputChannels, lda: inputChannels,
                         weights: pointwise.matrix, c: buffer + (computeFrom - lo) * rowFloats, ldc: s.inChannels,
                         rows: 0..<(hi - computeFrom) * s.inWidth, epilogue: Epilogue(activation: pointwiseActivation))
                }
                heldImage = n; heldFrom = lo; heldTo = max(hi, lo)
                // The band as its own small image: the clipped rows, with the rows cut off at the
                // top and bottom as padding, so every output pixel reads the same taps.
                var band = s
                band.batch = 1
                band.inHeight = max(0, hi - lo)
                band.padTop = lo - first
                band.padBottom = end - max(hi, lo)
                let out = oy0 * s.outWidth, image = n * s.outHeight * s.outWidth
                depthwiseConv2d(shape: band, input: buffer, weights: depthwise.packed,
                                output: output + (image + out) * s.outChannels, pixels: 0..<count * s.outWidth,
                                epilogue: epilogue)
                t += count
            }
        }
    }

    private var rowFloats: Int { shape.inWidth * shape.inChannels }
}

/// A Winograd 3x3 conv: tiles split statically over the threads, each thread with its own
/// V/M scratch (allocated here, at instantiation); when there are too few tiles for a block
/// per thread, the weight panels (output channels) are split instead, so each thread reads
/// only its share of the transformed weights. Any split gives the same bits.
final class WinogradStep: @unchecked Sendable {
    let shape: Conv2dShape
    let input: UnsafePointer<Float>
    let weights: WinogradWeights
    let output: UnsafeMutablePointer<Float>
    let epilogue: Epilogue
    let scratch: WinogradScratch
    let tiles: Int

    init(shape: Conv2dShape, input: UnsafePointer<Float>, weights: WinogradWeights, output: UnsafeMutablePointer<Float>,
         epilogue: Epilogue, threads: Int) {
        self.shape = shape; self.input = input; self.weights = weights; self.output = output; self.epilogue = epilogue
        scratch = WinogradScratch(shape: shape, tile: weights.matrix.tile, slots: threads)
        tiles = winogradTiles(shape, tile: weights.matrix.tile)
    }

    func run(threads: Int) {
        let panels = weights.matrix.u.panels
        let byPanels = tiles <= threads * scratch.blockTiles && panels >= threads
        let parts = min(threads, scratch.slots, byPanels ? panels : tiles)
        parallelFor(parts, threads: parts) { [self] r in
            for slot in r {
                let part = chunk(byPanels ? panels : tiles, parts: parts, index: slot)
                winogradConv3x3(shape: shape, input: input, weights: weights.matrix, output: output,
                                tiles: byPanels ? 0..<tiles : part, panels: byPanels ? part : nil, blockTiles: scratch.blockTiles,
                                scratch: scratch.slot(slot), epilogue: epilogue)
            }
        }
    }
}
