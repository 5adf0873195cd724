import Diagnostics

/// Collects the keys and values of one mapping as they arrive, and resolves merge keys (`<<`)
/// when it is complete.
struct MappingBuilder {
    private enum Entry {
        case pair(YAMLPair)
        /// The mappings of a `<<` entry, in precedence order (earlier wins).
        case merge([YAMLNode])
    }

    private enum State {
        case expectingKey
        case expectingValue(key: String, range: SourceRange, merge: Bool)
        /// The value of a rejected (duplicate or complex) key: dropped.
        case discardingValue
    }

    private var entries: [Entry] = []
    /// Where each key was first written; `<<` included, so a second `<<` is a duplicate too.
    private var firstKeys: [String: SourceRange] = [:]
    private var state = State.expectingKey

    /// A diagnostic for a node that cannot go where it arrived, and whether it still allows a tree.
    struct Problem {
        var diagnostic: Diagnostic
        var fatal: Bool
    }

    /// Adds the next key or value. `range` is where the node was written (for an alias, the
    /// alias itself, not the anchored node it stands for).
    mutating func add(_ node: YAMLNode, at range: SourceRange) -> Problem? {
        switch state {
        case .expectingKey:
            return addKey(node, at: range)
        case .expectingValue(let key, let keyRange, let merge):
            state = .expectingKey
            guard merge else {
                entries.append(.pair(YAMLPair(key: key, keyRange: keyRange, value: node)))
                return nil
            }
            return addMerge(node, at: range)
        case .discardingValue:
            state = .expectingKey
            return nil
        }
    }

    private mutating func addKey(_ node: YAMLNode, at range: SourceRange) -> Problem? {
        guard case .scalar(let key, let plain) = node.content else {
            state = .discardingValue
            let found = node.sequence != nil ? "a list" : "a mapping"
            return Problem(diagnostic: Diagnostic(.yamlComplexKey,
                "expected a scalar as mapping key, found \(found)", at: range), fatal: true)
        }
        if let first = firstKeys[key] {
            state = .discardingValue
            return Problem(diagnostic: Diagnostic(.yamlDuplicateKey,
                "duplicate key '\(key)': a mapping may define each key once", at: range,
                notes: [Note("'\(key)' first defined here", at: first)]), fatal: false)
        }
        firstKeys[key] = range
        state = .expectingValue(key: key, range: range, merge: plain && key == "<<")
        return nil
    }

    /// `<<: *base` or `<<: [*a, *b]`: anything else is an error, not a key named `<<`.
    private mutating func addMerge(_ node: YAMLNode, at range: SourceRange) -> Problem? {
        switch node.content {
        case .mapping:
            entries.append(.merge([node]))
            return nil
        case .sequence(let items) where items.allSatisfy({ $0.mapping != nil }):
            entries.append(.merge(items))
            return nil
        default:
            return Problem(diagnostic: Diagnostic(.yamlSyntax,
                "expected a mapping or a list of mappings to merge after '<<', found \(node.kindDescription)",
                at: range), fatal: true)
        }
    }

    /// The pairs in source order; merged pairs take the place of their `<<` and lose to keys
    /// written in this mapping and to keys merged before them.
    func build() -> [YAMLPair] {
        var pairs: [YAMLPair] = []
        var merged: Set<String> = []
        for entry in entries {
            switch entry {
            case .pair(let pair):
                pairs.append(pair)
            case .merge(let sources):
                for source in sources {
                    for pair in source.mapping ?? [] where firstKeys[pair.key] == nil {
                        if merged.insert(pair.key).inserted { pairs.append(pair) }
                    }
                }
            }
        }
        return pairs
    }
}
