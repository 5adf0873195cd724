import Diagnostics
import YAML

/// A layer item split into its kind, arguments and meta keys. Two spellings are accepted:
/// `{conv2d: 64, kernel: 3}` (kind key holds the primary argument, the others sit beside it) and
/// `{conv2d: {out: 64, kernel: 3}}`; a bare `relu` is a kind without arguments.
struct ItemSyntax {
    var kind: LayerKind
    /// The block a block-named kind key instantiates (`{bottleneck, out: 64}`).
    var blockName: String?
    var kindKeyRange: SourceRange
    var range: SourceRange
    var args: [String: YAMLPair]
    var first: [String: YAMLPair]
    var meta: [String: YAMLPair]
    var name: String?
}

extension Elaborator {
    func parseItem(_ item: YAMLNode, ctx: Context) -> ItemSyntax? {
        // Only for suggestions: building it for every item made large models slow to elaborate.
        func allKinds() -> [String] { LayerKind.allCases.map(\.rawValue) + doc.blocks.keys.sorted() }
        if case .scalar(let s, _) = item.content {
            if let kind = LayerKind(rawValue: s) {
                if kind.args.contains(where: \.required) {
                    report(.missingKey, "'\(s)' needs arguments (\(kind.args.filter(\.required).map(\.name).joined(separator: ", "))); write {\(s): ...}", at: item.range, ctx: ctx)
                    return nil
                }
                return ItemSyntax(kind: kind, kindKeyRange: item.range, range: item.range, args: [:], first: [:], meta: [:])
            }
            if doc.blocks[s] != nil {
                return ItemSyntax(kind: .block, blockName: s, kindKeyRange: item.range, range: item.range, args: [:], first: [:], meta: [:])
            }
            report(.unknownLayerKind, "unknown layer kind '\(s)'\(didYouMean(s, allKinds()))", at: item.range, ctx: ctx)
            return nil
        }
        guard let pairs = item.mapping else {
            report(.typeMismatch, "expected a layer (a kind name or a mapping such as {conv2d: 64, kernel: 3}); found \(item.kindDescription)", at: item.range, ctx: ctx)
            return nil
        }
        var kindPairs: [YAMLPair] = []
        var meta: [String: YAMLPair] = [:]
        var rest: [YAMLPair] = []
        for p in pairs {
            if metaKeys.contains(p.key) { meta[p.key] = p }
            else if LayerKind(rawValue: p.key) != nil || doc.blocks[p.key] != nil { kindPairs.append(p) }
            else { rest.append(p) }
        }
        guard kindPairs.count == 1, let kindPair = kindPairs.first else {
            if kindPairs.count > 1 {
                report(.ambiguousLayerKind, "a layer item names one kind; found \(kindPairs.map { "'\($0.key)'" }.joined(separator: " and "))", at: kindPairs[1].keyRange, ctx: ctx)
                return nil
            }
            let knownArgs = Set(LayerKind.allCases.flatMap { $0.args.map(\.name) })
            if let suspect = rest.first(where: { !knownArgs.contains($0.key) }) {
                report(.unknownLayerKind, "unknown layer kind '\(suspect.key)'\(didYouMean(suspect.key, allKinds()))", at: suspect.keyRange, ctx: ctx)
            } else {
                report(.ambiguousLayerKind, "this layer item names no layer kind (expected a key such as conv2d, linear, relu or a block name)", at: item.range, ctx: ctx)
            }
            return nil
        }
        let blockName = doc.blocks[kindPair.key] != nil ? kindPair.key : nil
        let kind = blockName == nil ? LayerKind(rawValue: kindPair.key)! : .block
        var args: [String: YAMLPair] = [:]
        let allowed: [String] = blockName.map { b in doc.blocks[b]!.params.map(\.name) } ?? kind.args.map(\.name)
        let what = blockName.map { "block '\($0)'" } ?? "'\(kind.rawValue)'"
        let unknownID: DiagnosticID = blockName == nil ? .unknownKey : .unknownBlockParam

        // The kind key's value: the primary argument, a mapping of arguments, or nothing.
        let value = kindPair.value
        let isNull: Bool = { if case .scalar(let s, true) = value.content { return YAMLScalar.resolve(s) == .null }; return false }()
        if let m = value.mapping, kind != .sequential {
            for p in m { args[p.key] = p }
        } else if !isNull {
            if let primary = kind.primary {
                args[primary] = YAMLPair(key: primary, keyRange: kindPair.keyRange, value: value)
            } else {
                report(.typeMismatch, "\(what) takes no value; found \(value.kindDescription) (write '\(kindPair.key)' alone or pass named arguments)", at: value.range, ctx: ctx)
                return nil
            }
        }
        for p in rest {
            if args[p.key] != nil {
                report(.yamlDuplicateKey, "argument '\(p.key)' is given twice", at: p.keyRange, ctx: ctx)
                continue
            }
            args[p.key] = p
        }
        var ok = true
        for (key, p) in args where !allowed.contains(key) && !(kind == .block && blockName == nil) {
            report(unknownID, "\(what) has no argument '\(key)'\(didYouMean(key, allowed + metaKeys))", at: p.keyRange, ctx: ctx)
            ok = false
        }
        var first: [String: YAMLPair] = [:]
        if let f = meta["first"] {
            if let m = f.value.mapping {
                for p in m {
                    if allowed.contains(p.key) || (kind == .block && blockName == nil) { first[p.key] = p }
                    else {
                        report(unknownID, "\(what) has no argument '\(p.key)'\(didYouMean(p.key, allowed))", at: p.keyRange, ctx: ctx)
                        ok = false
                    }
                }
            } else {
                report(.typeMismatch, "expected a mapping of arguments for 'first'; found \(f.value.kindDescription)", at: f.value.range, ctx: ctx)
                ok = false
            }
        }
        var name: String?
        if let n = meta["name"] {
            if let s = n.value.scalar, !s.isEmpty, !s.contains("."), !s.hasPrefix("$"), s != "input" {
                name = s
            } else {
                report(.invalidValue, "a layer name must be a non-empty literal without '.', '$' or the reserved word 'input'; found \(n.value.scalar.map { "'\($0)'" } ?? n.value.kindDescription)", at: n.value.range, ctx: ctx)
                ok = false
            }
        }
        guard ok else { return nil }
        return ItemSyntax(kind: kind, blockName: blockName, kindKeyRange: kindPair.keyRange, range: item.range,
                          args: args, first: first, meta: meta, name: name)
    }

