// Fully connected layer, y = x Wᵀ + b with W in PyTorch's [out, in] layout, on trainingGemm:
//   forward  y  = x · Wᵀ      (NN with a transposed copy of W, refreshed after each update)
//   dX          = dY · W      (NN, W read in place)
//   dW          = dYᵀ · x     (TN: dY read column-wise, x rows in place)
//   db          = Σ_n dY

import IR
import Kernels

final class LinearLayer: TrainLayer, @unchecked Sendable {
    let inFeatures: Int
    let outFeatures: Int
    let hasBias: Bool
    private let transposed: UnsafeMutablePointer<Float>
    private var transposedVersion = -1

    init(node: Int, name: String, linear: Linear, inShape: TensorShape, outShape: TensorShape, batch: Int) {
        inFeatures = inShape.elementCount ?? 0
        outFeatures = linear.outFeatures
        hasBias = linear.bias
        transposed = .allocate(capacity: max(1, inFeatures * outFeatures))
        super.init(node: node, name: name, inShapes: [inShape], outShape: outShape, batch: batch)
    }

    deinit { transposed.deallocate() }

    override var needs: LayerNeeds { LayerNeeds(inputs: true) }

    /// Wᵀ [in, out], transposed in 32×32 blocks so both sides stream through cache.
    private func refreshTransposed() {
        guard transposedVersion != weightsVersion else { return }
        let w = params[0], t = transposed, o = outFeatures, i = inFeatures
        var ob = 0
        while ob < o {
            var ib = 0
            while ib < i {
                for r in ob..<min(o, ob + 32) {
                    for c in ib..<min(i, ib + 32) { t[c * o + r] = w[r * i + c] }
                }
                ib += 32
            }
            ob += 32
        }
        transposedVersion = weightsVersion
    }

    override func forward(_ s: RunState) {
        refreshTransposed()
        let o = outFeatures
        if hasBias {
            for r in 0..<s.n { (y + r * o).update(from: params[1], count: o) }
        }
        trainingGemm(m: s.n, n: o, k: inFeatures, a: .strided(x[0], ai: inFeatures, ak: 1), b: transposed, ldb: o,
                     c: y, ldc: o, accumulate: hasBias, threads: s.threads)
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let o = outFeatures, i = inFeatures
        if hasBias { columnSums(dy, pixels: s.n, channels: o, into: grads[1], threads: s.threads) }
        trainingGemm(m: o, n: i, k: s.n, a: .strided(dy, ai: 1, ak: o), b: x[0], ldb: i,
                     c: grads[0], ldc: i, accumulate: false, threads: s.threads)
        if let d = dx[0] {
            trainingGemm(m: s.n, n: i, k: o, a: .strided(dy, ai: o, ak: 1), b: params[0], ldb: i,
                         c: d, ldc: i, accumulate: accumulate[0], threads: s.threads)
        }
    }
}
