import IR

/// Fuses a two-input add into the convolution that produces one operand, so the sum is formed
/// while the conv's output tile is in registers:
///
///     add(conv(x), r) = conv(x) + r   (epilogue: + bias, + r, then any activation)
///
/// Matches `add(a, b)` where one operand is a conv2d feeding only this add, with no activation
/// or residual yet, and the other operand is computed before that conv (so it is ready when the
/// conv runs). Prefers the later conv (in ResNet, the projection shortcut).
public enum FuseResidualAdd: Pass {
    public static let name = "fuse-residual-add"

    public static func run(_ g: inout PlanGraph) {
        var consumers = g.consumers()
        for i in g.nodes.indices where !g.nodes[i].removed {
            guard case .add = g.nodes[i].op else { continue }
            guard g.nodes[i].inputs.count == 2 else {
                g.rejected.append("\(name): \(g.label(i)) has \(g.nodes[i].inputs.count) operands; only two-operand adds fuse")
                continue
            }
            let (a, b) = (g.nodes[i].inputs[0], g.nodes[i].inputs[1])
            var reasons: [String] = []
            func eligible(_ c: Int, other: Int) -> Bool {
                guard case .conv2d = g.nodes[c].op else { reasons.append("\(g.label(c)) is not a conv2d"); return false }
                guard consumers[c].count == 1 else { reasons.append("\(g.label(c)) has other consumers"); return false }
                guard g.nodes[c].activation == nil, g.nodes[c].residual == nil else {
                    reasons.append("\(g.label(c)) already applies an activation or residual"); return false
                }
                guard other < c else { reasons.append("\(g.label(other)) is computed after \(g.label(c))"); return false }
                return true
            }
            let candidates = [(b, a), (a, b)].filter { eligible($0.0, other: $0.1) }.sorted { $0.0 > $1.0 }
            guard let (conv, other) = candidates.first else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: " + reasons.joined(separator: "; "))
                continue
            }
            g.nodes[conv].residual = other
            g.log(name, "\(g.label(i)) into \(g.label(conv)) (+ \(g.label(other)))")
            g.bypass(i, with: conv)
            consumers = g.consumers()
        }
    }
}
