// Layers without parameters that act elementwise or move data: the input conversion,
// activations, add, concat, multiply (same shape or a [C, 1, 1] gate), flatten, softmax.
// Forward reuses the inference kernels where one exists, so eval mode computes exactly what
// the unfused inference kernels compute. Backward derivatives follow PyTorch at the kinks
// (relu'(0) = 0, relu6 passes gradient only for 0 < x < 6, hardswish' = x/3 + 1/2 on [-3, 3]).

import IR
import Kernels

/// Node 0: the NCHW images of the batch (from the data loader) into the NHWC value buffer.
final class InputLayer: TrainLayer, @unchecked Sendable {
    var staging: UnsafeMutablePointer<Float>! = nil

    override func forward(_ s: RunState) {
        let c = outChannels, hw = outPixels
        if c == 1 || hw == 1 {
            y.update(from: staging, count: s.n * outFloats)
            return
        }
        let xs = SendablePointer(staging), ys = SendableMutablePointer(y)
        parallel(s.n * hw, threads: s.threads, work: s.n * outFloats) { r in
            nchwToNhwc(input: xs.pointer, output: ys.pointer, channels: c, pixelsPerImage: hw, pixels: r)
        }
    }
}

/// The Kernels activation for an IR activation (nil for identity).
func kernelActivation(_ a: IR.Activation) -> Kernels.Activation {
    switch a {
    case .identity: .none
    case .relu: .relu
    case .relu6: .relu6
    case .leakyRelu(let s): .leakyRelu(Float(s))
    case .sigmoid: .sigmoid
    case .tanh: .tanh
    case .silu: .silu
    case .hardswish: .hardswish
    case .hardsigmoid: .hardsigmoid
    }
}

/// dL/dx = dL/dy · f'(x), 16 lanes at a time.
@inline(__always)
func activationGradient(_ a: IR.Activation, _ x: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
    let zero = SIMD16<Float>(repeating: 0), one = SIMD16<Float>(repeating: 1)
    switch a {
    case .identity: return g
    case .relu: return g.replacing(with: zero, where: x .<= zero)
    case .relu6: return g.replacing(with: zero, where: (x .<= zero) .| (x .>= SIMD16(repeating: 6)))
    case .leakyRelu(let slope): return g.replacing(with: g * SIMD16(repeating: Float(slope)), where: x .<= zero)
    case .sigmoid:
        let s = activate(x, .sigmoid)
        return g * s * (one - s)
    case .tanh:
        let t = activate(x, .tanh)
        return g * (one - t * t)
    case .silu:
        let s = activate(x, .sigmoid)
        return g * s * (one + x * (one - s))
    case .hardswish:
        let three = SIMD16<Float>(repeating: 3)
        let mid = g * (x / three + SIMD16(repeating: 0.5))
        return mid.replacing(with: zero, where: x .< -three).replacing(with: g, where: x .> three)
    case .hardsigmoid:
        let three = SIMD16<Float>(repeating: 3)
        return (g / SIMD16(repeating: 6)).replacing(with: zero, where: (x .<= -three) .| (x .>= three))
    }
}

final class ActivationLayer: TrainLayer, @unchecked Sendable {
    let activation: IR.Activation

    init(node: Int, name: String, activation: IR.Activation, shape: TensorShape, batch: Int) {
        self.activation = activation
        super.init(node: node, name: name, inShapes: [shape], outShape: shape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(inputs: true) }

    override func forward(_ s: RunState) {
        let act = kernelActivation(activation)
        let xs = SendablePointer(x[0]), ys = SendableMutablePointer(y)
        let count = s.n * outFloats
        parallel((count + 15) / 16, threads: s.threads, work: count) { r in
            applyActivation(act, input: xs.pointer, output: ys.pointer, elements: (r.lowerBound * 16)..<min(count, r.upperBound * 16))
        }
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let a = activation, acc = accumulate[0]
        let xs = SendablePointer(x[0]), gs = SendablePointer(dy), ds = SendableMutablePointer(d)
        let count = s.n * outFloats
        parallel((count + 15) / 16, threads: s.threads, work: count) { r in
            var i = r.lowerBound * 16
            let end = min(count, r.upperBound * 16)
            while i < end {
                let lanes = min(16, end - i)
                var v = activationGradient(a, ldp(xs.pointer + i, lanes), ldp(gs.pointer + i, lanes))
                if acc { v += ldp(ds.pointer + i, lanes) }
                stp(v, ds.pointer + i, lanes)
                i += 16
            }
        }
    }
}

final class AddLayer: TrainLayer, @unchecked Sendable {
    override func forward(_ s: RunState) {
        let count = s.n * outFloats
        let ys = SendableMutablePointer(y)
        let xs = x.map { SendablePointer($0) }
        parallel((count + 15) / 16, threads: s.threads, work: count * xs.count) { r in
            let e = (r.lowerBound * 16)..<min(count, r.upperBound * 16)
            add(xs[0].pointer, xs.count > 1 ? xs[1].pointer : xs[0].pointer, output: ys.pointer, elements: xs.count > 1 ? e : 0..<0)
            if xs.count == 1 { (ys.pointer + e.lowerBound).update(from: xs[0].pointer + e.lowerBound, count: e.count) }
            for k in 2..<max(2, xs.count) { add(ys.pointer, xs[k].pointer, output: ys.pointer, elements: e) }
        }
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let count = s.n * outFloats
        for k in 0..<dx.count {
            guard let d = dx[k] else { continue }
            let acc = accumulate[k], gs = SendablePointer(dy), ds = SendableMutablePointer(d)
            parallel(count, threads: s.threads, work: count) { r in emit(gs.pointer, ds.pointer, r, accumulate: acc) }
        }
    }
}

final class ConcatLayer: TrainLayer, @unchecked Sendable {
    override func forward(_ s: RunState) {
        let pixels = s.n * outPixels, total = outChannels
        var offset = 0
        for k in 0..<x.count {
            let c = inShapes[k].channels
            copyChannels(x[k], srcStride: c, y + offset, dstStride: total, channels: c, pixels: 0..<pixels)
            offset += c
        }
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let pixels = s.n * outPixels, total = outChannels
        var offset = 0
        for k in 0..<x.count {
            let c = inShapes[k].channels
            if let d = dx[k] {
                for p in 0..<pixels {
                    emit(dy + p * total + offset, d + p * c, 0..<c, accumulate: accumulate[k])
                }
            }
            offset += c
        }
    }
}

/// x0 * x1 with x1 of the same shape, or a [C, 1, 1] gate broadcast over H and W.
final class MultiplyLayer: TrainLayer, @unchecked Sendable {
    override var needs: LayerNeeds { LayerNeeds(inputs: true) }
    var isGate: Bool { inFloats(1) != inFloats(0) }

