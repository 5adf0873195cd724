// Fully connected layer, y = x Wᵀ + b with W in PyTorch's [out, in] layout:
//   forward  y  = x · Wᵀ      (dotGemm: x rows against W rows in place, nothing repacked)
//   dX          = dY · W      (trainingGemm NN, W read in place)
//   dW          = dYᵀ · x     (trainingGemm TN: dY read column-wise, x rows in place)
//   db          = Σ_n dY

import IR
import Kernels

final class LinearLayer: TrainLayer, @unchecked Sendable {
    let inFeatures: Int
    let outFeatures: Int
    let hasBias: Bool

    init(node: Int, name: String, linear: Linear, inShape: TensorShape, outShape: TensorShape, batch: Int) {
        inFeatures = inShape.elementCount ?? 0
        outFeatures = linear.outFeatures
        hasBias = linear.bias
        super.init(node: node, name: name, inShapes: [inShape], outShape: outShape, batch: batch)
    }

    override var needs: LayerNeeds { LayerNeeds(inputs: true) }

    override func forward(_ s: RunState) {
        let o = outFeatures
        if hasBias {
            for r in 0..<s.n { (y + r * o).update(from: params[1], count: o) }
        }
        dotGemm(m: s.n, n: o, k: inFeatures, a: x[0], lda: inFeatures, b: params[0], ldb: inFeatures,
                c: y, ldc: o, accumulate: hasBias, threads: s.threads)
    }

    override func backward(_ s: RunState) {
        guard let dy else { return }
        let o = outFeatures, i = inFeatures
        if hasBias { columnSums(dy, pixels: s.n, channels: o, into: grads[1], threads: s.threads) }
        timed("dW") {
            trainingGemm(m: o, n: i, k: s.n, a: .strided(dy, ai: 1, ak: o), b: x[0], ldb: i,
                         c: grads[0], ldc: i, accumulate: false, threads: s.threads)
        }
        if let d = dx[0] {
            timed("dX") {
                trainingGemm(m: s.n, n: i, k: o, a: .strided(dy, ai: o, ak: 1), b: params[0], ldb: i,
                             c: d, ldc: i, accumulate: accumulate[0], threads: s.threads)
            }
        }
    }
}
