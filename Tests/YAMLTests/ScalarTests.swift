import Diagnostics
import Testing
import YAML

@Suite struct ScalarTests {
    /// Only untagged plain scalars are typed; quoting, block style or any tag keeps a string.
    @Test(arguments: [
        ("a: 64", true, nil),
        ("a: \"64\"", false, nil),
        ("a: '64'", false, nil),
        ("a: |\n  64\n", false, nil),
        ("a: !!str 64", false, "tag:yaml.org,2002:str"),
        ("a: ! 64", false, "!"),
        ("a: !custom 64", false, "!custom"),
    ] as [(String, Bool, String?)])
    func plainOnlyWithoutQuotesOrTag(text: String, plain: Bool, tag: String?) throws {
        let (root, diagnostics) = parse(text)
        #expect(diagnostics.isEmpty)
        let a = try #require(root?["a"])
        guard case .scalar(let value, let isPlain) = a.content else {
            Issue.record("expected a scalar, found \(a.kindDescription)")
            return
        }
        #expect(value.hasPrefix("64"))
        #expect(isPlain == plain)
        #expect(a.tag == tag)
        #expect(a.kindDescription == (plain ? "an integer" : "a string"))
    }

    @Test(arguments: [
        ("64", YAMLScalar.int(64)),
        ("-3", .int(-3)),
        ("+5", .int(5)),
        ("0", .int(0)),
        ("0x1F", .int(31)),
        ("0o17", .int(15)),
        ("9223372036854775807", .int(.max)),
        ("9223372036854775808", .string("9223372036854775808")),
        ("0x", .string("0x")),
        ("0xG", .string("0xG")),
        ("1.5", .float(1.5)),
        ("-0.25", .float(-0.25)),
        (".5", .float(0.5)),
        ("1e3", .float(1000)),
        ("2.5E-1", .float(0.25)),
        (".inf", .float(.infinity)),
        ("-.Inf", .float(-.infinity)),
        ("1e", .string("1e")),
        ("1.2.3", .string("1.2.3")),
        ("true", .bool(true)),
        ("False", .bool(false)),
        ("yes", .string("yes")),
        ("null", .null),
        ("~", .null),
        ("", .null),
        ("relu", .string("relu")),
        ("1_000", .string("1_000")),
    ])
    func resolveCoreSchema(text: String, expected: YAMLScalar) {
        #expect(YAMLScalar.resolve(text) == expected)
    }

    @Test func nanResolvesToFloat() {
        guard case .float(let v) = YAMLScalar.resolve(".nan") else {
            Issue.record("expected a float")
            return
        }
        #expect(v.isNaN)
    }

    @Test(arguments: [("99999999999999999999", true), ("-9223372036854775809", true),
                      ("123", false), ("1.5", false), ("abc", false)])
    func overflowingIntegers(text: String, overflows: Bool) {
        #expect(YAMLScalar.isOverflowingInteger(text) == overflows)
    }

    @Test func kindDescriptions() throws {
        let root = try #require(parse("i: 3\nf: 1.5\nb: true\nn: ~\ns: relu\nl: [1]\nm: {a: 1}\n").root)
        let kinds = root.mapping?.map(\.value.kindDescription)
        #expect(kinds == ["an integer", "a number", "a boolean", "null", "a string", "a list", "a mapping"])
    }

    @Test func emptyValueIsPlainNull() throws {
        let root = try #require(parse("a:\nb: 1\n").root)
        #expect(root["a"]?.scalar == "")
        #expect(root["a"]?.kindDescription == "null")
    }

    @Test func expandedSizeCountsKeysAndValues() throws {
        let root = try #require(parse("a: [1, 2]\nb: {c: 3}\n").root)
        // root + (key a + list + 2) + (key b + map + key c + 3)
        #expect(root.expandedSize == 1 + 4 + 4)
    }
}
