import Diagnostics
import IR
import YAML

/// What the user asked for: a spec file, a variant and `--set name=value` overrides, each with
/// its place on the command line so that errors it causes can point there.
public struct SpecRequest: Sendable {
    public var path: String
    public var variant: String?
    public var variantRange: SourceRange?
    public var sets: [(text: String, range: SourceRange?)]

    public init(path: String, variant: String? = nil, variantRange: SourceRange? = nil, sets: [(text: String, range: SourceRange?)] = []) {
        self.path = path
        self.variant = variant
        self.variantRange = variantRange
        self.sets = sets
    }
}

/// A validated model: its graph with every shape inferred, and what it was built from.
public struct LoadedModel: Sendable {
    public var graph: Graph
    public var name: String
    /// The variant used (the requested one, or the spec's default), if the spec has variants.
    public var variant: String?
    /// All variants the spec defines, in file order.
    public var variants: [String]
    /// Final values of the model parameters, in declaration order, for display.
    public var parameters: [(name: String, value: String)]
}

public enum SpecLoader {
    /// Parses, elaborates and shape-checks a spec. Returns the model only when there are no
    /// errors; diagnostics come back in source order of discovery, all of them.
    public static func load(_ request: SpecRequest, limits: YAMLLimits = YAMLLimits()) -> (model: LoadedModel?, diagnostics: [Diagnostic]) {
        let (file, root, yamlDiagnostics) = YAMLParser.parseFile(atPath: request.path, limits: limits)
        return elaborate(file: file, root: root, yamlDiagnostics: yamlDiagnostics, request: request)
    }

    /// Like `load`, for spec text already in memory (`request.path` names it in diagnostics).
    /// The fuzzer's entry point.
    public static func load(bytes: [UInt8], request: SpecRequest, limits: YAMLLimits = YAMLLimits()) -> (model: LoadedModel?, diagnostics: [Diagnostic]) {
        guard bytes.count <= limits.maxFileBytes else {
            return (nil, [Diagnostic(.fileTooLarge, "'\(request.path)' has \(bytes.count) bytes; a spec may have at most \(limits.maxFileBytes)", at: nil)])
        }
        let file = YAMLParser.sourceFile(path: request.path, bytes: bytes)   // without a byte-order mark, as from a file
        let (root, yamlDiagnostics) = YAMLParser.parse(bytes, file: file, limits: limits)
        return elaborate(file: file, root: root, yamlDiagnostics: yamlDiagnostics, request: request)
    }

    private static func elaborate(file: SourceFile?, root: YAMLNode?, yamlDiagnostics: [Diagnostic],
                                  request: SpecRequest) -> (model: LoadedModel?, diagnostics: [Diagnostic]) {
        var diags = DiagnosticBag()
        diags.append(contentsOf: yamlDiagnostics)
        guard let file, let root, !diags.hasErrors else { return (nil, diags.all) }
        guard let doc = SpecDocument.read(root, file: file, diags: &diags) else { return (nil, diags.all) }

        let env = Environment(parent: nil)
        let binder = ParameterBinder(doc: doc, request: request)
        let bound = binder.bind(into: env, diags: &diags)
        let elaborator = Elaborator(doc: doc, rootEnv: env)
        elaborator.diags = diags
        let ctx = Elaborator.Context(env: env, path: "", trace: [])

        var graph: Graph?
        if let inputShape = elaborator.inputShape(ctx: ctx) {
            elaborator.nodes.append(Node(op: .input, inputs: [], name: "", shape: inputShape, source: doc.input.range))
            var counter = 0
            let output = elaborator.elaborateList(doc.layers, input: 0, ctx: ctx, parentScope: nil, counter: &counter)
            if let output, !elaborator.diags.hasErrors {
                if output == 0 {
                    elaborator.diags.error(.missingKey, "the model has no layers", at: doc.layersRange)
                } else {
                    graph = Graph(name: doc.name, nodes: elaborator.nodes, output: output, modules: elaborator.modules)
                }
            }
        }
        diags = elaborator.diags
        binder.reportUnusedSets(env: env, bound: bound, diags: &diags)
        guard let graph, !diags.hasErrors else { return (nil, diags.all) }
        let parameters = doc.params.compactMap { p in env.lookup(p.key).map { (p.key, $0.value.description) } }
        return (LoadedModel(graph: graph, name: doc.name, variant: bound.variant, variants: doc.variants.map(\.key), parameters: parameters), diags.all)
    }

    /// The variants a spec defines (file order) and its default, without elaborating it; nil if
    /// the file does not parse.
    public static func variants(ofSpecAt path: String) -> (all: [String], defaultVariant: String?)? {
        let (file, root, d) = YAMLParser.parseFile(atPath: path)
        guard let file, let root, d.isEmpty else { return nil }
        var diags = DiagnosticBag()
        guard let doc = SpecDocument.read(root, file: file, diags: &diags) else { return nil }
        return (doc.variants.map(\.key), doc.defaultVariant?.name)
    }
}

extension Elaborator {
    /// `input: {channels: C, height: H, width: W}`, each a positive integer (expressions allowed).
    func inputShape(ctx: Context) -> TensorShape? {
        guard let m = doc.input.mapping else {
            diags.error(.typeMismatch, "expected 'input: {channels: C, height: H, width: W}'; found \(doc.input.kindDescription)", at: doc.input.range)
            return nil
        }
        let keys = ["channels", "height", "width"]
        var dims: [Int] = []
        var ok = true
        for p in m where !keys.contains(p.key) {
            report(.unknownKey, "unknown key '\(p.key)' in input\(didYouMean(p.key, keys))", at: p.keyRange, ctx: ctx)
            ok = false
        }
        for k in keys {
            guard let node = doc.input[k] else {
                report(.missingKey, "input needs '\(k)'", at: doc.input.range, ctx: ctx)
                ok = false
                continue
            }
            var notes: [Note] = []
            guard let v = evaluate(node, ctx: ctx, notes: &notes) else { ok = false; continue }
            guard case .int(let i) = v else {
                report(.typeMismatch, "input '\(k)' expects an integer; found \(v.typeDescription) \(v)", at: node.range, ctx: ctx, provenance: notes)
                ok = false
                continue
            }
            guard i > 0, i <= 1 << 20 else {
                report(.invalidSize, "input '\(k)' must be between 1 and \(1 << 20); found \(i)", at: node.range, ctx: ctx, provenance: notes)
                ok = false
                continue
            }
            dims.append(i)
        }
        return ok ? TensorShape(dims) : nil
    }
}
