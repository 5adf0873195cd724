// Batch normalization in training mode (PyTorch's BatchNorm2d / BatchNorm1d semantics):
// normalize with the batch mean and biased variance over N·H·W, update the running statistics
// with `momentum` (running = (1 - m)·running + m·batch) using the *unbiased* variance
// (× count / (count - 1)), as torch does. Eval mode uses the running statistics.
//
// Sums run in Float within chunks of 256 pixels and in Double across chunks, so statistics
// over 36k pixels keep ~1e-7 relative precision at Float speed. Reductions are split over
// blocks of 16 channels (never over pixels), so the result does not depend on threads.

import IR
import Kernels

final class BatchNormLayer: TrainLayer, @unchecked Sendable {
    let eps: Double
    let momentum: Double
    let channels: Int
    private var mean: [Float]
    private var invstd: [Float]
    private var scale: [Float]
    private var shift: [Float]

    init(node: Int, name: String, bn: BatchNorm, shape: TensorShape, batch: Int) {
        eps = bn.eps; momentum = bn.momentum; channels = shape.channels
        mean = .init(repeating: 0, count: shape.channels)
        invstd = mean; scale = mean; shift = mean
        super.init(node: node, name: name, inShapes: [shape], outShape: shape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(inputs: true) }

    /// Per-channel Σ f(x[p, c]) over `count` pixels for each 16-channel block in `blocks`;
    /// f is x (power 1) or (x - centre)² (power 2). When `other` is given, Σ other·(x - centre).
    private func reduce(_ x: UnsafePointer<Float>, count: Int, centre: [Float], power: Int,
                        other: UnsafePointer<Float>? = nil, threads: Int) -> [Double] {
        let c = channels
        var result = [Double](repeating: 0, count: c)
        let xs = SendablePointer(x), os = other.map(SendablePointer.init)
        let centreArray = centre
        result.withUnsafeMutableBufferPointer { rb in
            let rs = SendableDoubles(rb.baseAddress!)
            parallel((c + 15) / 16, threads: threads, work: count * c) { r in
                for blk in r {
                    let c0 = blk * 16, lanes = min(16, c - c0)
                    var m = SIMD16<Float>(repeating: 0)
                    for l in 0..<lanes { m[l] = centreArray[c0 + l] }
                    var total = SIMD16<Double>(repeating: 0)
                    var p = 0
                    while p < count {
                        let end = min(count, p + 256)
                        var acc = SIMD16<Float>(repeating: 0)
                        for q in p..<end {
                            let v = ldp(xs.pointer + q * c + c0, lanes)
                            if let o = os {
                                acc = acc.addingProduct(ldp(o.pointer + q * c + c0, lanes), v - m)
                            } else if power == 1 {
                                acc += v
                            } else {
                                let d = v - m
                                acc = acc.addingProduct(d, d)
                            }
                        }
                        for l in 0..<16 { total[l] += Double(acc[l]) }
                        p = end
                    }
                    for l in 0..<lanes { rs.pointer[c0 + l] = total[l] }
                }
            }
        }
        return result
    }

    override func forward(_ s: RunState) {
        let c = channels, count = s.n * outPixels
        let gamma = params[0], beta = params[1]
        if s.training {
            let zeros = [Float](repeating: 0, count: c)
            let sums = reduce(x[0], count: count, centre: zeros, power: 1, threads: s.threads)
            for ch in 0..<c { mean[ch] = Float(sums[ch] / Double(count)) }
            let squares = reduce(x[0], count: count, centre: mean, power: 2, threads: s.threads)
            let rm = buffers[0], rv = buffers[1]
            let unbias = count > 1 ? Double(count) / Double(count - 1) : 1
            for ch in 0..<c {
                let variance = squares[ch] / Double(count)
                let inv = 1 / (variance + eps).squareRoot()
                invstd[ch] = Float(inv)
                scale[ch] = Float(Double(gamma[ch]) * inv)
                shift[ch] = Float(Double(beta[ch]) - Double(mean[ch]) * Double(gamma[ch]) * inv)
                rm[ch] = Float((1 - momentum) * Double(rm[ch]) + momentum * Double(mean[ch]))
                rv[ch] = Float((1 - momentum) * Double(rv[ch]) + momentum * variance * unbias)
            }
        } else {
            let rm = buffers[0], rv = buffers[1]
            for ch in 0..<c {
                let inv = 1 / (Double(rv[ch]) + eps).squareRoot()
                scale[ch] = Float(Double(gamma[ch]) * inv)
                shift[ch] = Float(Double(beta[ch]) - Double(rm[ch]) * Double(gamma[ch]) * inv)
            }
        }
        applyAffine(x: x[0], scale: scale, shift: shift, extra: nil, extraScale: [], out: y, count: count, threads: s.threads, accumulate: false)
    }

    /// out = x·scale + shift (+ extra·extraScale), per channel, over `count` pixels.
    private func applyAffine(x: UnsafePointer<Float>, scale: [Float], shift: [Float], extra: UnsafePointer<Float>?,
                             extraScale: [Float], out: UnsafeMutablePointer<Float>, count: Int, threads: Int, accumulate: Bool) {
        let c = channels
        let xs = SendablePointer(x), es = extra.map(SendablePointer.init), os = SendableMutablePointer(out)
        let sc = scale, sh = shift, ex = extraScale
        parallel(count, threads: threads, work: count * c) { r in
            sc.withUnsafeBufferPointer { scb in
                sh.withUnsafeBufferPointer { shb in
                    ex.withUnsafeBufferPointer { exb in
                        for p in r {
                            perChannel(c) { c0, lanes in
                                let i = p * c + c0
                                var v = ldp(xs.pointer + i, lanes) * ldp(scb.baseAddress! + c0, lanes) + ldp(shb.baseAddress! + c0, lanes)
                                if let e = es { v = v.addingProduct(ldp(e.pointer + i, lanes), ldp(exb.baseAddress! + c0, lanes)) }
                                if accumulate { v += ldp(os.pointer + i, lanes) }
                                stp(v, os.pointer + i, lanes)
                            }
                        }
                    }
                }
            }
        }
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let c = channels, count = s.n * outPixels
        let zeros = [Float](repeating: 0, count: c)
        let dbeta = reduce(dy, count: count, centre: zeros, power: 1, threads: s.threads)
        // Σ dy·(x - mean), then dgamma = that · invstd.
        let dyx = reduce(x[0], count: count, centre: mean, power: 0, other: dy, threads: s.threads)
        let gamma = params[0]
        var a = [Float](repeating: 0, count: c), b = a, k = a
        for ch in 0..<c {
            let inv = Double(invstd[ch])
            let dg = dyx[ch] * inv
            grads[0][ch] = Float(dg)
            grads[1][ch] = Float(dbeta[ch])
            // dx = A·dy + B·x + K with A = γ·invstd, B = -A·dγ·invstd / count,
            // K = -A·dβ / count - B·mean.
            let aa = Double(gamma[ch]) * inv
            let bb = -aa * dg * inv / Double(count)
            a[ch] = Float(aa)
            b[ch] = Float(bb)
            k[ch] = Float(-aa * dbeta[ch] / Double(count) - bb * Double(mean[ch]))
        }
        guard let d = dx[0] else { return }
        applyAffine(x: dy, scale: a, shift: k, extra: x[0], extraScale: b, out: d, count: count, threads: s.threads,
                    accumulate: accumulate[0])
    }
}

/// A Double buffer that may cross into `parallelFor` bodies (threads write disjoint parts).
struct SendableDoubles: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
}
