import IR

/// Folds an inference BatchNorm into the convolution before it:
///
///     bn(conv(x)) = conv'(x)  with  W'[o] = W[o] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o],
///     s[o] = gamma[o] / sqrt(var[o] + eps)
///
/// (ONNX Runtime's conv_bn_fusion). Matches `batchnorm(conv)` where the conv feeds only the BN
/// and has no epilogue yet. The arithmetic happens when the runtime materializes the weights;
/// here the conv records which BN to fold.
public enum FoldBatchNorm: Pass {
    public static let name = "fold-batchnorm"

    public static func run(_ g: inout PlanGraph) {
        var consumers = g.consumers()
        for i in g.nodes.indices where !g.nodes[i].removed {
            guard case .batchNorm(let bn) = g.nodes[i].op else { continue }
            let p = g.nodes[i].inputs[0]
            guard case .conv2d = g.nodes[p].op else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: its input \(g.label(p)) is not a conv2d")
                continue
            }
            guard consumers[p].count == 1 else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: \(g.label(p)) has other consumers")
                continue
            }
            guard g.nodes[p].foldedBatchNorm == nil, g.nodes[p].activation == nil, g.nodes[p].residual == nil else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: \(g.label(p)) already has an epilogue")
                continue
            }
            g.nodes[p].foldedBatchNorm = .init(name: g.nodes[i].name, eps: bn.eps)
            g.log(name, "\(g.label(i)) into \(g.label(p))")
            g.bypass(i, with: p)
            consumers = g.consumers()
        }
    }
}
