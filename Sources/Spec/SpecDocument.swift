import Diagnostics
import YAML

/// The top level of a spec, checked for structure before anything is evaluated. Layer items stay
/// YAML nodes: their arguments are expressions that only mean something inside a scope.
struct SpecDocument {
    struct BlockDef {
        struct Param {
            var name: String
            var type: ParamType
            var defaultValue: YAMLNode?
            var range: SourceRange
        }
        var name: String
        var nameRange: SourceRange
        var params: [Param]
        var lets: [YAMLPair]
        var layers: [YAMLNode]
        var residual: YAMLNode?
        var inline: Bool
    }

    var name: String
    var file: SourceFile
    var root: YAMLNode
    var input: YAMLNode
    var params: [YAMLPair]
    var variants: [YAMLPair]
    var variantsRange: SourceRange?
    var defaultVariant: (name: String, range: SourceRange)?
    var defaults: [String: YAMLNode]
    var blocks: [String: BlockDef]
    var layers: [YAMLNode]
    var layersRange: SourceRange
}

/// Types a block parameter can declare.
enum ParamType: String, CaseIterable {
    case int, float, bool, string, list, any

    func accepts(_ v: Value) -> Bool {
        switch (self, v) {
        case (.any, _), (.int, .int), (.float, .int), (.float, .float), (.bool, .bool), (.string, .string), (.list, .list): true
        default: false
        }
    }

    var article: String {
        switch self {
        case .int: "an integer"
        case .float: "a number"
        case .bool: "a boolean"
        case .string: "a string"
        case .list: "a list"
        case .any: "a value"
        }
    }
}

/// `train` holds training settings; the front end skips it and `modelc train` validates it.
let topLevelKeys = ["name", "description", "input", "params", "variants", "default_variant", "defaults", "blocks", "layers", "train"]
let blockKeys = ["description", "params", "let", "layers", "residual", "inline"]

extension SpecDocument {
    /// Checks the top-level layout; reports into `diags` and returns nil when the spec cannot be
    /// elaborated at all (no `input` or `layers`).
    static func read(_ root: YAMLNode, file: SourceFile, diags: inout DiagnosticBag) -> SpecDocument? {
        guard let pairs = root.mapping else {
            diags.error(.typeMismatch, "a spec must be a mapping with 'input' and 'layers'; found \(root.kindDescription)", at: root.range)
            return nil
        }
        for p in pairs where !topLevelKeys.contains(p.key) {
            diags.error(.unknownKey, "unknown top-level key '\(p.key)'\(didYouMean(p.key, topLevelKeys))", at: p.keyRange)
        }
        var name = file.path.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? "model"
        if let n = root["name"] {
            if let s = n.scalar { name = s } else { diags.error(.typeMismatch, "expected a string for 'name'; found \(n.kindDescription)", at: n.range) }
        }
        func mappingPairs(_ key: String) -> [YAMLPair] {
            guard let node = root[key] else { return [] }
            if case .scalar(let s, true) = node.content, YAMLScalar.resolve(s) == .null { return [] }
            guard let m = node.mapping else {
                diags.error(.typeMismatch, "expected a mapping for '\(key)'; found \(node.kindDescription)", at: node.range)
                return []
            }
            return m
        }
        let input = root["input"]
        if input == nil { diags.error(.missingKey, "the spec has no 'input' (expected 'input: {channels: C, height: H, width: W}')", at: keyRange(root, first: true)) }
        let layersNode = root["layers"]
        var layers: [YAMLNode] = []
        if let layersNode {
            if let items = layersNode.sequence { layers = items }
            else { diags.error(.typeMismatch, "expected a list of layers for 'layers'; found \(layersNode.kindDescription)", at: layersNode.range) }
        } else {
            diags.error(.missingKey, "the spec has no 'layers' list", at: keyRange(root, first: true))
        }

        var defaultVariant: (String, SourceRange)?
        if let dv = root["default_variant"] {
            if let s = dv.scalar { defaultVariant = (s, dv.range) }
            else { diags.error(.typeMismatch, "expected a variant name for 'default_variant'; found \(dv.kindDescription)", at: dv.range) }
        }
        var defaults: [String: YAMLNode] = [:]
        for p in mappingPairs("defaults") {
            guard LayerKind(rawValue: p.key) != nil else {
                diags.error(.unknownLayerKind, "'defaults' names unknown layer kind '\(p.key)'\(didYouMean(p.key, LayerKind.allCases.map(\.rawValue)))", at: p.keyRange)
                continue
            }
            guard p.value.mapping != nil else {
                diags.error(.typeMismatch, "expected a mapping of arguments for defaults of '\(p.key)'; found \(p.value.kindDescription)", at: p.value.range)
                continue
            }
            defaults[p.key] = p.value
        }
        var blocks: [String: BlockDef] = [:]
        for p in mappingPairs("blocks") {
            if LayerKind(rawValue: p.key) != nil || metaKeys.contains(p.key) || p.key == "block" {
                diags.error(.duplicateDefinition, "block '\(p.key)' has the name of a built-in layer kind or key", at: p.keyRange)
                continue
            }
            if let b = readBlock(p, diags: &diags) { blocks[p.key] = b }
        }
        let variantsNode = root["variants"]
        let variants = mappingPairs("variants")
        for v in variants where v.value.mapping == nil && !(v.value.scalar.map { YAMLScalar.resolve($0) == .null } ?? false) {
            diags.error(.typeMismatch, "expected a mapping of parameter values for variant '\(v.key)'; found \(v.value.kindDescription)", at: v.value.range)
        }
        guard let input, layersNode != nil else { return nil }
        return SpecDocument(name: name, file: file, root: root, input: input, params: mappingPairs("params"),
                            variants: variants.filter { $0.value.mapping != nil || $0.value.scalar != nil },
                            variantsRange: variantsNode.flatMap { _ in root.mapping?.first { $0.key == "variants" }?.keyRange },
                            defaultVariant: defaultVariant, defaults: defaults, blocks: blocks,
                            layers: layers, layersRange: layersNode?.range ?? root.range)
    }

