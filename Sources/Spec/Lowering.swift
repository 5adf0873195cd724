import Diagnostics
import IR
import YAML

/// Evaluated arguments of one layer item, with where each came from.
struct Args {
    var values: [String: Value] = [:]
    var ranges: [String: SourceRange] = [:]

    func int(_ k: String) -> Int { if case .int(let i) = values[k] { return i }; return 0 }
    func optionalInt(_ k: String) -> Int? { if case .int(let i) = values[k] { return i }; return nil }
    func double(_ k: String) -> Double { values[k]?.asDouble ?? 0 }
    func bool(_ k: String) -> Bool { if case .bool(let b) = values[k] { return b }; return false }
    func string(_ k: String) -> String? { if case .string(let s) = values[k] { return s }; return nil }
    func pair(_ k: String) -> Size2 {
        switch values[k] {
        case .int(let i): Size2(square: i)
        case .list(let l) where l.count == 2:
            if case .int(let h) = l[0], case .int(let w) = l[1] { Size2(h, w) } else { Size2(square: 0) }
        default: Size2(square: 0)
        }
    }
}

extension Elaborator {
    /// Lowers one (repetition of an) item onto IR nodes; returns its output.
    func lower(_ syntax: ItemSyntax, overrides: [String: YAMLPair], input: Int?, provenance: [Note],
               scope: Scope, ctx: Context, counter: inout Int) -> Int? {
        var argNodes = syntax.args
        for (k, v) in overrides { argNodes[k] = v }

        if syntax.kind == .block {
            return lowerBlock(syntax, argNodes: argNodes, input: input, provenance: provenance, ctx: ctx, counter: &counter)
        }
        let component = syntax.name ?? String(counter)
        counter += 1
        let path = Self.join(ctx.path, component)
        let range = syntax.range
        var notes = provenance

        switch syntax.kind {
        case .sequential:
            guard let layers = argNodes["layers"]?.value.sequence else {
                report(.typeMismatch, "expected a list of layers for 'sequential'; found \(argNodes["layers"]?.value.kindDescription ?? "nothing")", at: argNodes["layers"]?.value.range ?? range, ctx: ctx)
                return nil
            }
            modules[path] = "sequential"
            var inner = 0
            var innerCtx = ctx
            innerCtx.path = path
            return elaborateList(layers, input: input, ctx: innerCtx, parentScope: scope, counter: &inner)
        case .add, .concat, .multiply:
            guard let inputsArg = argNodes["inputs"] else {
                report(.missingKey, "'\(syntax.kind.rawValue)' needs the names of its inputs; write {\(syntax.kind.rawValue): [a, b]}", at: range, ctx: ctx)
                return nil
            }
            guard let refs = referenceNames(inputsArg.value, ctx: ctx) else { return nil }
            let needed = syntax.kind == .multiply ? 2...2 : 2...1024
            guard needed.contains(refs.count) else {
                let want = syntax.kind == .multiply ? "exactly 2" : "at least 2"
                report(.invalidValue, "\(syntax.kind.rawValue) takes \(want) layer names; found \(refs.count)", at: argNodes["inputs"]?.value.range ?? range, ctx: ctx)
                return nil
            }
            var inputs: [Int?] = []
            for r in refs {
                guard let resolved = resolve(r, scope: scope, ctx: ctx) else { return nil }
                inputs.append(resolved)
            }
            let op: Op = syntax.kind == .add ? .add : syntax.kind == .concat ? .concat : .multiply
            return emit(op, inputs: inputs, name: path, at: range, ctx: ctx, provenance: notes)
        default:
            break
        }

        guard let args = evaluateArgs(syntax.kind, argNodes: argNodes, range: range, ctx: ctx, notes: &notes) else { return nil }
        let inputShape = input.map { nodes[$0].shape }

        /// `in:` is optional documentation that is checked: a mismatch is an error.
        func checkDeclaredInput(_ what: String) -> Bool {
            guard let declared = args.optionalInt("in"), let input, let shape = inputShape else { return true }
            let actual = shape.channels
            guard declared != actual else { return true }
            let producer = nodes[input]
            let unit = shape.isFeatureMap ? "input channels" : "input features"
            report(.channelMismatch, "\(what) declares \(declared) \(unit); its input has \(actual)", at: args.ranges["in"] ?? range, ctx: ctx,
                   provenance: notes, notes: [Note("\(producer.name.isEmpty ? "the model input" : "'\(producer.name)'") produces \(shape)", at: producer.source)])
            return false
        }

        switch syntax.kind {
        case .conv2d:
            guard checkDeclaredInput("conv2d"), let conv = convolution(args, defaultPadding: .zero, ctx: ctx, notes: notes) else { return nil }
            return emit(.conv2d(conv), inputs: [input], name: path, at: range, fields: args.ranges, ctx: ctx, provenance: notes)
        case .conv_bn_act:
            let k = args.pair("kernel"), d = args.pair("dilation")
            let same = Padding(symmetric: Size2(saturated((k.h &- 1) / 2, times: d.h), saturated((k.w &- 1) / 2, times: d.w)))
            guard checkDeclaredInput("conv_bn_act"), let conv = convolution(args, defaultPadding: same, ctx: ctx, notes: notes),
                  let act = activation(named: args.string("act") ?? "relu", slope: 0.01, at: args.ranges["act"] ?? range, ctx: ctx, allowNone: true) else { return nil }
            modules[path] = "conv_bn_act"
            let c = emit(.conv2d(conv), inputs: [input], name: Self.join(path, "0"), at: range, fields: args.ranges, ctx: ctx, provenance: notes)
            let bn = emit(.batchNorm(BatchNorm(eps: args.double("eps"), momentum: args.double("momentum"))), inputs: [c],
                          name: Self.join(path, "1"), at: range, fields: args.ranges, ctx: ctx, provenance: notes)
            guard let act else { return bn }
            return emit(.activation(act), inputs: [bn], name: Self.join(path, "2"), at: range, ctx: ctx, provenance: notes)
        case .batchnorm:
            guard checkDeclaredInput("batchnorm") else { return nil }
            let m = args.double("momentum")
            guard (0...1).contains(m) else {
                report(.valueOutOfRange, "batchnorm momentum must be between 0 and 1; found \(formatNumber(m))", at: args.ranges["momentum"] ?? range, ctx: ctx, provenance: notes)
                return nil
            }
            return emit(.batchNorm(BatchNorm(eps: args.double("eps"), momentum: m)), inputs: [input], name: path, at: range, fields: args.ranges, ctx: ctx, provenance: notes)
        case .activation, .relu, .relu6, .leaky_relu, .sigmoid, .tanh, .silu, .hardswish, .hardsigmoid, .identity:
            let fname = syntax.kind.activationName ?? args.string("function") ?? ""
            let slope = syntax.kind == .leaky_relu ? args.double("negative_slope") : 0.01
            guard let act = activation(named: fname, slope: slope, at: args.ranges["function"] ?? range, ctx: ctx, allowNone: false), let act else { return nil }
            return emit(.activation(act), inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .max_pool2d, .avg_pool2d:
            let kernel = args.pair("kernel")
            let pool = Pool2D(kind: syntax.kind == .max_pool2d ? .max : .avg, kernel: kernel,
                              stride: args.values["stride"] == nil ? kernel : args.pair("stride"),
                              padding: args.pair("padding"),
                              dilation: syntax.kind == .max_pool2d ? args.pair("dilation") : Size2(square: 1),
                              ceilMode: args.bool("ceil_mode"),
                              countIncludePad: syntax.kind == .avg_pool2d ? args.bool("count_include_pad") : true)
            return emit(.pool2d(pool), inputs: [input], name: path, at: range, fields: args.ranges, ctx: ctx, provenance: notes)
        case .adaptive_avg_pool2d:
            let s = args.pair("size")
            return emit(.adaptiveAvgPool2d(outputHeight: s.h, outputWidth: s.w), inputs: [input], name: path, at: range, fields: args.ranges, ctx: ctx, provenance: notes)
        case .global_avg_pool:
            return emit(.adaptiveAvgPool2d(outputHeight: 1, outputWidth: 1), inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .flatten:
            return emit(.flatten, inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .softmax:
            return emit(.softmax, inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .linear:
            guard checkDeclaredInput("linear") else { return nil }
            return emit(.linear(Linear(outFeatures: args.int("out"), bias: args.bool("bias"))), inputs: [input], name: path, at: range,
                        fields: args.ranges, ctx: ctx, provenance: notes)
        case .dropout:
            let p = args.double("p")
            guard (0...1).contains(p) else {
                report(.valueOutOfRange, "dropout probability must be between 0 and 1; found \(formatNumber(p))", at: args.ranges["p"] ?? range, ctx: ctx, provenance: notes)
                return nil
            }
            return emit(.dropout(p: p), inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .stochastic_depth:
            let p = args.double("p")
            guard (0...1).contains(p) else {
                report(.valueOutOfRange, "stochastic depth probability must be between 0 and 1; found \(formatNumber(p))",
                       at: args.ranges["p"] ?? range, ctx: ctx, provenance: notes)
                return nil
            }
            return emit(.stochasticDepth(p: p), inputs: [input], name: path, at: range, ctx: ctx, provenance: notes)
        case .sequential, .add, .concat, .multiply, .block:
            return nil   // handled above
        }
    }

    /// Builds a Conv2D from conv2d / conv_bn_act arguments (padding: int, [h, w], [t, l, b, r], same, valid).
    private func convolution(_ args: Args, defaultPadding: Padding, ctx: Context, notes: [Note]) -> Conv2D? {
        let kernel = args.pair("kernel"), stride = args.pair("stride"), dilation = args.pair("dilation")
        var padding = defaultPadding
        switch args.values["padding"] {
        case nil: break
        case .string("valid"): padding = .zero
        case .string("same"):
            guard stride == Size2(square: 1) else {
                report(.invalidValue, "padding 'same' needs stride 1 (as in PyTorch); found stride \(stride)", at: args.ranges["padding"], ctx: ctx, provenance: notes)
                return nil
            }
            let th = saturated(dilation.h, times: kernel.h &- 1), tw = saturated(dilation.w, times: kernel.w &- 1)
            padding = Padding(top: th / 2, left: tw / 2, bottom: th - th / 2, right: tw - tw / 2)
        case .int(let p): padding = Padding(symmetric: Size2(square: p))
        case .list(let l):
            let ints = l.compactMap { if case .int(let i) = $0 { return i }; return nil }
            if ints.count == 2 { padding = Padding(symmetric: Size2(ints[0], ints[1])) }
            else { padding = Padding(top: ints[0], left: ints[1], bottom: ints[2], right: ints[3]) }
        default: break
        }
        return Conv2D(outChannels: args.int("out"), kernel: kernel, stride: stride, padding: padding, dilation: dilation,
                      groups: args.int("groups"), bias: args.bool("bias"))
    }

    /// Looks up an activation by name; `.some(nil)` for `none` where that is allowed.
    func activation(named name: String, slope: Double, at range: SourceRange, ctx: Context, allowNone: Bool) -> Activation?? {
        if allowNone, name == "none" { return .some(nil) }
        if name == "leaky_relu" { return .some(.leakyRelu(slope: slope)) }
        if let a = Activation.all[name] { return .some(a) }
        let names = Activation.all.keys.sorted() + (allowNone ? ["none"] : [])
        report(.unknownActivation, "unknown activation '\(name)'; expected one of \(names.joined(separator: ", "))\(didYouMean(name, names))", at: range, ctx: ctx)
        return nil
    }

    /// Evaluates and type-checks a layer kind's arguments, filling in `defaults:` and built-in
    /// defaults. Reports every bad argument before returning nil.
    func evaluateArgs(_ kind: LayerKind, argNodes: [String: YAMLPair], range: SourceRange, ctx: Context, notes: inout [Note]) -> Args? {
        var args = Args()
        var ok = true
        let specDefaults = doc.defaults[kind == .conv_bn_act ? "batchnorm" : kind.rawValue]
        for spec in kind.args {
            var node = argNodes[spec.name]?.value
            var evalCtx = ctx
            if node == nil, let d = specDefaults?[spec.name] ?? doc.defaults[kind.rawValue]?[spec.name] {
                node = d
                evalCtx = Context(env: rootEnv, path: ctx.path, trace: ctx.trace)
            }
            guard let node else {
                if spec.required {
                    report(.missingKey, "'\(kind.rawValue)' needs '\(spec.name)'", at: range, ctx: ctx)
                    ok = false
                } else if let d = spec.defaultValue {
                    args.values[spec.name] = d
                }
                continue
            }
            args.ranges[spec.name] = node.range
            guard let v = evaluate(node, ctx: evalCtx, notes: &notes) else { ok = false; continue }
            guard let converted = check(v, spec, kind: kind, at: node.range, ctx: ctx, notes: notes) else { ok = false; continue }
            args.values[spec.name] = converted
        }
        return ok ? args : nil
    }

    /// Checks a value against an argument type; reports "expected X, found Y".
    func check(_ v: Value, _ spec: ArgSpec, kind: LayerKind, at range: SourceRange, ctx: Context, notes: [Note]) -> Value? {
        func mismatch(_ expected: String) -> Value? {
            report(.typeMismatch, "'\(spec.name)' of \(kind.rawValue) expects \(expected); found \(v.typeDescription) \(v)", at: range, ctx: ctx, provenance: notes)
            return nil
        }
        func isInt(_ x: Value) -> Bool { if case .int = x { return true }; return false }
        switch spec.type {
        case .int: return isInt(v) ? v : mismatch("an integer")
        case .float:
            if case .int(let i) = v { return .float(Double(i)) }
            if case .float(let d) = v, d.isFinite { return v }
            return mismatch("a finite number")
        case .bool: if case .bool = v { return v }; return mismatch("a boolean")
        case .string, .blockName: if case .string = v { return v }; return mismatch("a name")
        case .pair:
            if isInt(v) { return v }
            if case .list(let l) = v, l.count == 2, l.allSatisfy(isInt) { return v }
            return mismatch("an integer or [height, width]")
        case .padding:
            if isInt(v) { return v }
            if case .list(let l) = v, l.count == 2 || l.count == 4, l.allSatisfy(isInt) { return v }
            if case .string(let s) = v {
                if s == "same" || s == "valid" { return v }
                report(.invalidValue, "padding must be an integer, [h, w], [top, left, bottom, right], 'same' or 'valid'; found '\(s)'\(didYouMean(s, ["same", "valid"]))", at: range, ctx: ctx, provenance: notes)
                return nil
            }
            return mismatch("an integer, [h, w], [top, left, bottom, right], 'same' or 'valid'")
        case .references, .items: return v
        }
    }
}

/// `a * b` for padding defaults, Int.max when it overflows instead of trapping: shape inference
/// then reports the huge or non-positive kernel or dilation (`dilation: 4611686018427387904`).
private func saturated(_ a: Int, times b: Int) -> Int {
    let (r, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : r
}
