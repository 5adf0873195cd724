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
        case softmax(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, length: Int, rows: Int)
    }

    let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    /// Work items and the chunk alignment that keeps GEMM row tiles whole.
    private var work: (items: Int, alignment: Int) {
        switch kind {
        case .layout(_, _, _, _, _, let p): (p, 1)
        case .conv(let s, _, _, _, _, _): (s.outputPixels, gemmMR)
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
        case .squeezeExcitation: (1, 1)
        case .softmax(_, _, _, let r): (r, 1)
        }
    }

    func run(threads: Int) {
        if case .squeezeExcitation(let se) = kind {
            se.run(threads: threads)
            return
        }
        let (items, alignment) = work
        parallelFor(items, threads: threads, alignment: alignment) { [self] r in execute(r) }
    }

    /// Runs work items `r` (vector-of-16 chunks for elementwise kinds).
    private func execute(_ r: Range<Int>) {
        func elements(_ n: Int) -> Range<Int> { (r.lowerBound * 16)..<min(n, r.upperBound * 16) }
        switch kind {
        case .layout(let toNHWC, let x, let out, let c, let hw, _):
            if toNHWC { nchwToNhwc(input: x, output: out, channels: c, pixelsPerImage: hw, pixels: r) }
            else { nhwcToNchw(input: x, output: out, channels: c, pixelsPerImage: hw, pixels: r) }
        case .conv(let s, let x, let ind, let w, let out, let e):
            conv2d(shape: s, input: x, indirection: ind?.view, weights: w.matrix, output: out, pixels: r, epilogue: e)
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
        case .squeezeExcitation:
            break
        case .softmax(let x, let out, let length, _):
            softmax(input: x, output: out, length: length, rows: r)
        }
    }
}

/// The fused squeeze-excitation step: pool each image's channels, two small fully connected
/// layers (the 1x1 convs) with their activations, then scale the input by the gate. The small
/// scratch vectors are allocated once, at instantiation.
final class SqueezeExcitationStep: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let batch: Int, channels: Int, squeeze: Int, pixelsPerImage: Int
    let fc1: PackedWeights, fc2: PackedWeights
    let act1: Activation, gate: Activation
    private let pooled: UnsafeMutablePointer<Float>
    private let hidden: UnsafeMutablePointer<Float>
    private let gates: UnsafeMutablePointer<Float>

    init(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, squeeze: Int, pixelsPerImage: Int,
         fc1: PackedWeights, fc2: PackedWeights, act1: Activation, gate: Activation) {
        self.input = input; self.output = output; self.batch = batch; self.channels = channels; self.squeeze = squeeze
        self.pixelsPerImage = pixelsPerImage; self.fc1 = fc1; self.fc2 = fc2; self.act1 = act1; self.gate = gate
        pooled = .allocate(capacity: batch * channels)
        hidden = .allocate(capacity: batch * squeeze)
        gates = .allocate(capacity: batch * channels)
    }

    deinit {
        pooled.deallocate()
        hidden.deallocate()
        gates.deallocate()
    }

    func run(threads: Int) {
        let hw = pixelsPerImage
        globalAvgPool(channels: channels, height: hw, width: 1, input: input, output: pooled, images: 0..<batch)
        linear(input: pooled, weights: fc1.matrix, output: hidden, rows: 0..<batch, epilogue: Epilogue(activation: act1))
        linear(input: hidden, weights: fc2.matrix, output: gates, rows: 0..<batch, epilogue: Epilogue(activation: gate))
        parallelFor(batch * hw, threads: threads) { [self] r in
            channelGate(input: input, gate: gates, output: output, channels: channels, pixelsPerImage: hw, pixels: r)
        }
    }
}
