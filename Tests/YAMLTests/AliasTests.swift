import Diagnostics
import Testing
import YAML

@Suite struct AliasTests {
    @Test func aliasIsTheAnchoredNodeItself() throws {
        let (root, diagnostics) = parse("base: &b {kernel: 3}\nuse: *b\nname: &n relu\nact: *n\n")
        #expect(diagnostics.isEmpty)
        let r = try #require(root)
        let base = try #require(r["base"]), use = try #require(r["use"])
        #expect(base === use)
        let name = try #require(r["name"])
        #expect(name === r["act"])
        // The shared node keeps the range where it was written.
        #expect(span(use.range) == "1:7-1:21")
    }

    @Test func redefinedAnchorLatestWins() throws {
        let root = try #require(parse("a: &x 1\nb: *x\nc: &x 2\nd: *x\n").root)
        #expect(root["b"]?.scalar == "1")
        #expect(root["d"]?.scalar == "2")
    }

    @Test func anchorRedefinedInsideItsOwnCollection() throws {
        let root = try #require(parse("a: &x [&x 1, *x]\nb: *x\n").root)
        #expect(root["a"]?.sequence?.map(\.scalar) == ["1", "1"])
        #expect(root["b"]?.scalar == "1")
    }

    @Test func mergeKeyExplicitKeysOverride() throws {
        let text = "base: &b {kernel: 3, stride: 1, act: relu}\nconv: {stride: 2, <<: *b, act: gelu}\n"
        let (root, diagnostics) = parse(text)
        #expect(diagnostics.isEmpty)
        let conv = try #require(root?["conv"])
        #expect(conv.mapping?.map(\.key) == ["stride", "kernel", "act"])
        #expect(conv["stride"]?.scalar == "2")
        #expect(conv["kernel"]?.scalar == "3")
        #expect(conv["act"]?.scalar == "gelu")
        // A merged pair keeps the range of the mapping it came from.
        #expect(span(conv.mapping?[1].keyRange) == "1:11-1:17")
        #expect(conv["kernel"] === root?["base"]?["kernel"])
    }

    @Test func mergeListEarlierSourcesWin() throws {
        let text = """
            a: &a {x: 1, y: 1}
            b: &b {y: 2, z: 2}
            c:
              <<: [*a, *b]
              w: 0

            """
        let (root, diagnostics) = parse(text)
        #expect(diagnostics.isEmpty)
        let c = try #require(root?["c"])
        #expect(c.mapping?.map(\.key) == ["x", "y", "z", "w"])
        #expect(c.mapping?.map { $0.value.scalar } == ["1", "1", "2", "0"])
    }

    @Test func mergeOfInlineMapping() throws {
        let c = try #require(parse("c: {<<: {k: 1}, j: 2}\n").root?["c"])
        #expect(c.mapping?.map(\.key) == ["k", "j"])
    }

    @Test func quotedMergeKeyIsAnOrdinaryKey() throws {
        let root = try #require(parse("\"<<\": 5\n").root)
        #expect(root["<<"]?.scalar == "5")
    }

    @Test(arguments: ["a: &s 3\nb: {<<: *s}\n", "b: {<<: [{k: 1}, 2]}\n"])
    func mergeOfNonMappingIsAnError(text: String) {
        let (root, diagnostics) = parse(text)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlSyntax])
        #expect(diagnostics.first?.message.hasPrefix("expected a mapping or a list of mappings to merge after '<<', found") == true)
    }

    @Test func undefinedAlias() {
        let (root, diagnostics) = parse("a: 1\nb: *foo\n")
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlUndefinedAlias])
        #expect(diagnostics.first?.message == "alias '*foo' refers to no anchor defined before it")
        #expect(span(diagnostics.first?.range) == "2:4-2:8")
    }

    @Test func aliasBeforeItsAnchorIsUndefined() {
        let (root, diagnostics) = parse("a: *x\nb: &x 1\nc: *y\n")
        #expect(root == nil)
        // Every undefined alias is reported, not only the first.
        #expect(ids(diagnostics) == [.yamlUndefinedAlias, .yamlUndefinedAlias])
    }

    @Test func recursiveAliasIsRejected() {
        let (root, diagnostics) = parse("a: &x [1, *x]\n")
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlUndefinedAlias])
        #expect(diagnostics.first?.message.contains("refers to a collection that contains it") == true)
    }

    @Test func aliasAsKeyUsesTheScalar() throws {
        let root = try #require(parse("k: &name kernel\nm: {*name : 3}\n").root)
        #expect(root["m"]?["kernel"]?.scalar == "3")
        #expect(span(root["m"]?.mapping?.first?.keyRange) == "2:5-2:10")
    }
}
