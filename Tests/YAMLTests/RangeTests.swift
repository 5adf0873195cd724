import Diagnostics
import Testing
import YAML

@Suite struct RangeTests {
    static let nested = """
        a:
          b: 1   # c
          c: [x, "y"]

        # trailing
        d: ééz

        """

    @Test func blockMappingRangesEndAtTheirLastValueNotAtTheNextToken() throws {
        let (root, diagnostics) = parse(Self.nested)
        #expect(diagnostics.isEmpty)
        let r = try #require(root)
        #expect(span(r.range) == "1:1-6:7")
        let pairs = try #require(r.mapping)
        #expect(pairs.map(\.key) == ["a", "d"])
        #expect(span(pairs[0].keyRange) == "1:1-1:2")
        #expect(span(pairs[1].keyRange) == "6:1-6:2")
        // Columns count characters: "ééz" is 3 columns wide.
        #expect(span(pairs[1].value.range) == "6:4-6:7")
        let a = try #require(r["a"])
        #expect(span(a.range) == "2:3-3:14")
    }

    @Test func flowAndScalarRanges() throws {
        let a = try #require(parse(Self.nested).root?["a"])
        let pairs = try #require(a.mapping)
        #expect(span(pairs[0].keyRange) == "2:3-2:4")
        #expect(span(pairs[0].value.range) == "2:6-2:7")
        let c = try #require(a["c"])
        #expect(span(c.range) == "3:6-3:14")
        let items = try #require(c.sequence)
        #expect(items.map { span($0.range) } == ["3:7-3:8", "3:10-3:13"])
    }

    @Test func blockSequenceRanges() throws {
        let root = try #require(parse("layers:\n  - conv\n  - {relu: true}\n\n# end\n").root)
        let layers = try #require(root["layers"])
        #expect(span(layers.range) == "2:3-3:17")
        #expect(layers.sequence?.map { span($0.range) } == ["2:5-2:9", "3:5-3:17"])
        let flow = try #require(layers.sequence?.last?.mapping?.first)
        #expect(span(flow.keyRange) == "3:6-3:10")
        #expect(span(flow.value.range) == "3:12-3:16")
    }

    @Test func anchoredCollectionStartsAtItsAnchor() throws {
        let root = try #require(parse("a: &m\n  b: 1\n").root)
        #expect(span(root["a"]?.range) == "1:4-2:7")
    }

    @Test(arguments: [
        ("crlf", "a: 1\r\nbb: [x]\r\n"),
        ("bom", "\u{FEFF}a: 1\nbb: [x]\n"),
        ("lf", "a: 1\nbb: [x]\n"),
    ])
    func lineEndingsAndByteOrderMarkDoNotShiftPositions(name: String, text: String) throws {
        let root = try #require(parse(text).root)
        let pairs = try #require(root.mapping)
        #expect(pairs.map { span($0.keyRange) } == ["1:1-1:2", "2:1-2:3"])
        #expect(span(root["bb"]?.range) == "2:5-2:8")
    }

    /// libyaml also breaks lines at a lone CR and at NEL/LS/PS; positions follow the `\n` lines
    /// that `SourceFile` shows instead, so carets stay under the right text.
    @Test func positionsFollowSourceFileLinesNotLibyamlLineBreaks() throws {
        let text = "a: 1\rb: x\u{2028}c: 3\nd: 4\n"
        let file = SourceFile(path: "t.yaml", text: text)
        let (root, diagnostics) = YAMLParser.parse(Array(text.utf8), file: file)
        #expect(diagnostics.isEmpty)
        let pairs = try #require(root?.mapping)
        #expect(pairs.map { span($0.keyRange) } == ["1:1-1:2", "1:6-1:7", "1:11-1:12", "2:1-2:2"])
        let line = try #require(file.line(1))
        let scalars = Array(line.unicodeScalars)
        #expect(scalars[10] == "c")
    }

    @Test func astralCharactersCountAsOneColumn() throws {
        let root = try #require(parse("k: \"🙂🙂\"\nz: [1]\nw: 🙂 x\n").root)
        #expect(span(root["k"]?.range) == "1:4-1:8")
        #expect(span(root["w"]?.range) == "3:4-3:7")
    }

    @Test func blockScalarRange() throws {
        let root = try #require(parse("doc: |\n  text\n  more\nnext: 1\n").root)
        #expect(root["doc"]?.scalar == "text\nmore\n")
        #expect(root["doc"]?.range.start == SourcePosition(line: 1, column: 6))
        #expect(span(root["next"]?.range) == "4:7-4:8")
    }
}
