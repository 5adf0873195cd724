import IR

/// Fuses a squeeze-excitation gate into one step that pools, runs the two small 1x1 convs and
/// scales its input in place:
///
///     x * act2(fc2(act1(fc1(avgpool(x)))))  →  one pass to pool, one to scale
///
/// Matches `multiply(x, g)` where g = conv1x1(conv1x1(global_avg_pool(x))) with each
/// intermediate feeding only the next, activations already fused into the convs (run after
/// fuse-activation), and the pool reading the same x. This avoids three tiny steps and their
/// layout conversions (what ONNX Runtime pays around every SE block).
public enum FuseSqueezeExcitation: Pass {
    public static let name = "fuse-squeeze-excitation"

    public static func run(_ g: inout PlanGraph) {
        var consumers = g.consumers()
        for i in g.nodes.indices where !g.nodes[i].removed {
            guard case .multiply = g.nodes[i].op, g.nodes[i].inputs.count == 2 else { continue }
            let x = g.nodes[i].inputs[0], fc2 = g.nodes[i].inputs[1]
            guard g.nodes[fc2].shape.height == 1, g.nodes[fc2].shape.width == 1, g.nodes[x].shape.height * g.nodes[x].shape.width > 1 else { continue }
            func oneByOne(_ n: Int) -> Conv2D? {
                guard case .conv2d(let c) = g.nodes[n].op, c.kernel == Size2(square: 1), c.groups == 1, c.stride == Size2(square: 1),
                      c.padding == .zero, g.nodes[n].residual == nil, consumers[n].count == 1 else { return nil }
                return c
            }
            guard let c2 = oneByOne(fc2) else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: its gate \(g.label(fc2)) is not a 1x1 conv used only here")
                continue
            }
            let fc1 = g.nodes[fc2].inputs[0]
            guard let c1 = oneByOne(fc1) else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: \(g.label(fc1)) is not a 1x1 conv used only by \(g.label(fc2))")
                continue
            }
            let pool = g.nodes[fc1].inputs[0]
            guard case .adaptiveAvgPool2d(1, 1) = g.nodes[pool].op, g.nodes[pool].inputs[0] == x, consumers[pool].count == 1 else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: \(g.label(fc1)) does not read a global average pool of \(g.label(x))")
                continue
            }
            g.nodes[i].squeezeExcitation = .init(
                fc1: g.nodes[fc1].name, fc1Conv: c1, fc1BatchNorm: g.nodes[fc1].foldedBatchNorm, fc1Activation: g.nodes[fc1].activation,
                fc2: g.nodes[fc2].name, fc2Conv: c2, fc2BatchNorm: g.nodes[fc2].foldedBatchNorm, gateActivation: g.nodes[fc2].activation)
            g.nodes[i].inputs = [x]
            for n in [pool, fc1, fc2] { g.nodes[n].removed = true }
            g.log(name, "\(g.label(pool)), \(g.label(fc1)), \(g.label(fc2)) and \(g.label(i)) into one step")
            consumers = g.consumers()
        }
    }
}