    private static func keyRange(_ root: YAMLNode, first: Bool) -> SourceRange {
        root.mapping?.first?.keyRange ?? root.range
    }

    private static func readBlock(_ pair: YAMLPair, diags: inout DiagnosticBag) -> BlockDef? {
        guard let body = pair.value.mapping else {
            diags.error(.typeMismatch, "expected a mapping with 'layers' for block '\(pair.key)'; found \(pair.value.kindDescription)", at: pair.value.range)
            return nil
        }
        for p in body where !blockKeys.contains(p.key) {
            diags.error(.unknownKey, "unknown key '\(p.key)' in block '\(pair.key)'\(didYouMean(p.key, blockKeys))", at: p.keyRange)
        }
        var params: [BlockDef.Param] = []
        if let ps = pair.value["params"] {
            if let m = ps.mapping {
                for p in m {
                    if p.key == "in" {
                        diags.error(.duplicateDefinition, "'in' is defined by every block (its input channels) and cannot be a parameter", at: p.keyRange)
                        continue
                    }
                    if let t = p.value.scalar, p.value.mapping == nil {
                        guard let type = ParamType(rawValue: t) else {
                            diags.error(.invalidValue, "unknown parameter type '\(t)'; expected one of \(ParamType.allCases.map(\.rawValue).joined(separator: ", ")), or {type: T, default: V}\(didYouMean(t, ParamType.allCases.map(\.rawValue)))", at: p.value.range)
                            continue
                        }
                        params.append(.init(name: p.key, type: type, defaultValue: nil, range: p.keyRange))
                    } else if let decl = p.value.mapping {
                        var type = ParamType.any
                        for d in decl where d.key != "type" && d.key != "default" {
                            diags.error(.unknownKey, "unknown key '\(d.key)' in declaration of parameter '\(p.key)'\(didYouMean(d.key, ["type", "default"]))", at: d.keyRange)
                        }
                        if let t = p.value["type"] {
                            if let s = t.scalar, let pt = ParamType(rawValue: s) { type = pt }
                            else { diags.error(.invalidValue, "unknown parameter type \(t.scalar.map { "'\($0)'" } ?? t.kindDescription); expected one of \(ParamType.allCases.map(\.rawValue).joined(separator: ", "))", at: t.range) }
                        }
                        params.append(.init(name: p.key, type: type, defaultValue: p.value["default"], range: p.keyRange))
                    } else {
                        diags.error(.typeMismatch, "expected a type or {type, default} for parameter '\(p.key)'; found \(p.value.kindDescription)", at: p.value.range)
                    }
                }
            } else {
                diags.error(.typeMismatch, "expected a mapping for 'params' of block '\(pair.key)'; found \(ps.kindDescription)", at: ps.range)
            }
        }
        var lets: [YAMLPair] = []
        if let l = pair.value["let"] {
            if let m = l.mapping { lets = m }
            else { diags.error(.typeMismatch, "expected a mapping for 'let'; found \(l.kindDescription)", at: l.range) }
        }
        var layers: [YAMLNode] = []
        if let l = pair.value["layers"] {
            if let items = l.sequence { layers = items }
            else { diags.error(.typeMismatch, "expected a list for 'layers' of block '\(pair.key)'; found \(l.kindDescription)", at: l.range) }
        } else {
            diags.error(.missingKey, "block '\(pair.key)' has no 'layers' list", at: pair.keyRange)
        }
        var inline = false
        if let i = pair.value["inline"] {
            if case .scalar(let s, true) = i.content, case .bool(let b) = YAMLScalar.resolve(s) { inline = b }
            else { diags.error(.typeMismatch, "expected a boolean for 'inline'; found \(i.kindDescription)", at: i.range) }
        }
        return BlockDef(name: pair.key, nameRange: pair.keyRange, params: params, lets: lets, layers: layers,
                        residual: pair.value["residual"], inline: inline)
    }
}
