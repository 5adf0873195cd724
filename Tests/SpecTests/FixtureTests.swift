import Diagnostics
import Foundation
import IR
import ModelcCLI
import Spec
import Testing

// The fixtures under Fixtures/invalid and Fixtures/valid, and the directives in their comments.
// The convention is documented in Fixtures/README.md.

/// Where the fixtures are: found from this file (the package declares no resources).
enum SpecFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ folder: String, _ name: String) -> String {
        root.appendingPathComponent(folder).appendingPathComponent(name).path
    }

    /// The `.yaml` files of a fixture folder, sorted.
    static func files(_ folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// Ids tested outside the fixtures (RobustnessTests: missing files, directories, small limits).
    static let dedicatedIDs: Set<DiagnosticID> = [.fileUnreadable, .fileTooLarge]
}

/// One directive of a fixture comment.
struct FixtureDirective: CustomStringConvertible {
    enum Kind: String {
        case expect = "expect", expectNote = "expect-note", expectCLI = "expect-cli", expectCLINote = "expect-cli-note"
        case modelcArgs = "modelc-args", expectOutput = "expect-output", expectParams = "expect-params", expectShape = "expect-shape"
    }
    var kind: Kind
    /// The line it is about (its own line, or N of an `-at N` form).
    var line: Int
    /// The line it is written on.
    var writtenOn: Int
    var severity: Severity?
    var id: DiagnosticID?
    var text: String

    var description: String {
        let what = [severity?.rawValue, id.map { "[\($0.rawValue)]" }, text.isEmpty ? nil : "'\(text)'"].compactMap { $0 }.joined(separator: " ")
        switch kind {
        case .expect, .expectNote: return "\(kind.rawValue) on line \(line): \(what)"
        default: return "\(kind.rawValue): \(what)"
        }
    }
}

/// A fixture file with its directives; `problems` lists malformed directives.
struct FixtureFile {
    var name: String
    var path: String
    var bytes: [UInt8]
    var directives: [FixtureDirective] = []
    var problems: [String] = []

    init(folder: String, name: String) throws {
        self.name = name
        path = SpecFixtures.path(folder, name)
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let text = String(decoding: bytes, as: UTF8.self)
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for (head, body) in Self.scan(String(line)) {
                parse(head: head, body: body, lineNumber: i + 1)
            }
        }
    }

    func all(_ kind: FixtureDirective.Kind) -> [FixtureDirective] { directives.filter { $0.kind == kind } }

    /// `--set` / `--variant` options of `modelc-args`, split like a shell would (quotes group).
    var arguments: [String] {
        var out: [String] = []
        for d in all(.modelcArgs) {
            var current = "", quote: Character?, started = false
            for ch in d.text {
                if let q = quote {
                    if ch == q { quote = nil } else { current.append(ch) }
                } else if ch == "'" || ch == "\"" {
                    quote = ch
                    started = true
                } else if ch == " " || ch == "\t" {
                    if started || !current.isEmpty { out.append(current) }
                    current = ""
                    started = false
                } else {
                    current.append(ch)
                }
            }
            if started || !current.isEmpty { out.append(current) }
        }
        return out
    }

    /// The directives of one line: each `# <head>: <body>` whose head is a directive keyword runs
    /// to the next such directive or the end of the line. Other comments are prose.
    static func scan(_ line: String) -> [(head: String, body: String)] {
        let chars = Array(line)
        var starts: [(hash: Int, head: String, bodyStart: Int)] = []
        for i in chars.indices where chars[i] == "#" {
            var j = i + 1
            while j < chars.count, chars[j] == " " { j += 1 }
            var k = j
            while k < chars.count, chars[k].isLetter || chars[k].isNumber || chars[k] == "-" || chars[k] == " " { k += 1 }
            guard k < chars.count, chars[k] == ":" else { continue }
            let head = String(chars[j..<k]).trimmingCharacters(in: .whitespaces)
            guard isDirectiveHead(head) else { continue }
            starts.append((i, head, k + 1))
        }
        return starts.indices.map { n in
            let end = n + 1 < starts.count ? starts[n + 1].hash : chars.count
            return (starts[n].head, String(chars[starts[n].bodyStart..<end]).trimmingCharacters(in: .whitespaces))
        }
    }

    /// `expect...`, `expect... N` or `modelc-args`: anything that looks like a directive, so that
    /// a misspelled one (`expects`, `expect-notes`) is reported instead of ignored.
    private static func isDirectiveHead(_ head: String) -> Bool {
        let words = head.split(separator: " ")
        guard let first = words.first, words.count <= 2 else { return false }
        if words.count == 2 && Int(words[1]) == nil { return false }
        return first.hasPrefix("expect") || first == "modelc-args"
    }

    private mutating func parse(head: String, body: String, lineNumber: Int) {
        let words = head.split(separator: " ").map(String.init)
        var keyword = words[0]
        var line = lineNumber
        if words.count == 2 {
            guard keyword == "expect-at" || keyword == "expect-note-at", let n = Int(words[1]), n >= 1 else {
                problems.append("line \(lineNumber): '\(head)' takes no line number (only expect-at N and expect-note-at N do)")
                return
            }
            keyword = String(keyword.dropLast(3))
            line = n
        } else if keyword == "expect-at" || keyword == "expect-note-at" {
            problems.append("line \(lineNumber): '\(keyword)' needs a line number ('\(keyword) N:')")
            return
        }
        guard let kind = FixtureDirective.Kind(rawValue: keyword) else {
            problems.append("line \(lineNumber): unknown directive '\(keyword)' (see Fixtures/README.md)")
            return
        }
        var directive = FixtureDirective(kind: kind, line: line, writtenOn: lineNumber, text: body)
        if kind == .expect || kind == .expectCLI {
            // SEVERITY [ID] TEXT
            let scanner = body.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true).map(String.init)
            guard scanner.count == 2, let severity = Severity(rawValue: scanner[0]), severity != .note,
                  scanner[1].hasPrefix("["), let close = scanner[1].firstIndex(of: "]") else {
                problems.append("line \(lineNumber): expected '\(keyword): error [id] text'; found '\(body)'")
                return
            }
            let idText = String(scanner[1][scanner[1].index(after: scanner[1].startIndex)..<close])
            guard let id = DiagnosticID(rawValue: idText) else {
                problems.append("line \(lineNumber): unknown diagnostic id '\(idText)'")
                return
            }
            directive.severity = severity
            directive.id = id
            directive.text = String(scanner[1][scanner[1].index(after: close)...]).trimmingCharacters(in: .whitespaces)
        }
        directives.append(directive)
    }
}

