import Diagnostics

/// Limits that keep any input, however hostile, cheap to reject.
public struct YAMLLimits: Sendable {
    public var maxFileBytes = 16 << 20
    public var maxDepth = 128
    public var maxExpandedNodes = 1_000_000
    public init() {}
}

public enum YAMLParser {
    /// Reads `path` and parses it as one YAML document.
    /// Never traps: a missing file, a directory, binary garbage, an alias bomb or deep nesting
    /// all come back as diagnostics. Returns the source file too (for rendering), when read.
    public static func parseFile(atPath path: String, limits: YAMLLimits = YAMLLimits())
        -> (file: SourceFile?, root: YAMLNode?, diagnostics: [Diagnostic]) {
        fatalError("TODO(yaml helper)")
    }

    /// Parses `text` (already read) as one YAML document named `file.path` in diagnostics.
    public static func parse(_ bytes: [UInt8], file: SourceFile, limits: YAMLLimits = YAMLLimits())
        -> (root: YAMLNode?, diagnostics: [Diagnostic]) {
        fatalError("TODO(yaml helper)")
    }
}
