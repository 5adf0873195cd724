// Softmax cross-entropy with optional label smoothing, as torch.nn.CrossEntropyLoss defines it
// (reduction "mean"): with p = softmax(z) and the smoothed target
//   q_k = (1 - ε)·[k = y] + ε / K,
// the loss of a sample is -Σ_k q_k log p_k, and dLoss/dz_k = (p_k - q_k) / N for the batch
// mean. Log-sum-exp is computed in Double around the row maximum, so large logits neither
// overflow nor lose the loss's small differences.

import Foundation

struct LossResult {
    /// Mean loss over the batch (NaN or ±Inf when the logits were not finite).
    var loss: Double
    /// Samples whose largest logit is the label's (first maximum wins, as torch.argmax).
    var correct: Int
}

func softmaxCrossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, n: Int, classes k: Int,
                         smoothing eps: Double, gradient: UnsafeMutablePointer<Float>) -> LossResult {
    var total = 0.0
    var correct = 0
    let invN = 1 / Double(n)
    for r in 0..<n {
        let z = logits + r * k, g = gradient + r * k
        let label = Int(labels[r])
        var best = 0
        for i in 1..<max(1, k) where z[i] > z[best] { best = i }
        let m = Double(z[best])
        if best == label { correct += 1 }
        var sum = 0.0
        for i in 0..<k { sum += Foundation.exp(Double(z[i]) - m) }
        let logSum = Foundation.log(sum) + m
        var rowLoss = 0.0
        for i in 0..<k {
            let q = (i == label ? 1 - eps : 0) + eps / Double(k)
            let logp = Double(z[i]) - logSum
            rowLoss -= q * logp
            g[i] = Float((Foundation.exp(logp) - q) * invN)
        }
        total += rowLoss
    }
    return LossResult(loss: total * invN, correct: correct)
}

/// Arg-max of each row of `[n, k]` logits (first maximum wins).
func argmaxRows(_ z: UnsafePointer<Float>, n: Int, k: Int) -> [Int] {
    (0..<n).map { r in
        var best = 0
        for i in 1..<max(1, k) where z[r * k + i] > z[r * k + best] { best = i }
        return best
    }
}
