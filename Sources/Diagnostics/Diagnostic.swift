public enum Severity: String, Sendable {
    case error, warning, note
}

/// A secondary message attached to a diagnostic: the producer of a mismatched input, the block
/// definition for an error inside a block instance, the command-line flag a value came from.
public struct Note: Sendable {
    public var message: String
    public var range: SourceRange?

    public init(_ message: String, at range: SourceRange?) {
        self.message = message
        self.range = range
    }
}

/// One finding about the user's input. Messages are lowercase and say what was expected and
/// what was found; `id` names the entry of the catalog (`DiagnosticID`) that it instantiates.
public struct Diagnostic: Sendable, Error, CustomStringConvertible {
    public var id: DiagnosticID
    public var severity: Severity
    public var message: String
    public var range: SourceRange?
    public var notes: [Note]

    public init(_ id: DiagnosticID, _ message: String, at range: SourceRange?,
                severity: Severity = .error, notes: [Note] = []) {
        self.id = id
        self.severity = severity
        self.message = message
        self.range = range
        self.notes = notes
    }

    public func with(notes more: [Note]) -> Diagnostic {
        var copy = self
        copy.notes += more
        return copy
    }

    public var description: String { DiagnosticRenderer(color: false).render(self) }
}

/// Collects diagnostics during one run so that every independent error is reported at once.
public struct DiagnosticBag: Sendable {
    public private(set) var all: [Diagnostic] = []

    public init() {}

    public mutating func append(_ diagnostic: Diagnostic) {
        all.append(diagnostic)
    }

    public mutating func append(contentsOf more: [Diagnostic]) {
        all += more
    }

    public mutating func error(_ id: DiagnosticID, _ message: String, at range: SourceRange?,
                               notes: [Note] = []) {
        all.append(Diagnostic(id, message, at: range, notes: notes))
    }

    public var hasErrors: Bool { all.contains { $0.severity == .error } }
    public var errorCount: Int { all.count { $0.severity == .error } }
}
