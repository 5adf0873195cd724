import Diagnostics

/// A YAML node with the source range it was written at. Immutable reference type, so that an
/// alias is the very node its anchor names (no copy): an alias bomb costs nothing to build, and
/// `expandedSize` bounds the work of any consumer that walks it.
public final class YAMLNode: Sendable {
    public enum Content: Sendable {
        /// `plain` is true for an untagged plain scalar (`64`, `relu`, `true`): only those are
        /// typed by the YAML 1.2 core schema; a quoted `"64"` stays a string.
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    public let content: Content
    /// The whole node, from its first to one past its last character.
    public let range: SourceRange
    /// Explicit tag as written, after resolution of `!!` (e.g. `tag:yaml.org,2002:str`), if any.
    public let tag: String?
    /// Number of nodes this node stands for with every alias expanded (itself included).
    public let expandedSize: Int

    public init(_ content: Content, range: SourceRange, tag: String? = nil) {
        self.content = content
        self.range = range
        self.tag = tag
        switch content {
        case .scalar: expandedSize = 1
        case .sequence(let items): expandedSize = items.reduce(1) { $0 &+ $1.expandedSize }
        case .mapping(let pairs): expandedSize = pairs.reduce(1) { $0 &+ 1 &+ $1.value.expandedSize }
        }
    }

    public var scalar: String? {
        if case .scalar(let s, _) = content { return s }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var mapping: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The value stored under `key` in a mapping (keys are unique: duplicates are parse errors).
    public subscript(key: String) -> YAMLNode? {
        mapping?.first { $0.key == key }?.value
    }

    /// "integer", "string", "list", ... for messages such as "expected an integer, found a list".
    public var kindDescription: String {
        switch content {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar(let s, let plain):
            guard plain else { return "a string" }
            switch YAMLScalar.resolve(s) {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a number"
            case .string: return "a string"
            }
        }
    }
}

/// One `key: value` entry of a mapping; keys are always scalars.
public struct YAMLPair: Sendable {
    public let key: String
    public let keyRange: SourceRange
    public let value: YAMLNode

    public init(key: String, keyRange: SourceRange, value: YAMLNode) {
        self.key = key
        self.keyRange = keyRange
        self.value = value
    }
}

/// Typing of plain scalars by the YAML 1.2 core schema.
public enum YAMLScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    /// `null`/`~`/empty, `true`/`false`, decimal/0x/0o integers that fit in Int, floats
    /// (including `.inf`, `.nan`); everything else, and integers that overflow Int, is a string.
    /// Callers report overflow by checking `looksNumeric` on a `.string` result.
    public static func resolve(_ s: String) -> YAMLScalar {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        if isDecimalInteger(s) {
            return Int(s).map(YAMLScalar.int) ?? .string(s)
        }
        if s.hasPrefix("0x"), s.count > 2, let v = Int(s.dropFirst(2), radix: 16) { return .int(v) }
        if s.hasPrefix("0o"), s.count > 2, let v = Int(s.dropFirst(2), radix: 8) { return .int(v) }
        if isFloat(s), let v = Double(s) { return .float(v) }
        return .string(s)
    }

    /// True for text that is an integer literal too large for Int (so that the caller can say
    /// "out of range" instead of "expected an integer, found a string").
    public static func isOverflowingInteger(_ s: String) -> Bool {
        isDecimalInteger(s) && Int(s) == nil
    }

    private static func isDecimalInteger(_ s: String) -> Bool {
        var u = Substring(s)
        if u.first == "-" || u.first == "+" { u = u.dropFirst() }
        return !u.isEmpty && u.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func isFloat(_ s: String) -> Bool {
        // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var chars = Array(s.utf8)[...]
        if chars.first == UInt8(ascii: "-") || chars.first == UInt8(ascii: "+") { chars = chars.dropFirst() }
        func digits() -> Int {
            var n = 0
            while let c = chars.first, c >= 48, c <= 57 { chars = chars.dropFirst(); n += 1 }
            return n
        }
        let whole = digits()
        var frac = 0
        if chars.first == UInt8(ascii: ".") { chars = chars.dropFirst(); frac = digits() }
        guard whole + frac > 0 else { return false }
        if chars.first == UInt8(ascii: "e") || chars.first == UInt8(ascii: "E") {
            chars = chars.dropFirst()
            if chars.first == UInt8(ascii: "-") || chars.first == UInt8(ascii: "+") { chars = chars.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return chars.isEmpty
    }
}
