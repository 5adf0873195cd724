import Diagnostics
import YAML

/// Binds the model parameters: each takes, by precedence, its `--set` value, its value in the
/// chosen variant, or its default (which may be an expression of earlier parameters, e.g.
/// EfficientNet's compound scaling `width: $(1.1 ** phi)`).
struct ParameterBinder {
    let doc: SpecDocument
    let request: SpecRequest

    /// The outcome of binding: the variant in effect, and for each parameter that took its
    /// default, the parameters that default read (so that reading `width` counts as reading `phi`).
    struct Bound {
        var variant: String?
        /// Parameters the chosen variant assigns.
        var variantKeys: Set<String> = []
        var defaultDependencies: [String: Set<String>] = [:]
        /// Position in the root scope's read log where elaboration started.
        var readMark = 0
    }

    /// Binds into `env`.
    func bind(into env: Environment, diags: inout DiagnosticBag) -> Bound {
        let declared = doc.params.map(\.key)
        // --set name=value
        var sets: [String: (text: String, range: SourceRange?)] = [:]
        for s in request.sets {
            guard let eq = s.text.firstIndex(of: "="), eq != s.text.startIndex else {
                diags.error(.invalidSetFlag, "expected --set name=value; found '\(s.text)'", at: s.range)
                continue
            }
            let name = String(s.text[..<eq]), value = String(s.text[s.text.index(after: eq)...])
            guard declared.contains(name) else {
                let list = declared.isEmpty ? "the spec declares no parameters" : "the spec declares \(declared.joined(separator: ", "))"
                diags.error(.unknownParameter, "--set names unknown parameter '\(name)'; \(list)\(didYouMean(name, declared))", at: s.range)
                continue
            }
            sets[name] = (value, s.range)
        }
        // The variant.
        var variant: String?
        var entries: [YAMLPair] = []
        let names = doc.variants.map(\.key)
        if let requested = request.variant {
            if let v = doc.variants.first(where: { $0.key == requested }) {
                variant = requested
                entries = v.value.mapping ?? []
            } else {
                let list = names.isEmpty ? "the spec defines no variants" : "variants are \(names.joined(separator: ", "))"
                diags.error(.unknownVariant, "unknown variant '\(requested)'; \(list)\(didYouMean(requested, names))", at: request.variantRange,
                            notes: doc.variantsRange.map { [Note("variants are defined here", at: $0)] } ?? [])
            }
        } else if let d = doc.defaultVariant {
            if let v = doc.variants.first(where: { $0.key == d.name }) {
                variant = d.name
                entries = v.value.mapping ?? []
            } else {
                diags.error(.unknownVariant, "default_variant '\(d.name)' is not in the variants table\(didYouMean(d.name, names))", at: d.range)
            }
        }
        // Every row, not only the chosen one: a typo in a variant nobody selected yet is still a typo.
        for v in doc.variants {
            for e in v.value.mapping ?? [] where !declared.contains(e.key) {
                diags.error(.unknownParameter, "variant '\(v.key)' sets undeclared parameter '\(e.key)' (declare it under 'params')\(didYouMean(e.key, declared))", at: e.keyRange)
            }
        }
        // Bind in declaration order.
        let elaborator = Elaborator(doc: doc, rootEnv: env)
        let ctx = Elaborator.Context(env: env, path: "", trace: [])
        var bound = Bound(variant: variant, variantKeys: Set(entries.map(\.key)))
        for p in doc.params {
            var notes: [Note] = []
            var defaultNotes: [Note] = []
            let mark = env.readLog.count
            let defaultValue = elaborator.evaluate(p.value, ctx: ctx, notes: &defaultNotes)
            let dependencies = Set(env.readLog[mark...])
            var value = defaultValue
            if let s = sets[p.key] {
                value = Self.commandLineValue(s.text, env: env)
                notes = [Note("'\(p.key)' is \(s.text), set on the command line", at: s.range)]
                if let v = value, let d = defaultValue, !Self.compatible(v, d) {
                    diags.error(.typeMismatch, "--set \(p.key) expects \(d.typeDescription) like its default \(d); found \(v.typeDescription) \(v)", at: s.range,
                                notes: [Note("'\(p.key)' is declared here", at: p.keyRange)])
                    // Go on with the default, so that uses of the parameter are not reported as
                    // undefined and the --set as having no effect.
                    value = defaultValue
                    notes = defaultNotes
                }
            } else if let e = entries.first(where: { $0.key == p.key }) {
                var entryNotes: [Note] = []
                value = elaborator.evaluate(e.value, ctx: ctx, notes: &entryNotes)
                notes = entryNotes
                if let v = value, let d = defaultValue, !Self.compatible(v, d) {
                    diags.error(.typeMismatch, "variant '\(variant ?? "")' gives '\(p.key)' \(v.typeDescription) \(v); its default is \(d.typeDescription) \(d)", at: e.value.range)
                    value = defaultValue
                    notes = defaultNotes
                }
            } else {
                notes = defaultNotes
                bound.defaultDependencies[p.key] = dependencies
            }
            if case .int(let i) = value, case .float = defaultValue { value = .float(Double(i)) }
            env.define(p.key, value.map { Binding(value: $0, notes: notes) } ?? Binding(value: .null, poisoned: true))
        }
        diags.append(contentsOf: elaborator.diags.all)
        bound.readMark = env.readLog.count
        return bound
    }

