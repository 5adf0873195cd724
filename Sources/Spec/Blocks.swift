import Diagnostics
import IR
import YAML

extension Elaborator {
    /// Instantiates a block: binds `in` (the input channels), the declared parameters and the
    /// `let` values in a fresh scope over the model parameters, elaborates its layers, then adds
    /// the residual shortcut if the block declares one.
    func lowerBlock(_ syntax: ItemSyntax, argNodes: [String: YAMLPair], input: Int?, provenance: [Note],
                    ctx: Context, counter: inout Int) -> Int? {
        var notes = provenance
        var argNodes = argNodes
        var blockName = syntax.blockName
        if blockName == nil, let b = argNodes.removeValue(forKey: "block") {
            guard let v = evaluate(b.value, ctx: ctx, notes: &notes) else { counter += 1; return nil }
            guard case .string(let s) = v else {
                report(.typeMismatch, "'block' expects a block name; found \(v.typeDescription) \(v)", at: b.value.range, ctx: ctx, provenance: notes)
                counter += 1
                return nil
            }
            guard doc.blocks[s] != nil else {
                report(.unknownLayerKind, "no block named '\(s)'\(didYouMean(s, doc.blocks.keys.sorted()))", at: b.value.range, ctx: ctx, provenance: notes)
                counter += 1
                return nil
            }
            blockName = s
        }
        guard let blockName, let block = doc.blocks[blockName] else {
            report(.missingKey, "'block' needs the name of a block; write {block: NAME} or {block: $param}", at: syntax.kindKeyRange, ctx: ctx)
            counter += 1
            return nil
        }
        for (k, p) in argNodes where !block.params.contains(where: { $0.name == k }) {
            report(.unknownBlockParam, "block '\(blockName)' has no parameter '\(k)'\(didYouMean(k, block.params.map(\.name)))", at: p.keyRange, ctx: ctx)
            counter += 1
            return nil
        }
        let path: String
        if block.inline {
            path = ctx.path
        } else {
            path = Self.join(ctx.path, syntax.name ?? String(counter))
            counter += 1
        }
        guard !blockStack.contains(blockName), blockStack.count < Self.maxBlockNesting else {
            let chain = (blockStack + [blockName]).joined(separator: " → ")
            report(.blockRecursion, "block '\(blockName)' instantiates itself (\(chain))", at: syntax.kindKeyRange, ctx: ctx,
                   notes: [Note("block '\(blockName)' is defined here", at: block.nameRange)])
            return nil
        }
        guard let input else { return nil }
        let inputShape = nodes[input].shape

        // Parameters are evaluated in the caller's scope; defaults and lets in the block's.
        let env = Environment(parent: rootEnv)
        env.define("in", Binding(value: .int(inputShape.channels)))
        let instance = Note("in block '\(blockName)' instantiated here", at: syntax.range)
        let inner = Context(env: env, path: path, trace: [instance] + ctx.trace)
        var ok = true
        for p in block.params {
            var value: Value?
            var bindingNotes: [Note] = []
            if let arg = argNodes[p.name] {
                value = evaluate(arg.value, ctx: ctx, notes: &bindingNotes)
                if let v = value, !p.type.accepts(v) {
                    report(.typeMismatch, "parameter '\(p.name)' of block '\(blockName)' expects \(p.type.article); found \(v.typeDescription) \(v)",
                           at: arg.value.range, ctx: ctx, provenance: bindingNotes, notes: [Note("'\(p.name)' is declared here", at: p.range)])
                    value = nil
                }
            } else if let d = p.defaultValue {
                value = evaluate(d, ctx: inner, notes: &bindingNotes)
            } else {
                report(.missingBlockParam, "block '\(blockName)' needs parameter '\(p.name)' (\(p.type.rawValue))", at: syntax.kindKeyRange, ctx: ctx,
                       notes: [Note("'\(p.name)' is declared here without a default", at: p.range)])
            }
            guard let value else { ok = false; continue }
            if case .int = value, p.type == .float { env.define(p.name, Binding(value: .float(value.asDouble ?? 0), notes: bindingNotes)) }
            else { env.define(p.name, Binding(value: value, notes: bindingNotes)) }
        }
        guard ok else { return nil }
        for l in block.lets {
            var bindingNotes: [Note] = []
            guard let v = evaluate(l.value, ctx: inner, notes: &bindingNotes) else { return nil }
            env.define(l.key, Binding(value: v, notes: bindingNotes))
        }

        blockStack.append(blockName)
        defer { blockStack.removeLast() }
        if !block.inline { modules[path] = blockName }
        var innerCounter = 0
        let output: Int?
        if block.inline {
            output = elaborateList(block.layers, input: input, ctx: inner, parentScope: nil, counter: &counter)
        } else {
            output = elaborateList(block.layers, input: input, ctx: inner, parentScope: nil, counter: &innerCounter)
        }
        guard let residual = block.residual else { return output }
        return addResidual(residual, block: block, input: input, output: output, ctx: inner, provenance: notes)
    }

