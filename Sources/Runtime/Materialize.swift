import Compiler
import IR

/// Turns a step's weight recipe into the tensors its kernel packs: BN folded into conv weights
/// and bias, linear columns permuted from an NHWC flatten.
enum Materialize {
    struct Missing: Error { var name: String }

    static func tensor(_ name: String, _ weights: Weights) throws(Missing) -> [Float] {
        guard let t = weights[name] else { throw Missing(name: name) }
        return t
    }

    /// Per-output-channel scale and shift of an inference BN: s = gamma / sqrt(var + eps),
    /// t = beta - mean * s.
    static func batchNorm(_ bn: PlanGraph.FoldedBatchNorm, _ weights: Weights) throws(Missing) -> (scale: [Float], shift: [Float]) {
        let gamma = try tensor(bn.name + ".weight", weights), beta = try tensor(bn.name + ".bias", weights)
        let mean = try tensor(bn.name + ".running_mean", weights), variance = try tensor(bn.name + ".running_var", weights)
        var scale = [Float](repeating: 0, count: gamma.count), shift = scale
        for c in gamma.indices {
            let s = Double(gamma[c]) / (Double(variance[c]) + bn.eps).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
        }
        return (scale, shift)
    }

    /// Conv weight [Cout, ...] and bias [Cout] with any BN folded in:
    /// W'[o] = W[o] * s[o], b'[o] = b[o] * s[o] + t[o].
    static func conv(_ recipe: WeightRecipe, outChannels: Int, _ weights: Weights) throws(Missing) -> (weight: [Float], bias: [Float]?) {
        guard let wName = recipe.weight else { throw Missing(name: "<weight>") }
        var w = try tensor(wName, weights)
        var bias = try recipe.bias.map { (n: String) throws(Missing) -> [Float] in try tensor(n, weights) }
        if let bn = recipe.batchNorm {
            let (s, t) = try batchNorm(bn, weights)
            let per = w.count / outChannels
            for o in 0..<outChannels {
                for k in 0..<per { w[o * per + k] *= s[o] }
            }
            var b = bias ?? [Float](repeating: 0, count: outChannels)
            for o in 0..<outChannels { b[o] = Float(Double(b[o]) * Double(s[o]) + Double(t[o])) }
            bias = b
        }
        return (w, bias)
    }

    /// A linear weight [out, C*H*W] whose input is the NHWC flatten of [C, H, W]: columns are
    /// reordered to (h, w, c) so the data needs no transpose.
    static func permuteColumns(_ w: [Float], out: Int, from s: TensorShape) -> [Float] {
        let c = s.channels, h = s.height, wd = s.width, n = c * h * wd
        var r = [Float](repeating: 0, count: w.count)
        for o in 0..<out {
            for ch in 0..<c {
                for y in 0..<h {
                    for x in 0..<wd { r[o * n + (y * wd + x) * c + ch] = w[o * n + (ch * h + y) * wd + x] }
                }
            }
        }
        return r
    }
}
