import Diagnostics
import Testing
import YAML

@Suite struct ErrorTests {
    @Test func duplicateKeyReportsBothAndKeepsTheFirst() throws {
        let (root, diagnostics) = parse("kernel: 3\nstride: 1\nkernel: 5\n")
        #expect(ids(diagnostics) == [.yamlDuplicateKey])
        let d = try #require(diagnostics.first)
        #expect(d.message.hasPrefix("duplicate key 'kernel'"))
        #expect(span(d.range) == "3:1-3:7")
        #expect(d.notes.map(\.message) == ["'kernel' first defined here"])
        #expect(span(d.notes.first?.range) == "1:1-1:7")
        // The tree survives so that later stages can report more.
        #expect(root?["kernel"]?.scalar == "3")
        #expect(root?.mapping?.count == 2)
    }

    @Test func duplicateKeysInSeveralMappingsAreAllReported() {
        let (root, diagnostics) = parse("a: {x: 1, x: 2}\nb: {y: 1, y: 2, y: 3}\n")
        #expect(root != nil)
        #expect(ids(diagnostics) == [.yamlDuplicateKey, .yamlDuplicateKey, .yamlDuplicateKey])
    }

    @Test(arguments: [("[1, 2]: x\n", "a list", "1:1-1:7"), ("? {a: 1}\n: x\n", "a mapping", "1:3-1:9")])
    func complexKey(text: String, found: String, range: String) {
        let (root, diagnostics) = parse(text)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlComplexKey])
        #expect(diagnostics.first?.message == "expected a scalar as mapping key, found \(found)")
        #expect(span(diagnostics.first?.range) == range)
    }

    @Test func multipleDocuments() {
        let (root, diagnostics) = parse("a: 1\n---\nb: 2\n")
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlMultipleDocuments])
        #expect(diagnostics.first?.range?.start == SourcePosition(line: 2, column: 1))
    }

    @Test func explicitStartOfTheOnlyDocumentIsFine() throws {
        let root = try #require(parse("---\na: 1\n...\n").root)
        #expect(root["a"]?.scalar == "1")
    }

    @Test(arguments: [("", "an empty file"), ("\n  \n\n", "an empty file"),
                      ("# only\n  # comments\n", "only comments")])
    func emptyFile(text: String, found: String) {
        let (root, diagnostics) = parse(text)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlEmpty])
        #expect(diagnostics.first?.message == "expected a YAML document, found \(found)")
        #expect(diagnostics.first?.range?.start == SourcePosition(line: 1, column: 1))
    }

    @Test(arguments: [
        (Array("a:\n\tb: 1\n".utf8), "2:1", "found character that cannot start any token while scanning for the next token"),
        (Array("a: [1, 2\nb: 3\n".utf8), "2:2", "did not find expected ',' or ']' while parsing a flow sequence"),
        (Array("a: 1\n b: 2\n".utf8), "2:3", "mapping values are not allowed in this context"),
        (Array("a: 'open\n".utf8), "2:1", "found unexpected end of stream while scanning a quoted scalar"),
        (Array("a: 1\nb: é".utf8) + [0xFF, 0x0A], "2:5", "invalid leading utf-8 octet (byte 0xff)"),
        (Array("a: 1\nb: x".utf8) + [0x00, 0x0A], "2:5", "control characters are not allowed (found U+0000)"),
        ([0xEF, 0xBB, 0xBF] + Array("k: ".utf8) + [0xC3], "1:4", "incomplete utf-8 octet sequence"),
    ])
    func syntaxErrors(bytes: [UInt8], at position: String, message: String) throws {
        let (root, diagnostics) = parse(bytes: bytes)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlSyntax])
        let d = try #require(diagnostics.first)
        #expect(d.range?.start.description == position)
        #expect(d.message == message)
        #expect(d.message == d.message.lowercased() || d.message.contains("U+"))
    }

    @Test func syntaxErrorNoteAtContext() throws {
        let d = try #require(parse("a: [1, 2\nb: 3\n").diagnostics.first)
        #expect(d.notes.map(\.message) == ["the flow sequence starts here"])
        #expect(d.notes.first?.range?.start.description == "1:4")
    }

    @Test func errorsBeforeASyntaxErrorAreKept() {
        let (root, diagnostics) = parse("a: 1\na: 2\nb: [\n")
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlDuplicateKey, .yamlSyntax])
    }

    @Test func renderingShowsLineAndCaret() throws {
        let (_, diagnostics) = parse("input: 3\nlayers:\n  - conv: 3\n   stride: 2\n", path: "Specs/net.yaml")
        let d = try #require(diagnostics.first)
        let lines = DiagnosticRenderer(color: false).render(d).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "Specs/net.yaml:4:4: error: did not find expected '-' indicator while parsing a block collection [yaml-syntax]")
        #expect(lines[1] == "   stride: 2")
        #expect(lines[2] == "   ^")
        #expect(lines[3] == "Specs/net.yaml:3:3: note: the block collection starts here")
        #expect(lines[4] == "  - conv: 3")
        #expect(lines[5] == "  ^")
    }

    @Test func renderingAfterMultiByteCharacters() throws {
        let (_, diagnostics) = parse("name: \"héllo wörld\"\n\tx: 1\n")
        let rendered = DiagnosticRenderer(color: false).render(try #require(diagnostics.first))
        #expect(rendered.hasPrefix("t.yaml:2:1: error: found character that cannot start any token while scanning for the next token [yaml-syntax]\n"))
        let d2 = try #require(parse("k: [é, ü\n").diagnostics.first)
        let lines = DiagnosticRenderer(color: false).render(d2).split(separator: "\n")
        #expect(lines[0].hasPrefix("t.yaml:2:1: error: did not find expected ',' or ']'"))
        #expect(lines.contains("t.yaml:1:4: note: the flow sequence starts here"))
        #expect(lines.last == "   ^")
    }
}
