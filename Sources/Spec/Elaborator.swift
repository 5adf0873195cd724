import Diagnostics
import IR
import YAML

/// Turns a checked spec into an IR graph: evaluates expressions, instantiates blocks, expands
/// repeats, resolves references and infers every shape as it goes (blocks read their input
/// channels as `in`). Errors are collected, never thrown, so one run reports all independent
/// ones; a node whose inputs failed is skipped silently ("poisoned") to avoid cascades.
final class Elaborator {
    let doc: SpecDocument
    var diags = DiagnosticBag()
    var nodes: [Node] = []
    var modules: [String: String] = [:]
    let rootEnv: Environment
    /// Parameter key → node that owns it, to report duplicate keys.
    private var parameterOwners: [String: Int] = [:]
    var blockStack: [String] = []
    private var work = 0
    private(set) var exhausted = false
    /// Elements of YAML lists evaluated so far (`evaluate`), against `maxListElements`.
    var listElements = 0

    /// An alias can name a list of up to 1,000,000 YAML nodes (the YAML limit), and an item
    /// evaluates its arguments once per repetition: bound the total, to what one such list
    /// needs, so that `{kernel: *big, repeat: 10000}` is an error, not hours of work.
    static let maxListElements = 1_000_000

    // At about 5 microseconds per unit in a debug build (a block instance costs ~3 units), these
    // keep the worst spec (blocks that instantiate each other exponentially) near 0.3 s of CPU;
    // real CNNs stay below 2,000 nodes (EfficientNet-B7: ~1,000).
    static let maxNodes = 20_000
    static let maxWork = 60_000
    static let maxRepeat = 10_000
    static let maxBlockNesting = 32

    init(doc: SpecDocument, rootEnv: Environment) {
        self.doc = doc
        self.rootEnv = rootEnv
    }

    /// Lexical context of the item being elaborated.
    struct Context {
        var env: Environment
        /// Module path of the enclosing container ("" at the top).
        var path: String
        /// "in block 'x' instantiated here" notes, innermost first.
        var trace: [Note]
    }

    /// The names visible in one layer list: earlier items, then enclosing lists (not across a
    /// block boundary: a block sees only its parameters and its `input`).
    final class Scope {
        let parent: Scope?
        let input: Int?
        var names: [String: [Int?]] = [:]
        /// Item names of the list by position, for diagnosing references to later items.
        var declared: [String: Int] = [:]
        var staticDeps: [[String]] = []
        var position = 0

        init(parent: Scope?, input: Int?) {
            self.parent = parent
            self.input = input
        }
    }

    // MARK: Lists and items

    /// Elaborates `items` in order; returns the last output (the input for an empty list).
    /// `counter` numbers unnamed items; inline blocks share their parent's.
    func elaborateList(_ items: [YAMLNode], input: Int?, ctx: Context, parentScope: Scope?, counter: inout Int) -> Int? {
        let scope = Scope(parent: parentScope, input: input)
        for (i, item) in items.enumerated() {
            if let n = item["name"]?.scalar, scope.declared[n] == nil { scope.declared[n] = i }
            scope.staticDeps.append(Self.staticDependencies(item, position: i, items: items))
        }
        var current = input
        for (i, item) in items.enumerated() {
            scope.position = i
            let name = item["name"]?.scalar
            let registered = name.flatMap { scope.names[$0]?.count } ?? 0
            current = elaborateItem(item, previous: current, scope: scope, ctx: ctx, counter: &counter)
            // An item that failed (already reported) still defines its name, as a poisoned
            // output: a later reference to it must not be reported as undefined.
            if current == nil, let name, (scope.names[name]?.count ?? 0) == registered {
                scope.names[name, default: []].append(nil)
            }
        }
        return current
    }

    /// What an item reads, by name, before anything is evaluated: its `from`/`inputs` names, or
    /// the item above it. Used only to tell a cycle from a plain forward reference.
    private static func staticDependencies(_ item: YAMLNode, position: Int, items: [YAMLNode]) -> [String] {
        func names(_ n: YAMLNode?) -> [String]? {
            guard let n else { return nil }
            if let s = n.scalar { return [s] }
            return n.sequence?.compactMap(\.scalar)
        }
        if let from = names(item["from"]) { return from }
        for k in ["add", "concat", "multiply"] { if let refs = names(item[k]) { return refs } }
        guard position > 0 else { return [] }
        return [items[position - 1]["name"]?.scalar ?? "#\(position - 1)"]
    }

