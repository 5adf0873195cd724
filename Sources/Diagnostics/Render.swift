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

    /// Renders at most `limit` diagnostics (like clang's -ferror-limit: past a few hundred,
    /// more lines help nobody and a hostile spec could produce millions), then the count.
    public func render(_ all: [Diagnostic], limit: Int = 200) -> String {
        var out = all.prefix(limit).map(render).joined()
        if all.count > limit {
            out += "modelc: note: \(all.count - limit) more diagnostics not shown\n"
        }
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
        // A line longer than `maxQuotedBytes` is quoted as a window around the range, cut
        // with "...", if it is ASCII (then columns are UTF-8 offsets, and the window is found
        // without walking the line); a long non-ASCII line is not quoted. Otherwise each of
        // thousands of diagnostics on a long one-line flow spec would copy the whole line.
        let long = text.utf8.count > Self.maxQuotedBytes
        if long && !range.file.isASCII(line: range.start.line) { return }
        let count = long ? text.utf8.count : text.unicodeScalars.count
        let startCol = min(max(range.start.column, 1), count + 1)
        var endCol = range.end.line == range.start.line ? range.end.column : count + 1
        endCol = min(max(endCol, startCol + 1), count + 1)
        var first = 0, last = count
        if long {
            first = max(0, min(startCol - 1 - Self.quotedContext, count - Self.maxQuotedBytes))
            last = first + Self.maxQuotedBytes
        }
        let lo = long ? text.utf8.index(text.startIndex, offsetBy: first) : text.startIndex
        let slice = text[lo..<(long ? text.utf8.index(lo, offsetBy: last - first) : text.endIndex)]
        // Tabs show as 4 spaces, on the caret line too. Built from bytes, not scalar by scalar:
        // this runs once per diagnostic, and a file can have tens of thousands of them.
        let before = startCol - 1 - first   // scalars of the window left of the caret
        var shown = first > 0 ? "..." : ""
        var pad = first > 0 ? 3 : 0
        if slice.utf8.contains(9) {
            var bytes: [UInt8] = []
            for b in slice.utf8 {
                if b == 9 { bytes.append(contentsOf: repeatElement(32, count: 4)) } else { bytes.append(b) }
            }
            shown += String(decoding: bytes, as: UTF8.self)
            for s in slice.unicodeScalars.prefix(before) { pad += s == "\t" ? 4 : 1 }
        } else {
            shown += slice
            pad += before
        }
        out += shown + (last < count ? "..." : "") + "\n"
        endCol = min(endCol, last + 1)
        var caret = String(repeating: " ", count: pad)
        caret += "^" + String(repeating: "~", count: max(0, endCol - startCol - 1))
        out += (color ? "\u{1B}[32m" : "") + caret + off + "\n"
    }

    /// Source lines up to this many UTF-8 bytes are quoted whole.
    static let maxQuotedBytes = 500
    /// Scalars shown before the range when a long line is cut.
    static let quotedContext = 100

    private func style(_ severity: Severity) -> String {
        switch severity {
        case .error: return "\u{1B}[1;31m"
        case .warning: return "\u{1B}[1;35m"
        case .note: return "\u{1B}[1;36m"
        }
    }
}