/// Note: Foundation's `"abc".contains("")` is false, hence the `isEmpty` checks below.

/// "[16, 32, 32]" → [16, 32, 32].
func parseShape(_ text: String) -> [Int]? {
    let t = text.trimmingCharacters(in: .whitespaces)
    guard t.hasPrefix("["), t.hasSuffix("]") else { return nil }
    let items = t.dropFirst().dropLast().split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !items.isEmpty, items.allSatisfy({ $0 != nil }) else { return nil }
    return items.map { $0! }
}

/// A fixture loaded the way `modelc check FILE ARGS` loads it.
struct FixtureRun {
    var fixture: FixtureFile
    var commandLine: CommandLineSource
    var request: SpecRequest
    var model: LoadedModel?
    var diagnostics: [Diagnostic]
    var problems: [String] = []

    init(_ fixture: FixtureFile) {
        self.fixture = fixture
        let args = fixture.arguments
        let cl = CommandLineSource(["check", fixture.path] + args)
        var request = SpecRequest(path: fixture.path)
        var problems: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i], index = i + 2   // index in cl.args
            var flag = a, value: String?, valueIndex = index, skip = 0
            if let eq = a.firstIndex(of: "="), a.hasPrefix("--") {
                flag = String(a[..<eq])
                value = String(a[a.index(after: eq)...])
                skip = flag.unicodeScalars.count + 1
            } else if i + 1 < args.count {
                value = args[i + 1]
                valueIndex = index + 1
                i += 1
            }
            i += 1
            guard let value, flag == "--set" || flag == "--variant" else {
                problems.append("modelc-args: unsupported or incomplete option '\(a)' (only --set and --variant)")
                continue
            }
            let range = cl.range(of: valueIndex, skip: skip)
            if flag == "--variant" {
                request.variant = value
                request.variantRange = range
            } else {
                request.sets.append((value, range))
            }
        }
        commandLine = cl
        self.request = request
        self.problems = problems
        (model, diagnostics) = SpecLoader.load(request)
    }

    var rendered: String {
        diagnostics.isEmpty ? "(no diagnostics)\n" : DiagnosticRenderer(color: false).render(diagnostics)
    }

    private func inFixture(_ range: SourceRange?, line: Int) -> Bool {
        guard let range else { return false }
        return range.file.path == fixture.path && range.file !== commandLine.file && range.start.line == line
    }

    private func onCommandLine(_ range: SourceRange?) -> Bool {
        range?.file === commandLine.file
    }

    func satisfies(_ d: Diagnostic, _ e: FixtureDirective) -> Bool {
        guard d.id == e.id, d.severity == e.severity, e.text.isEmpty || d.message.contains(e.text) else { return false }
        return e.kind == .expectCLI ? onCommandLine(d.range) : inFixture(d.range, line: e.line)
    }

    func hasNote(_ e: FixtureDirective) -> Bool {
        diagnostics.contains { d in
            d.notes.contains { n in
                (e.text.isEmpty || n.message.contains(e.text)) && (e.kind == .expectCLINote ? onCommandLine(n.range) : inFixture(n.range, line: e.line))
            }
        }
    }

    /// Everything that does not match the fixture's expectations, one message each.
    func mismatches() -> [String] {
        var out = fixture.problems + problems
        let expectations = fixture.all(.expect) + fixture.all(.expectCLI)
        for e in expectations where !diagnostics.contains(where: { satisfies($0, e) }) {
            out.append("line \(e.writtenOn): no diagnostic matches \(e.description)")
        }
        for e in fixture.all(.expectNote) + fixture.all(.expectCLINote) where !hasNote(e) {
            out.append("line \(e.writtenOn): no note matches \(e.description)")
        }
        for d in diagnostics where d.severity != .note && !expectations.contains(where: { satisfies(d, $0) }) {
            out.append("unexpected diagnostic:\n" + DiagnosticRenderer(color: false).render(d))
        }
        return out
    }
}