    override func forward(_ s: RunState) {
        let c = outChannels, hw = outPixels
        if isGate {
            channelGate(input: x[0], gate: x[1], output: y, channels: c, pixelsPerImage: hw, pixels: 0..<(s.n * hw))
        } else {
            multiply(x[0], x[1], output: y, elements: 0..<(s.n * outFloats))
        }
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let c = outChannels, hw = outPixels
        if isGate {
            if let d = dx[0] {
                for p in 0..<(s.n * hw) {
                    let gp = x[1] + (p / hw) * c
                    perChannel(c) { c0, lanes in
                        let i = p * c + c0
                        var v = ldp(dy + i, lanes) * ldp(gp + c0, lanes)
                        if accumulate[0] { v += ldp(d + i, lanes) }
                        stp(v, d + i, lanes)
                    }
                }
            }
            if let d = dx[1] {
                for n in 0..<s.n {
                    perChannel(c) { c0, lanes in
                        var acc = SIMD16<Float>(repeating: 0)
                        for q in 0..<hw {
                            let i = (n * hw + q) * c + c0
                            acc = acc.addingProduct(ldp(dy + i, lanes), ldp(x[0] + i, lanes))
                        }
                        if accumulate[1] { acc += ldp(d + n * c + c0, lanes) }
                        stp(acc, d + n * c + c0, lanes)
                    }
                }
            }
            return
        }
        let count = s.n * outFloats
        for k in 0..<2 {
            guard let d = dx[k] else { continue }
            let other = x[1 - k]
            var i = 0
            while i < count {
                let lanes = min(16, count - i)
                var v = ldp(dy + i, lanes) * ldp(other + i, lanes)
                if accumulate[k] { v += ldp(d + i, lanes) }
                stp(v, d + i, lanes)
                i += 16
            }
        }
    }
}

/// [C, H, W] (stored NHWC) → [C·H·W] in PyTorch's C order, and back in backward.
final class FlattenLayer: TrainLayer, @unchecked Sendable {
    override func forward(_ s: RunState) {
        let c = inShapes[0].channels, hw = inShapes[0].height * inShapes[0].width
        if c == 1 || hw == 1 || !inShapes[0].isFeatureMap {
            y.update(from: x[0], count: s.n * outFloats)
            return
        }
        let xs = SendablePointer(x[0]), ys = SendableMutablePointer(y)
        parallel(s.n, threads: s.threads, work: s.n * outFloats) { images in
            nhwcToNchw(input: xs.pointer, output: ys.pointer, channels: c, pixelsPerImage: hw,
                       pixels: (images.lowerBound * hw)..<(images.upperBound * hw))
        }
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let c = inShapes[0].channels, hw = inShapes[0].height * inShapes[0].width, per = outFloats
        if c == 1 || hw == 1 || !inShapes[0].isFeatureMap {
            emit(dy, d, 0..<(s.n * per), accumulate: accumulate[0])
            return
        }
        let acc = accumulate[0], gs = SendablePointer(dy), ds = SendableMutablePointer(d)
        parallel(s.n, threads: s.threads, work: s.n * per) { images in
            for n in images {
                let src = gs.pointer + n * per, dst = ds.pointer + n * per
                for ch in 0..<c {
                    if acc {
                        for q in 0..<hw { dst[q * c + ch] += src[ch * hw + q] }
                    } else {
                        for q in 0..<hw { dst[q * c + ch] = src[ch * hw + q] }
                    }
                }
            }
        }
    }
}

/// Softmax over channels (per pixel); backward dx = y ⊙ (dy - Σ dy ⊙ y).
final class SoftmaxLayer: TrainLayer, @unchecked Sendable {
    override var needs: LayerNeeds { LayerNeeds(output: true) }

    override func forward(_ s: RunState) {
        softmax(input: x[0], output: y, length: outChannels, rows: 0..<(s.n * outPixels))
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let c = outChannels
        for r in 0..<(s.n * outPixels) {
            let yr = y + r * c, gr = dy + r * c, dr = d + r * c
            var dot: Float = 0
            for i in 0..<c { dot += yr[i] * gr[i] }
            for i in 0..<c {
                let v = yr[i] * (gr[i] - dot)
                dr[i] = accumulate[0] ? dr[i] + v : v
            }
        }
    }
}
