/// Prints diagnostics the way clang and swiftc do:
///
///     Specs/net.yaml:12:15: error: add expects inputs of one shape; found [64, 56, 56] and [128, 28, 28] [shape-mismatch]
///       - {add: [a, b]}
///                ^~~~~~
///     Specs/net.yaml:9:5: note: 'a' produces [64, 56, 56]
public struct DiagnosticRenderer: Sendable {
    public var color: Bool

    public init(color: Bool) {
        self.color = color
    }

    public func render(_ d: Diagnostic) -> String {
        var out = ""
        line(&out, severity: d.severity, message: d.message + " [\(d.id.rawValue)]", range: d.range)
        for note in d.notes {
            line(&out, severity: .note, message: note.message, range: note.range)
        }
        return out
    }

    public func render(_ all: [Diagnostic]) -> String {
        var out = all.map(render).joined()
        let errors = all.count { $0.severity == .error }
        if errors > 0 {
            out += "\(errors) error\(errors == 1 ? "" : "s") generated.\n"
        }
        return out
    }

    private func line(_ out: inout String, severity: Severity, message: String, range: SourceRange?) {
        let (on, off) = color ? (style(severity), "\u{1B}[0m") : ("", "")
        let bold = color ? "\u{1B}[1m" : ""
        if let range {
            out += "\(bold)\(range.description): \(off)"
        } else {
            out += "\(bold)modelc: \(off)"
        }
        out += "\(on)\(severity.rawValue):\(off) \(bold)\(message)\(off)\n"
        guard let range, let text = range.file.line(range.start.line) else { return }
        let shown = String(text).replacingTabs()
        out += shown + "\n"
        let scalars = Array(text.unicodeScalars)
        let startCol = min(max(range.start.column, 1), scalars.count + 1)
        var endCol = range.end.line == range.start.line ? range.end.column : scalars.count + 1
        endCol = min(max(endCol, startCol + 1), scalars.count + 1)
        var caret = ""
        for i in 0..<(startCol - 1) {
            caret += i < scalars.count && scalars[i] == "\t" ? "    " : " "
        }
        caret += "^" + String(repeating: "~", count: max(0, endCol - startCol - 1))
        out += (color ? "\u{1B}[32m" : "") + caret + off + "\n"
    }

    private func style(_ severity: Severity) -> String {
        switch severity {
        case .error: return "\u{1B}[1;31m"
        case .warning: return "\u{1B}[1;35m"
        case .note: return "\u{1B}[1;36m"
        }
    }
}

extension String {
    fileprivate func replacingTabs() -> String {
        var s = ""
        for ch in self { s += ch == "\t" ? "    " : String(ch) }
        return s
    }
}
