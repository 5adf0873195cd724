// Randomness of training, all derived from the user's seed by counter-based functions:
//   - the shuffle of epoch e is a Fisher-Yates permutation from SplitMix64(seed, e);
//   - dropout and stochastic-depth masks of step s, node i are a hash of (seed, s, i, element).
// No generator state evolves across steps, so "the RNG state" of a checkpoint is the seed and
// the step counter: a resumed run draws exactly the numbers an uninterrupted run draws, and a
// mask depends neither on the thread split nor on the batch size of other steps.

import IR
import Kernels

enum TrainRandom {
    /// SplitMix64 mixer (a bijection of UInt64).
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Key of the masks of one step.
    static func stepKey(seed: UInt64, step: Int) -> UInt64 {
        mix(mix(seed ^ 0x5eed_0f_d20_9 ) ^ UInt64(truncatingIfNeeded: step))
    }

    /// Key of one node within a step.
    static func nodeKey(_ stepKey: UInt64, node: Int) -> UInt64 {
        mix(stepKey ^ (UInt64(truncatingIfNeeded: node) &* 0xd6e8_feb8_6659_fd93))
    }

    /// The order in which epoch `epoch` visits `count` examples.
    static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var state = mix(seed ^ 0x5fff_1e) &+ UInt64(truncatingIfNeeded: epoch) &* 0x9e37_79b9_7f4a_7c15
        var i = count - 1
        while i > 0 {
            state = mix(state)
            // Lemire's multiply-shift maps 64 random bits to 0...i with negligible bias.
            let j = Int(((state >> 32) &* UInt64(i + 1)) >> 32)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// 16 uniform floats in [0, 1) for element indices `index ..< index + 16` under `key`:
    /// two rounds of a 32-bit integer hash (lowbias32), top 23 bits as a mantissa.
    @inline(__always)
    static func uniform16(_ index: Int, key: UInt64) -> SIMD16<Float> {
        var v = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &+ UInt32(truncatingIfNeeded: index)
        v ^= SIMD16(repeating: UInt32(truncatingIfNeeded: key))
        v = hash(v)
        v ^= SIMD16(repeating: UInt32(truncatingIfNeeded: key >> 32))
        v = hash(v)
        let bits = (v &>> 9) | SIMD16(repeating: 0x3f80_0000)
        return unsafeBitCast(bits, to: SIMD16<Float>.self) - SIMD16(repeating: 1)
    }

    @inline(__always)
    static func hash(_ x: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var v = x
        v ^= v &>> 16
        v &*= SIMD16(repeating: 0x7feb_352d)
        v ^= v &>> 15
        v &*= SIMD16(repeating: 0x846c_a68b)
        v ^= v &>> 16
        return v
    }
}

/// Dropout (training): keep each element with probability 1 - p and scale it by 1 / (1 - p),
/// PyTorch's inverted dropout. The mask (0 or 1 / (1 - p)) is kept in `aux` for backward.
final class DropoutLayer: TrainLayer, @unchecked Sendable {
    let p: Double

    init(node: Int, name: String, p: Double, shape: TensorShape, batch: Int) {
        self.p = p
        super.init(node: node, name: name, inShapes: [shape], outShape: shape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(auxPerSample: outFloats) }

    override func forward(_ s: RunState) {
        let count = s.n * outFloats
        guard s.training, p > 0, let aux else {
            y.update(from: x[0], count: count)
            return
        }
        let key = TrainRandom.nodeKey(s.randomKey, node: node)
        let pf = Float(p), scale = p >= 1 ? Float(0) : Float(1 / (1 - p))
        let xs = SendablePointer(x[0]), ys = SendableMutablePointer(y), ms = SendableMutablePointer(aux)
        parallel((count + 15) / 16, threads: s.threads, work: count * 4) { r in
            var i = r.lowerBound * 16
            let end = min(count, r.upperBound * 16)
            let zero = SIMD16<Float>(repeating: 0), keep = SIMD16<Float>(repeating: scale), pv = SIMD16<Float>(repeating: pf)
            while i < end {
                let lanes = min(16, end - i)
                let u = TrainRandom.uniform16(i, key: key)
                let m = keep.replacing(with: zero, where: u .< pv)
                stp(m, ms.pointer + i, lanes)
                stp(ldp(xs.pointer + i, lanes) * m, ys.pointer + i, lanes)
                i += 16
            }
        }
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let count = s.n * outFloats
        guard p > 0, let mask = aux else {
            emit(dy, d, 0..<count, accumulate: accumulate[0])
            return
        }
        let gs = SendablePointer(dy), ds = SendableMutablePointer(d), ms = SendablePointer(mask), acc = accumulate[0]
        parallel((count + 15) / 16, threads: s.threads, work: count) { r in
            var i = r.lowerBound * 16
            let end = min(count, r.upperBound * 16)
            while i < end {
                let lanes = min(16, end - i)
                var v = ldp(gs.pointer + i, lanes) * ldp(ms.pointer + i, lanes)
                if acc { v += ldp(ds.pointer + i, lanes) }
                stp(v, ds.pointer + i, lanes)
                i += 16
            }
        }
    }
}

/// Stochastic depth, torchvision's mode "row": each sample's branch is kept with probability
/// 1 - p and scaled by 1 / (1 - p), or zeroed. One factor per sample, kept in `aux`.
final class StochasticDepthLayer: TrainLayer, @unchecked Sendable {
    let p: Double

    init(node: Int, name: String, p: Double, shape: TensorShape, batch: Int) {
        self.p = p
        super.init(node: node, name: name, inShapes: [shape], outShape: shape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(auxPerSample: 1) }

    override func forward(_ s: RunState) {
        let per = outFloats
        guard s.training, p > 0, let aux else {
            y.update(from: x[0], count: s.n * per)
            return
        }
        let key = TrainRandom.nodeKey(s.randomKey, node: node)
        let survival = 1 - p
        for n in 0..<s.n {
            let u = TrainRandom.uniform16(n, key: key)[0]
            let factor: Float = Double(u) < survival && survival > 0 ? Float(1 / survival) : 0
            aux[n] = factor
            let src = x[0] + n * per, dst = y + n * per
            for i in 0..<per { dst[i] = src[i] * factor }
        }
    }

    override func backward(_ s: RunState) {
        guard let dy, let d = dx[0] else { return }
        let per = outFloats
        for n in 0..<s.n {
            var factor: Float = 1
            if p > 0, let aux { factor = aux[n] }
            let src = dy + n * per, dst = d + n * per
            for i in 0..<per { dst[i] = accumulate[0] ? dst[i] + src[i] * factor : src[i] * factor }
        }
    }
}