    /// A `--set` value: an expression (`0.5`, `[2, 2, 2, 2]`, `$(1.1 ** 2)` without the `$()`),
    /// or, if it is not one, the text as a string (`--set act=silu`).
    static func commandLineValue(_ text: String, env: Environment) -> Value? {
        let body = text.hasPrefix("$(") && text.hasSuffix(")") ? String(text.dropFirst(2).dropLast()) : text
        if let e = try? ExpressionParser.parse(body) {
            if case .name = e { return .string(text) }
            var ev = Evaluator(env: env)
            if let v = try? ev.evaluate(e) { return v }
        }
        return .string(text)
    }

    /// Whether a default's text mentions `name` as a word (for the ineffective-set message).
    static func mentions(_ node: YAMLNode, _ name: String) -> Bool {
        guard let text = node.scalar, text.hasPrefix("$") else { return false }
        var word = ""
        for ch in text + " " {
            if ch.isLetter || ch.isNumber || ch == "_" { word.append(ch) } else {
                if word == name { return true }
                word = ""
            }
        }
        return false
    }

    static func compatible(_ v: Value, _ d: Value) -> Bool {
        switch (v, d) {
        case (.int, .int), (.int, .float), (.float, .float), (.bool, .bool), (.string, .string), (.list, .list), (_, .null), (.null, _): true
        default: false
        }
    }

    /// A `--set` that nothing read changed nothing: say so instead of silently ignoring it
    /// (e.g. `--set phi=2` while a variant pins width, depth and resolution).
    func reportUnusedSets(env: Environment, bound: Bound, diags: inout DiagnosticBag) {
        var used = Set(env.readLog[bound.readMark...])
        var frontier = Array(used)
        while let name = frontier.popLast() {
            for d in bound.defaultDependencies[name] ?? [] where used.insert(d).inserted { frontier.append(d) }
        }
        for s in request.sets {
            guard let eq = s.text.firstIndex(of: "=") else { continue }
            let name = String(s.text[..<eq])
            guard doc.params.contains(where: { $0.key == name }), !used.contains(name) else { continue }
            // Parameters whose defaults read this one but that the variant sets directly.
            let pinned = doc.params.filter { p in
                bound.variantKeys.contains(p.key) && Self.mentions(p.value, name)
            }.map(\.key)
            let why = pinned.isEmpty || bound.variant == nil
                ? "nothing in the spec reads '\(name)'"
                : "variant '\(bound.variant!)' sets \(pinned.map { "'\($0)'" }.joined(separator: ", ")), whose defaults would read it"
            diags.error(.ineffectiveSet, "--set \(name) has no effect: \(why)", at: s.range)
        }
    }
}