    // MARK: Values

    /// The value of a YAML node: `$name` and `$(expr)` scalars are evaluated, other scalars typed
    /// by the core schema, sequences become lists. Reports and returns nil on error.
    func evaluate(_ node: YAMLNode, ctx: Context, notes: inout [Note]) -> Value? {
        switch node.content {
        case .mapping:
            report(.typeMismatch, "expected a value; found a mapping", at: node.range, ctx: ctx)
            return nil
        case .sequence(let items):
            let before = listElements
            listElements += items.count
            guard listElements <= Self.maxListElements else {
                if before <= Self.maxListElements {
                    report(.modelTooLarge, "the spec evaluates more than \(Self.maxListElements) list elements (a large list used by many items, through an alias, repeat or blocks)", at: node.range, ctx: ctx)
                }
                return nil
            }
            var out: [Value] = []
            for i in items {
                guard let v = evaluate(i, ctx: ctx, notes: &notes) else { return nil }
                out.append(v)
            }
            return .list(out)
        case .scalar(let text, let plain):
            // An expression however it is quoted: quotes are how one writes `[`, `]`, `,`, `{`
            // or `}` in an expression inside a flow collection.
            if text.hasPrefix("$"), node.tag == nil {
                return evaluateExpression(text, at: node.range, ctx: ctx, notes: &notes)
            }
            if plain, YAMLScalar.isOverflowingInteger(text) {
                report(.valueOutOfRange, "integer \(text) does not fit in 64 bits", at: node.range, ctx: ctx)
                return nil
            }
            return Value(scalar: text, plain: plain)
        }
    }

    /// Evaluates `$name` or `$(expr)`; `range` is the scalar's, used to place errors inside it.
    func evaluateExpression(_ text: String, at range: SourceRange, ctx: Context, notes: inout [Note]) -> Value? {
        let body: String
        let bodyOffset: Int
        if text.hasPrefix("$(") {
            guard text.hasSuffix(")") else {
                report(.expressionSyntax, "an expression must be written $(...) with a closing ')'", at: range, ctx: ctx)
                return nil
            }
            body = String(text.dropFirst(2).dropLast())
            bodyOffset = 2
        } else {
            body = String(text.dropFirst())
            bodyOffset = 1
            guard let f = body.first, f.isLetter || f == "_", body.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                report(.expressionSyntax, "expected $name or $(expression); found '\(text)'", at: range, ctx: ctx)
                return nil
            }
        }
        func place(_ offset: Int) -> SourceRange {
            guard range.start.line == range.end.line else { return range }
            let first = range.file.line(range.start.line)?.unicodeScalars.dropFirst(range.start.column - 1).first
            let quoted = first == "\"" || first == "'"
            let col = range.start.column + bodyOffset + offset + (quoted ? 1 : 0)
            return SourceRange(file: range.file, start: SourcePosition(line: range.start.line, column: col),
                               end: SourcePosition(line: range.start.line, column: min(col + 1, range.end.column)))
        }
        do {
            let expr = try ExpressionParser.parse(body)
            var ev = Evaluator(env: ctx.env)
            let v = try ev.evaluate(expr)
            notes += ev.notes
            return v
        } catch {
            if !error.poisoned {
                report(error.id, error.message, at: error.offset > 0 ? place(error.offset) : range, ctx: ctx, provenance: notes)
            }
            return nil
        }
    }
}
