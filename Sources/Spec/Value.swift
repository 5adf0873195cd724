import YAML

/// A value of the spec language: what a YAML scalar or a `$(...)` expression denotes.
public enum Value: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([Value])

    /// The value of a plain YAML scalar by the core schema; quoted scalars are strings.
    init(scalar: String, plain: Bool) {
        guard plain else { self = .string(scalar); return }
        switch YAMLScalar.resolve(scalar) {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .float(let d): self = .float(d)
        case .string(let s): self = .string(s)
        }
    }

    /// "an integer", "a list", ... for "expected X, found Y" messages.
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .float: "a number"
        case .string: "a string"
        case .list: "a list"
        }
    }

    /// The value as written in a spec. Messages quote values, so a long one (a list built from
    /// an alias bomb, a megabyte string) is cut after about 200 characters and ends in "...".
    public var description: String {
        var out = ""
        write(to: &out, limit: 200)
        return out
    }

    private func write(to out: inout String, limit: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d): out += formatNumber(d)
        case .string(let s):
            let room = max(limit - out.utf8.count, 0)
            out += s.unicodeScalars.count <= room ? "'\(s)'" : "'\(String(s.unicodeScalars.prefix(room)))...'"
        case .list(let l):
            out += "["
            for (i, v) in l.enumerated() {
                if i > 0 { out += ", " }
                guard out.utf8.count < limit else { out += "..."; break }
                v.write(to: &out, limit: limit)
            }
            out += "]"
        }
    }

    /// Items and nesting depth, nested lists counted every time they occur; nil once more than
    /// `limit` items are seen (so measuring costs at most `limit` steps).
    func measure(limit: Int) -> (nodes: Int, depth: Int)? {
        var nodes = 0, depth = 0
        var stack: [(Value, Int)] = [(self, 1)]
        while let (v, d) = stack.popLast() {
            nodes += 1
            depth = max(depth, d)
            if case .list(let items) = v {
                guard nodes + items.count <= limit else { return nil }
                for i in items { stack.append((i, d + 1)) }
            }
            guard nodes <= limit else { return nil }
        }
        return (nodes, depth)
    }

    var asDouble: Double? {
        switch self {
        case .int(let i): Double(i)
        case .float(let d): d
        default: nil
        }
    }
}

/// Shortest faithful text of a double: `1.0`, `0.25`, `1e-05`.
func formatNumber(_ d: Double) -> String {
    if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) + ".0" }
    return "\(d)"
}