    /// Counts elaboration work; false (after one diagnostic) once the model is too large.
    func spend(at range: SourceRange) -> Bool {
        work += 1
        if exhausted { return false }
        if work > Self.maxWork || nodes.count >= Self.maxNodes {
            exhausted = true
            diags.error(.modelTooLarge, "the model has more than \(Self.maxNodes) layers (or \(Self.maxWork) layer items); check repeat counts and block nesting", at: range)
            return false
        }
        return true
    }

    func elaborateItem(_ item: YAMLNode, previous: Int?, scope: Scope, ctx: Context, counter: inout Int) -> Int? {
        guard spend(at: item.range) else { return nil }
        guard let syntax = parseItem(item, ctx: ctx) else {
            counter += 1
            return nil
        }
        var provenance: [Note] = []
        if let cond = syntax.meta["if"] {
            guard let v = evaluate(cond.value, ctx: ctx, notes: &provenance) else { counter += 1; return nil }
            guard case .bool(let keep) = v else {
                report(.typeMismatch, "expected a boolean for 'if'; found \(v.typeDescription) \(v)", at: cond.value.range, ctx: ctx, provenance: provenance)
                counter += 1
                return nil
            }
            if !keep { return previous }
        }
        var count = 1
        if let r = syntax.meta["repeat"] {
            guard let v = evaluate(r.value, ctx: ctx, notes: &provenance) else { counter += 1; return nil }
            guard case .int(let n) = v else {
                report(.typeMismatch, "expected an integer for 'repeat'; found \(v.typeDescription) \(v)", at: r.value.range, ctx: ctx, provenance: provenance)
                counter += 1
                return nil
            }
            guard n >= 0, n <= Self.maxRepeat else {
                report(.valueOutOfRange, "'repeat' must be between 0 and \(Self.maxRepeat); found \(n)", at: r.value.range, ctx: ctx, provenance: provenance)
                counter += 1
                return nil
            }
            if syntax.meta["name"] != nil {
                report(.invalidValue, "a repeated item cannot have a name (each repetition is numbered); wrap it in a named sequential", at: syntax.meta["name"]!.keyRange, ctx: ctx)
            }
            count = n
        } else if let f = syntax.meta["first"] {
            report(.invalidValue, "'first' only applies to an item with 'repeat'", at: f.keyRange, ctx: ctx)
        }

        var input = previous
        if let from = syntax.meta["from"] {
            guard let refs = referenceNames(from.value, ctx: ctx), refs.count == 1 else {
                if from.value.sequence != nil {
                    report(.typeMismatch, "'from' takes one layer name; found a list (use add, concat or multiply to combine layers)", at: from.value.range, ctx: ctx)
                }
                counter += 1
                return nil
            }
            guard let resolved = resolve(refs[0], scope: scope, ctx: ctx) else { counter += 1; return nil }
            input = resolved
        }

        var output = input
        for repetition in 0..<count {
            guard spend(at: item.range) else { return nil }
            let overrides = repetition == 0 ? syntax.first : [:]
            output = lower(syntax, overrides: overrides, input: repetition == 0 ? input : output,
                           provenance: provenance, scope: scope, ctx: ctx, counter: &counter)
        }
        if let name = syntax.name { scope.names[name, default: []].append(output) }
        return output
    }

    // MARK: References

    /// Resolves a layer name to its output, looking outward through enclosing lists.
    func resolve(_ ref: (name: String, range: SourceRange), scope: Scope, ctx: Context) -> Int?? {
        if ref.name == "input" { return .some(scope.input) }
        var s: Scope? = scope
        while let current = s {
            if let outputs = current.names[ref.name] {
                if outputs.count > 1 {
                    report(.ambiguousReference, "'\(ref.name)' names \(outputs.count) layers of this scope; give them distinct names", at: ref.range, ctx: ctx)
                    return nil
                }
                return .some(outputs[0])
            }
            s = current.parent
        }
        if let later = scope.declared[ref.name], later >= scope.position {
            if let cycle = cyclePath(from: later, to: scope.position, scope: scope) {
                report(.cyclicReference, "reference to '\(ref.name)' forms a cycle: \(cycle.joined(separator: " → "))", at: ref.range, ctx: ctx)
            } else {
                report(.undefinedReference, "'\(ref.name)' is defined below this layer; a layer can only read layers above it", at: ref.range, ctx: ctx)
            }
            return nil
        }
        var visible: [String] = ["input"]
        s = scope
        while let current = s { visible += current.names.keys; s = current.parent }
        report(.undefinedReference, "no layer named '\(ref.name)' is defined before this point\(didYouMean(ref.name, visible))", at: ref.range, ctx: ctx)
        return nil
    }