    /// `residual: true` or `{shortcut: identity | project | when_same_shape, projection: NAME,
    /// activation: ACT}`: output = act(body(x) + shortcut(x)). `project` inserts a 1x1 conv + BN
    /// named NAME.0 / NAME.1 (torchvision's `downsample`) when the shapes differ, with the stride
    /// that maps the input's size onto the output's.
    private func addResidual(_ node: YAMLNode, block: SpecDocument.BlockDef, input: Int, output: Int?,
                             ctx: Context, provenance: [Note]) -> Int? {
        var notes = provenance
        var shortcut = "identity", projectionName = "downsample"
        var act: Activation?
        if case .scalar(let s, true) = node.content, case .bool(let b) = YAMLScalar.resolve(s) {
            if !b { return output }
        } else if let m = node.mapping {
            let keys = ["shortcut", "projection", "activation"]
            for p in m {
                guard keys.contains(p.key) else {
                    report(.unknownKey, "unknown key '\(p.key)' in residual\(didYouMean(p.key, keys))", at: p.keyRange, ctx: ctx)
                    return nil
                }
                guard let v = evaluate(p.value, ctx: ctx, notes: &notes) else { return nil }
                guard case .string(let s) = v else {
                    report(.typeMismatch, "'\(p.key)' of residual expects a name; found \(v.typeDescription) \(v)", at: p.value.range, ctx: ctx)
                    return nil
                }
                switch p.key {
                case "shortcut":
                    let modes = ["identity", "project", "when_same_shape"]
                    guard modes.contains(s) else {
                        report(.invalidValue, "unknown shortcut '\(s)'; expected identity, project or when_same_shape\(didYouMean(s, modes))", at: p.value.range, ctx: ctx)
                        return nil
                    }
                    shortcut = s
                case "projection": projectionName = s
                default:
                    guard let a = activation(named: s, slope: 0.01, at: p.value.range, ctx: ctx, allowNone: true) else { return nil }
                    act = a
                }
            }
        } else {
            report(.typeMismatch, "expected true, false or a mapping for 'residual'; found \(node.kindDescription)", at: node.range, ctx: ctx)
            return nil
        }
        guard let output else { return nil }
        let x = nodes[input].shape, y = nodes[output].shape
        var skip = input
        if x != y {
            switch shortcut {
            case "when_same_shape":
                return output
            case "project":
                guard x.isFeatureMap, y.isFeatureMap, let sh = Self.projectionStride(x.height, y.height),
                      let sw = Self.projectionStride(x.width, y.width) else {
                    report(.shapeMismatch, "no 1x1 projection maps the block input \(x) onto its output \(y)", at: node.range, ctx: ctx, provenance: notes)
                    return nil
                }
                let base = Self.join(ctx.path, projectionName)
                modules[base] = "projection"
                let eps = doc.defaults["batchnorm"]?["eps"].flatMap { evaluate($0, ctx: Context(env: rootEnv, path: "", trace: []), notes: &notes)?.asDouble } ?? 1e-5
                let conv = emit(.conv2d(Conv2D(outChannels: y.channels, kernel: Size2(square: 1), stride: Size2(sh, sw), bias: false)),
                                inputs: [input], name: Self.join(base, "0"), at: node.range, ctx: ctx, provenance: notes)
                guard let bn = emit(.batchNorm(BatchNorm(eps: eps)), inputs: [conv], name: Self.join(base, "1"), at: node.range, ctx: ctx, provenance: notes) else { return nil }
                skip = bn
            default:
                report(.shapeMismatch, "the residual of block '\(block.name)' adds its input \(x) to its output \(y); use 'shortcut: project' or 'when_same_shape'",
                       at: node.range, ctx: ctx, provenance: notes,
                       notes: [Note("the block output comes from '\(nodes[output].name)'", at: nodes[output].source)])
                return nil
            }
        }
        let sum = emit(.add, inputs: [output, skip], name: Self.join(ctx.path, "add"), at: node.range, ctx: ctx, provenance: notes)
        guard let act else { return sum }
        return emit(.activation(act), inputs: [sum], name: Self.join(ctx.path, act.name), at: node.range, ctx: ctx, provenance: notes)
    }

    /// The stride s with (input - 1) / s + 1 == output, as a 1x1 unpadded conv computes it.
    static func projectionStride(_ input: Int, _ output: Int) -> Int? {
        guard output > 0, input >= output else { return nil }
        let s = output == 1 ? max(input, 1) : (input - 1) / (output - 1)
        for candidate in [s, s + 1, max(1, s - 1)] where candidate > 0 && (input - 1) / candidate + 1 == output {
            return candidate
        }
        return nil
    }
}
