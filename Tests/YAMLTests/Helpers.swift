import Diagnostics
import YAML

/// Parses `text` as the file `t.yaml`.
func parse(_ text: String, path: String = "t.yaml", limits: YAMLLimits = YAMLLimits())
    -> (root: YAMLNode?, diagnostics: [Diagnostic]) {
    parse(bytes: Array(text.utf8), path: path, limits: limits)
}

/// Parses raw bytes (possibly invalid UTF-8) as the file `t.yaml`.
func parse(bytes: [UInt8], path: String = "t.yaml", limits: YAMLLimits = YAMLLimits())
    -> (root: YAMLNode?, diagnostics: [Diagnostic]) {
    YAMLParser.parse(bytes, file: YAMLParser.sourceFile(path: path, bytes: bytes), limits: limits)
}

/// "2:3-2:7": a range as line:column pairs, for exact comparisons.
func span(_ range: SourceRange?) -> String {
    guard let range else { return "nil" }
    return "\(range.start)-\(range.end)"
}

/// The ids of the diagnostics, in order.
func ids(_ diagnostics: [Diagnostic]) -> [DiagnosticID] {
    diagnostics.map(\.id)
}

/// A small deterministic generator (SplitMix64), so that fuzz failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
