import Diagnostics
import Testing
import YAML

@Suite struct LimitTests {
    @Test(arguments: [(128, true), (129, false)])
    func depthLimit(depth: Int, accepted: Bool) {
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let (root, diagnostics) = parse(text)
        #expect((root != nil) == accepted)
        #expect(ids(diagnostics) == (accepted ? [] : [.yamlTooDeep]))
    }

    /// libyaml alone needs ~15 s (quadratic) to reject this; stopping at depth 129 takes ms.
    @Test func hundredThousandOpenBracketsStopEarly() throws {
        let clock = ContinuousClock()
        var result: (root: YAMLNode?, diagnostics: [Diagnostic])?
        let elapsed = clock.measure {
            result = parse(String(repeating: "[", count: 100_000))
        }
        let (root, diagnostics) = try #require(result)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlTooDeep])
        #expect(diagnostics.first?.range?.start == SourcePosition(line: 1, column: 129))
        #expect(elapsed < .seconds(1))
    }

    @Test func deepBlockNestingAndMappings() {
        let seq = String(repeating: "- ", count: 300) + "x\n"
        #expect(ids(parse(seq).diagnostics) == [.yamlTooDeep])
        let map = String(repeating: "{a: ", count: 300) + "1" + String(repeating: "}", count: 300)
        #expect(ids(parse(map).diagnostics) == [.yamlTooDeep])
    }

    @Test func customDepthLimit() {
        var limits = YAMLLimits()
        limits.maxDepth = 2
        #expect(parse("a: [1]\n", limits: limits).root != nil)
        #expect(ids(parse("a: [[1]]\n", limits: limits).diagnostics) == [.yamlTooDeep])
    }

    /// "Billion laughs": 10 levels of 10 aliases each would expand to 10^10 nodes.
    @Test func aliasBombFailsFast() throws {
        var text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            text += "l\(level): &l\(level) [\(refs)]\n"
        }
        let clock = ContinuousClock()
        var result: (root: YAMLNode?, diagnostics: [Diagnostic])?
        let elapsed = clock.measure { result = parse(text) }
        let (root, diagnostics) = try #require(result)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.yamlTooLarge])
        #expect(diagnostics.first?.message == "the document is too large: expected at most 1,000,000 nodes with aliases expanded, found more")
        // Level 4 is 111,111 nodes; the limit is crossed inside level 5's list (line 6).
        #expect(diagnostics.first?.range?.start.line == 6)
        #expect(elapsed < .milliseconds(500))
    }

    @Test func mergeKeysCountTowardsTheSizeLimit() {
        var limits = YAMLLimits()
        limits.maxExpandedNodes = 50
        let text = "a: &a {k1: 1, k2: 2, k3: 3, k4: 4, k5: 5}\nb: {<<: [*a, *a, *a, *a, *a, *a]}\n"
        #expect(ids(parse(text, limits: limits).diagnostics) == [.yamlTooLarge])
    }

    @Test(arguments: [(9, true), (10, false)])
    func expandedNodeLimitIsExact(items: Int, accepted: Bool) {
        var limits = YAMLLimits()
        limits.maxExpandedNodes = 10
        // A list of n scalars is n + 1 nodes.
        let text = "[" + Array(repeating: "x", count: items).joined(separator: ", ") + "]"
        let (root, diagnostics) = parse(text, limits: limits)
        #expect((root?.expandedSize == items + 1) == accepted)
        #expect(ids(diagnostics) == (accepted ? [] : [.yamlTooLarge]))
    }

    /// Random bytes, YAML-ish noise and mutated specs: never a trap, and always either a tree or
    /// an error with a position inside the file.
    @Test(arguments: 0..<4)
    func randomInputNeverTraps(seed: UInt64) {
        var rng = SeededGenerator(state: seed &* 0x1234_5678_9ABC)
        let alphabet = Array("[]{}:,-?&*!|>'\"#%@` \t\n\r\\abc019.<<~".utf8)
        let spec = Array("input: [3, 32, 32]\nlayers:\n  - conv: {out: 16, kernel: 3}\n  - &r relu\n  - *r\n  - {<<: {a: 1}, b: 2}\n".utf8)
        for i in 0..<100 {
            var bytes: [UInt8]
            switch i % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:
                bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in
                    Int.random(in: 0..<20, using: &rng) == 0 ? UInt8.random(in: 0...255, using: &rng)
                        : alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                }
            default:
                bytes = spec
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[at] = Int.random(in: 0..<2, using: &rng) == 0 ? UInt8.random(in: 0...255, using: &rng)
                        : alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                }
            }
            let file = YAMLParser.sourceFile(path: "fuzz.yaml", bytes: bytes)
            let (root, diagnostics) = YAMLParser.parse(bytes, file: file)
            #expect(root != nil || !diagnostics.isEmpty, "input \(bytes)")
            for d in diagnostics {
                #expect(d.id.rawValue.hasPrefix("yaml-"))
                if let range = d.range {
                    #expect(range.start.line >= 1 && range.start.line <= file.lines.count)
                    #expect(range.start.column >= 1)
                }
                _ = DiagnosticRenderer(color: false).render(d)
            }
        }
    }
}
