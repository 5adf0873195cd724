/// A text the user gave us (a spec file, or the command line), kept so that diagnostics can
/// quote the offending line. Immutable, so it is shared freely between threads.
public final class SourceFile: Sendable {
    /// The path as the user wrote it (diagnostics print it verbatim), or a pseudo-name such as
    /// `<command line>`.
    public let path: String
    /// The text split into lines without their terminators; line `n` (1-based) is `lines[n - 1]`.
    public let lines: [Substring]
    /// Whether each line is pure ASCII, so that its columns are UTF-8 offsets: the renderer
    /// quotes a window of a very long line without walking all of it.
    private let asciiLines: [Bool]

    public init(path: String, text: String) {
        self.path = path
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        self.asciiLines = lines.map { $0.utf8.allSatisfy { $0 < 0x80 } }
    }

    func isASCII(line number: Int) -> Bool {
        number >= 1 && number <= lines.count && asciiLines[number - 1]
    }

    /// The text of a 1-based line, or nil past the end.
    public func line(_ number: Int) -> Substring? {
        number >= 1 && number <= lines.count ? lines[number - 1] : nil
    }
}

/// A 1-based line and column. Columns count Unicode scalars, as libyaml's marks do.
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourcePosition, b: SourcePosition) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// A half-open range `[start, end)` in one source file.
public struct SourceRange: Sendable, CustomStringConvertible {
    public let file: SourceFile
    public var start: SourcePosition
    public var end: SourcePosition

    public init(file: SourceFile, start: SourcePosition, end: SourcePosition) {
        self.file = file
        self.start = start
        self.end = max(start, end)
    }

    /// `path:line:col`, the prefix of every diagnostic line.
    public var description: String { "\(file.path):\(start.line):\(start.column)" }
}