/// Summaries of diagnostics that must agree between two ways of loading.
func diagnosticDigest(_ all: [Diagnostic]) -> [String] {
    all.map { d in
        func at(_ r: SourceRange?) -> String { r.map { "\($0.file.path):\($0.start)-\($0.end)" } ?? "-" }
        return "\(d.severity) [\(d.id.rawValue)] \(at(d.range)) \(d.message)" + d.notes.map { " | \(at($0.range)) \($0.message)" }.joined()
    }
}

@Suite("Spec fixtures")
struct FixtureTests {
    static let invalid = SpecFixtures.files("invalid")
    static let valid = SpecFixtures.files("valid")

    @Test("fixture folders are found")
    func foldersAreFound() {
        #expect(Self.invalid.count >= 40, "found \(Self.invalid.count) fixtures under \(SpecFixtures.root.path)/invalid")
        #expect(Self.valid.count >= 3, "found \(Self.valid.count) fixtures under \(SpecFixtures.root.path)/valid")
    }

    @Test("invalid fixture reports exactly what it expects", arguments: invalid)
    func invalidFixture(_ name: String) throws {
        let fixture = try FixtureFile(folder: "invalid", name: name)
        let run = FixtureRun(fixture)
        var problems = run.mismatches()
        if fixture.all(.expect).isEmpty && fixture.all(.expectCLI).isEmpty {
            problems.append("an invalid fixture needs at least one '# expect:' or '# expect-cli:' directive")
        }
        if run.model != nil { problems.append("the spec loaded; an invalid fixture must not") }
        for k in [FixtureDirective.Kind.expectOutput, .expectParams, .expectShape] where !fixture.all(k).isEmpty {
            problems.append("'\(k.rawValue)' only applies to valid fixtures")
        }
        // A file named after an id is about that id.
        let ids = Set((fixture.all(.expect) + fixture.all(.expectCLI)).compactMap(\.id))
        let stem = String(name.dropLast(".yaml".count))
        if let named = DiagnosticID.allCases.filter({ stem == $0.rawValue || stem.hasPrefix($0.rawValue + "-") })
            .max(by: { $0.rawValue.count < $1.rawValue.count }), !ids.contains(named) {
            problems.append("the file is named after [\(named.rawValue)] but expects no such diagnostic")
        }
        // The in-memory entry point must agree with the file one.
        let (bytesModel, bytesDiagnostics) = SpecLoader.load(bytes: fixture.bytes, request: run.request)
        if bytesModel != nil || diagnosticDigest(bytesDiagnostics) != diagnosticDigest(run.diagnostics) {
            problems.append("SpecLoader.load(bytes:) disagrees with loading the file:\n"
                            + DiagnosticRenderer(color: false).render(bytesDiagnostics))
        }
        for p in problems {
            Issue.record("Fixtures/invalid/\(name): \(p)\n\nall diagnostics:\n\(run.rendered)")
        }
    }

