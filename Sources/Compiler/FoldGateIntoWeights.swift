import IR

/// Folds a squeeze-excitation gate into the weights of the 1x1 conv that reads the gated tensor,
/// instead of scaling every pixel:
///
///     conv1x1(x ⊙ g) = Σ_c x[p, c] · g[c] · W[c, o] + b = x · (diag(g) · W) + b
///
/// The fused squeeze-excitation step then writes only the gate g (C floats per image), and the
/// conv scales the rows of its packed weights by g once per image before its GEMM. That costs
/// C·O multiplies per image instead of H·W·C, and saves a read and a write of x.
///
/// Matches a fused squeeze-excitation (run after fuse-squeeze-excitation) whose only consumer is
/// a 1x1, stride-1, unpadded, ungrouped conv reading it as its input (not as a residual), when
/// H·W > O, i.e. when scaling the weights is cheaper than scaling the activation. In
/// EfficientNet that holds for the projection convs down to 14x14; at 7x7 the gate stays a
/// multiply.
public enum FoldGateIntoWeights: Pass {
    public static let name = "fold-gate-into-weights"

    public static func run(_ g: inout PlanGraph) {
        let consumers = g.consumers()
        for i in g.nodes.indices where !g.nodes[i].removed {
            guard var se = g.nodes[i].squeezeExcitation, !se.gateOnly, i != g.output else { continue }
            let shape = g.nodes[i].shape
            guard consumers[i].count == 1, let j = consumers[i].first else {
                g.rejected.append("\(name): the gate of \(g.label(i)) stays a multiply: \(consumers[i].count) steps read its output")
                continue
            }
            guard case .conv2d(let c) = g.nodes[j].op, c.kernel == Size2(square: 1), c.stride == Size2(square: 1),
                  c.padding == .zero, c.groups == 1, g.nodes[j].inputs == [i], g.nodes[j].residual != i else {
                g.rejected.append("\(name): the gate of \(g.label(i)) stays a multiply: \(g.label(j)) is not an ungrouped 1x1 conv")
                continue
            }
            let pixels = shape.height * shape.width
            guard pixels > c.outChannels else {
                g.rejected.append("\(name): the gate of \(g.label(i)) stays a multiply: \(shape.height)x\(shape.width) pixels "
                                  + "<= \(c.outChannels) output channels of \(g.label(j)), so scaling the activation is cheaper")
                continue
            }
            se.gateOnly = true
            g.nodes[i].squeezeExcitation = se
            g.nodes[i].shape = TensorShape([shape.channels, 1, 1])
            g.nodes[j].inputs = [g.nodes[i].inputs[0]]
            g.nodes[j].gate = i
            g.log(name, "the gate of \(g.label(i)) into the weights of \(g.label(j))")
        }
    }
}