    /// A path of item names from `from` back to `to` through static dependencies, if any.
    private func cyclePath(from: Int, to: Int, scope: Scope) -> [String]? {
        func label(_ i: Int) -> String {
            scope.declared.first { $0.value == i }?.key ?? "item \(i)"
        }
        var stack: [(Int, [String])] = [(from, [label(from)])]
        var seen: Set<Int> = []
        while let (i, path) = stack.popLast() {
            // `path` lists dependencies before their readers; the message reads in reading order.
            if i == to { return [label(to)] + path.reversed() }
            guard seen.insert(i).inserted, i < scope.staticDeps.count else { continue }
            for dep in scope.staticDeps[i] {
                let j = dep.hasPrefix("#") ? Int(dep.dropFirst()) : scope.declared[dep]
                if let j, j >= to { stack.append((j, [label(j)] + path)) }
            }
        }
        return nil
    }

    func referenceNames(_ node: YAMLNode, ctx: Context) -> [(name: String, range: SourceRange)]? {
        if let s = node.scalar { return [(s, node.range)] }
        if let items = node.sequence {
            var out: [(String, SourceRange)] = []
            for i in items {
                guard let s = i.scalar else {
                    report(.typeMismatch, "expected a layer name; found \(i.kindDescription)", at: i.range, ctx: ctx)
                    return nil
                }
                out.append((s, i.range))
            }
            return out
        }
        report(.typeMismatch, "expected a layer name or a list of names; found \(node.kindDescription)", at: node.range, ctx: ctx)
        return nil
    }

    // MARK: Emission

    /// Appends a node after inferring its shape; nil when an input is poisoned or inference fails.
    func emit(_ op: Op, inputs: [Int?], name: String, at range: SourceRange, fields: [String: SourceRange] = [:],
              ctx: Context, provenance: [Note]) -> Int? {
        var ids: [Int] = []
        for i in inputs {
            guard let i else { return nil }
            ids.append(i)
        }
        guard spend(at: range) else { return nil }
        let shapes = ids.map { nodes[$0].shape }
        let shape: TensorShape
        do {
            shape = try inferShape(op, inputs: shapes)
        } catch {
            var notes: [Note] = []
            for k in error.inputs where k < ids.count {
                let producer = nodes[ids[k]]
                let who = producer.name.isEmpty ? "the model input" : "'\(producer.name)'"
                notes.append(Note("\(who) produces \(producer.shape)", at: producer.source))
            }
            report(Self.id(for: error.kind), error.message, at: error.field.flatMap { fields[$0] } ?? range,
                   ctx: ctx, provenance: provenance, notes: notes)
            return nil
        }
        let node = Node(op: op, inputs: ids, name: name, shape: shape, source: range, notes: provenance + ctx.trace)
        let index = nodes.count
        for p in node.parameters(inputShape: shapes.first ?? shape) {
            if let first = parameterOwners[p.name] {
                report(.duplicateParameterName, "parameter '\(p.name)' is already defined by another layer; rename one of them", at: range,
                       ctx: ctx, notes: [Note("first defined here", at: nodes[first].source)])
                return nil
            }
            parameterOwners[p.name] = index
        }
        nodes.append(node)
        return index
    }

    static func id(for kind: ShapeError.Kind) -> DiagnosticID {
        switch kind {
        case .channelMismatch: .channelMismatch
        case .shapeMismatch: .shapeMismatch
        case .rankMismatch: .rankMismatch
        case .kernelTooLarge: .kernelTooLarge
        case .invalidSize: .invalidSize
        case .groupsMismatch: .groupsMismatch
        case .invalidValue: .invalidValue
        }
    }

    /// Records an error with the context notes: provenance (command-line values it read), then
    /// the block instantiation chain.
    func report(_ id: DiagnosticID, _ message: String, at range: SourceRange?, ctx: Context,
                provenance: [Note] = [], notes: [Note] = []) {
        var seen: Set<String> = []
        let unique = (notes + provenance + ctx.trace).filter { seen.insert("\($0.range?.description ?? "")|\($0.message)").inserted }
        diags.append(Diagnostic(id, message, at: range, notes: unique))
    }

    static func join(_ path: String, _ component: String) -> String {
        path.isEmpty ? component : path + "." + component
    }
}