    @Test("valid fixture loads with the shapes and counts worked out by hand", arguments: valid)
    func validFixture(_ name: String) throws {
        let fixture = try FixtureFile(folder: "valid", name: name)
        let run = FixtureRun(fixture)
        var problems = fixture.problems + run.problems
        for k in [FixtureDirective.Kind.expect, .expectNote, .expectCLI, .expectCLINote] where !fixture.all(k).isEmpty {
            problems.append("'\(k.rawValue)' only applies to invalid fixtures")
        }
        if !run.diagnostics.isEmpty { problems.append("a valid fixture must load without diagnostics") }
        guard let model = run.model else {
            Issue.record("Fixtures/valid/\(name): the spec does not load\n\n\(run.rendered)")
            return
        }
        let graph = model.graph
        do {
            try graph.validate()
        } catch {
            problems.append("graph.validate() fails: \(error.message)")
        }
        let outputs = fixture.all(.expectOutput)
        if outputs.count != 1 { problems.append("a valid fixture needs exactly one '# expect-output: [...]'") }
        for d in outputs {
            if let shape = parseShape(d.text) {
                if graph.outputShape.dims != shape { problems.append("output is \(graph.outputShape); expected \(d.text)") }
            } else {
                problems.append("line \(d.writtenOn): expect-output needs a shape like [C, H, W]; found '\(d.text)'")
            }
        }
        for d in fixture.all(.expectParams) {
            let params = GraphStatistics(graph).params
            if Int(d.text) != params { problems.append("trainable params are \(params); expected \(d.text)") }
        }
        for d in fixture.all(.expectShape) {
            guard let shape = parseShape(d.text) else {
                problems.append("line \(d.writtenOn): expect-shape needs a shape like [C, H, W]; found '\(d.text)'")
                continue
            }
            func onLine(_ r: SourceRange?) -> Bool { r?.file.path == fixture.path && r?.start.line == d.line }
            guard let node = graph.nodes.dropFirst().last(where: { n in onLine(n.source) || n.notes.contains { onLine($0.range) } }) else {
                problems.append("line \(d.line): no layer was lowered from this line")
                continue
            }
            if node.shape.dims != shape {
                problems.append("line \(d.line): '\(node.name)' produces \(node.shape); expected \(d.text)")
            }
        }
        for p in problems {
            Issue.record("Fixtures/valid/\(name): \(p)\n\nall diagnostics:\n\(run.rendered)")
        }
    }

    @Test("every diagnostic id has a fixture that expects it")
    func everyIDIsCovered() throws {
        var covered: [DiagnosticID: [String]] = [:]
        for name in Self.invalid {
            let fixture = try FixtureFile(folder: "invalid", name: name)
            for d in fixture.all(.expect) + fixture.all(.expectCLI) {
                if let id = d.id { covered[id, default: []].append(name) }
            }
        }
        for id in DiagnosticID.allCases where covered[id] == nil && !SpecFixtures.dedicatedIDs.contains(id) {
            Issue.record("no fixture expects [\(id.rawValue)] (\(id.summary)); add Tests/SpecTests/Fixtures/invalid/\(id.rawValue).yaml")
        }
        // The dedicated ones must stay dedicated: if a fixture can trigger them, drop them from the list.
        for id in SpecFixtures.dedicatedIDs {
            #expect(covered[id] == nil, "[\(id.rawValue)] now has fixtures \(covered[id] ?? []); remove it from SpecFixtures.dedicatedIDs")
        }
    }

    @Test("directive scanner")
    func scanner() {
        let two = FixtureFile.scan("  - {add: [a, b]}   # expect: error [shape-mismatch] found [1] # expect-note: 'a' produces")
        #expect(two.map(\.head) == ["expect", "expect-note"])
        #expect(two.map(\.body) == ["error [shape-mismatch] found [1]", "'a' produces"])
        #expect(FixtureFile.scan("# expect-at 12: error [yaml-syntax] x").map(\.head) == ["expect-at 12"])
        #expect(FixtureFile.scan("# expects: typo").map(\.head) == ["expects"])
        #expect(FixtureFile.scan("# the expected value: 3").isEmpty)
        #expect(FixtureFile.scan("  - {conv2d: 16}   # a comment: with a colon").isEmpty)
        #expect(parseShape("[16, 32, 32]") == [16, 32, 32])
        #expect(parseShape("[10]") == [10])
        #expect(parseShape("16, 32") == nil)
    }
}
