import IR

/// Removes what computes nothing at inference: dropout, stochastic depth and identity
/// activations. Identity: `dropout(x) = x`, `stochastic_depth(x) = x`, `identity(x) = x` in eval
/// mode. Matches every such node; consumers read its input directly.
public enum EliminateIdentities: Pass {
    public static let name = "eliminate-identities"

    public static func run(_ g: inout PlanGraph) {
        for i in g.nodes.indices where !g.nodes[i].removed {
            switch g.nodes[i].op {
            case .dropout, .stochasticDepth, .activation(.identity):
                g.log(name, "removed \(g.label(i)) (\(g.nodes[i].op.kindName))")
                g.bypass(i, with: g.nodes[i].inputs[0])
            default:
                break
            }
        }
    }
}
