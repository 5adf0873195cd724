import IR

/// Fuses an activation into the conv2d or linear layer (or the fused residual sum) before it:
///
///     act(conv(x) + bias [+ r]) is computed on the output tile in registers.
///
/// Matches `activation(p)` where p is a conv2d or linear feeding only this activation and not
/// already activated. Every activation of the IR fuses (relu, relu6, leaky_relu, sigmoid, tanh,
/// silu, hardswish, hardsigmoid), SiLU included.
public enum FuseActivation: Pass {
    public static let name = "fuse-activation"

    public static func run(_ g: inout PlanGraph) {
        var consumers = g.consumers()
        for i in g.nodes.indices where !g.nodes[i].removed {
            guard case .activation(let act) = g.nodes[i].op else { continue }
            let p = g.nodes[i].inputs[0]
            switch g.nodes[p].op {
            case .conv2d, .linear: break
            default:
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: its input \(g.label(p)) is a \(g.nodes[p].op.kindName)")
                continue
            }
            guard consumers[p].count == 1, g.nodes[p].activation == nil else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: \(g.label(p)) has other consumers or an activation")
                continue
            }
            g.nodes[p].activation = act
            g.log(name, "\(g.label(i)) (\(act.name)) into \(g.label(p))")
            g.bypass(i, with: p)
            consumers = g.consumers()
        }
    }
}
