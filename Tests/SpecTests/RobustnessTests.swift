import Diagnostics
import Foundation
import IR
import Spec
import Testing
import YAML

// Hostile and broken input through both entry points, `SpecLoader.load(_:)` (a path) and
// `SpecLoader.load(bytes:request:)`: every case must end in diagnostics, never a crash, a hang or
// huge memory, and quickly (under 2 s each in a debug build).

/// SplitMix64: tiny, seedable, and the same on every platform, so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// FNV-1a: a stable seed from a name (Swift's Hasher is randomized per process).
private func stableSeed(_ s: String) -> UInt64 {
    s.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
}

private typealias LoadResult = (model: LoadedModel?, diagnostics: [Diagnostic])

private let timeLimit = Duration.seconds(2)

/// Runs one load, checking that it finishes within `timeLimit`.
private func timed(_ label: String, _ load: () -> LoadResult) -> LoadResult {
    var result: LoadResult = (nil, [])
    let elapsed = ContinuousClock().measure { result = load() }
    #expect(elapsed < timeLimit, "\(label) took \(elapsed)")
    return result
}

private func load(text: String, path: String = "hostile.yaml", sets: [String] = [], limits: YAMLLimits = YAMLLimits()) -> LoadResult {
    SpecLoader.load(bytes: Array(text.utf8), request: SpecRequest(path: path, sets: sets.map { ($0, nil) }), limits: limits)
}

/// Checks that a load failed with an error `id` whose message contains `text`.
private func expectFailure(_ result: LoadResult, _ id: DiagnosticID, _ text: String = "", _ label: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let rendered = DiagnosticRenderer(color: false).render(result.diagnostics)
    #expect(result.model == nil, "\(label): loaded", sourceLocation: sourceLocation)
    #expect(result.diagnostics.contains { $0.id == id && $0.severity == .error && (text.isEmpty || $0.message.contains(text)) },
            "\(label): expected [\(id.rawValue)] '\(text)'; got\n\(rendered)", sourceLocation: sourceLocation)
}

/// A scratch directory, removed by the caller.
private func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("spectests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private let smallSpec = """
    name: small
    input: {channels: 3, height: 32, width: 32}
    layers:
      - {conv2d: 8, kernel: 3, padding: 1}
      - relu
      - global_avg_pool
      - flatten
      - {linear: 10}

    """

@Suite("Robustness")
struct RobustnessTests {
    // MARK: Files

    @Test("a missing file is file-unreadable")
    func missingFile() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nope.yaml").path
        let result = timed("missing file") { SpecLoader.load(SpecRequest(path: path)) }
        expectFailure(result, .fileUnreadable, "no such file or directory", "missing file")
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.message.contains(path) == true)
    }

    @Test("a directory is file-unreadable")
    func directory() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = timed("directory") { SpecLoader.load(SpecRequest(path: dir.path)) }
        expectFailure(result, .fileUnreadable, "is a directory", "directory")
    }

    @Test("an empty file is yaml-empty")
    func emptyFile() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("empty.yaml").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        expectFailure(timed("empty file") { SpecLoader.load(SpecRequest(path: path)) }, .yamlEmpty, "an empty file", "empty file")
        expectFailure(timed("empty bytes") { SpecLoader.load(bytes: [], request: SpecRequest(path: "empty.yaml")) },
                      .yamlEmpty, "an empty file", "empty bytes")
        expectFailure(timed("blank bytes") { load(text: "\n  \n\n") }, .yamlEmpty, "an empty file", "blank bytes")
    }

    @Test("a file over the size limit is file-too-large; one at the limit loads")
    func fileTooLarge() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.yaml").path
        let bytes = Array(smallSpec.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var limits = YAMLLimits()
        limits.maxFileBytes = bytes.count - 1
        expectFailure(timed("file over the limit") { SpecLoader.load(SpecRequest(path: path), limits: limits) },
                      .fileTooLarge, "too large", "file over the limit")
        expectFailure(timed("bytes over the limit") { SpecLoader.load(bytes: bytes, request: SpecRequest(path: path), limits: limits) },
                      .fileTooLarge, "", "bytes over the limit")
        limits.maxFileBytes = bytes.count
        let atLimit = SpecLoader.load(SpecRequest(path: path), limits: limits)
        #expect(atLimit.model != nil, "a file exactly at the limit must load:\n\(DiagnosticRenderer(color: false).render(atLimit.diagnostics))")
        #expect(SpecLoader.load(bytes: bytes, request: SpecRequest(path: path), limits: limits).model != nil)
        // A tiny limit on a large file: rejected from its size, not by reading it all.
        let large = dir.appendingPathComponent("large.yaml").path
        try Data(repeating: UInt8(ascii: "#"), count: 4 << 20).write(to: URL(fileURLWithPath: large))
        limits.maxFileBytes = 1024
        expectFailure(timed("4 MiB file, 1 KiB limit") { SpecLoader.load(SpecRequest(path: large), limits: limits) },
                      .fileTooLarge, "", "4 MiB file")
    }

    @Test("a byte-order mark is not part of the quoted text, from a file or from bytes")
    func byteOrderMark() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bom.yaml").path
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("input: {channels: \"$(1 // 0)\", height: 8, width: 8}\nlayers: [relu]\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for result in [SpecLoader.load(SpecRequest(path: path)), SpecLoader.load(bytes: bytes, request: SpecRequest(path: path))] {
            expectFailure(result, .expressionError, "division by zero", "BOM")
            let range = try #require(result.diagnostics.first?.range)
            #expect(range.file.line(1)?.hasPrefix("input:") == true)
            #expect(range.start.line == 1 && range.start.column == 24, "the caret is on '//': \(range.start)")
        }
    }

    // MARK: Garbage

    @Test("binary garbage ends in diagnostics")
    func binaryGarbage() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for n in 0..<300 {
            var bytes = (0..<Int.random(in: 1...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Make sure each case has a NUL byte and an invalid UTF-8 byte, somewhere.
            bytes.insert(0, at: Int.random(in: 0...bytes.count, using: &rng))
            bytes.insert([0xFF, 0xC0, 0x80, 0xFE][n % 4], at: Int.random(in: 0...bytes.count, using: &rng))
            // Some cases start like a spec, so that the garbage is not all rejected at byte 1.
            if n % 3 == 0 { bytes = Array("input: {channels: 3, height: 8, width: 8}\nlayers:\n  - ".utf8) + bytes }
            let label = "garbage case \(n)"
            let result: LoadResult
            if n % 10 == 0 {
                let path = dir.appendingPathComponent("garbage-\(n).yaml").path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                result = timed(label) { SpecLoader.load(SpecRequest(path: path)) }
            } else {
                result = timed(label) { SpecLoader.load(bytes: bytes, request: SpecRequest(path: "garbage.yaml")) }
            }
            #expect(result.model == nil, "\(label) loaded")
            #expect(result.diagnostics.contains { $0.severity == .error }, "\(label): no error")
            _ = DiagnosticRenderer(color: true).render(result.diagnostics)   // rendering must not trap either
        }
    }

    // MARK: YAML bombs

    /// `l1: &l1 [x × 9]`, `l2: &l2 [*l1 × 9]`, ... `l9`: 9^9 = 387,420,489 nodes expanded.
    private static func laughs(_ leaf: String) -> String {
        var text = "params:\n  l1: &l1 [\(Array(repeating: leaf, count: 9).joined(separator: ", "))]\n"
        for i in 2...9 {
            text += "  l\(i): &l\(i) [\(Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", "))]\n"
        }
        return text + "input: {channels: 3, height: 8, width: 8}\n"
    }

    @Test("alias bombs are yaml-too-large, as a layer list and as a value")
    func aliasBombs() {
        expectFailure(timed("bomb as layers") { load(text: Self.laughs("relu") + "layers: *l9\n") },
                      .yamlTooLarge, "", "bomb as layers")
        expectFailure(timed("bomb as a value") { load(text: Self.laughs("3") + "layers:\n  - {conv2d: 8, kernel: *l9}\n") },
                      .yamlTooLarge, "", "bomb as a value")
        // Mappings instead of lists.
        var text = "m1: &m1 {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1}\n"
        for i in 2...9 {
            text += "m\(i): &m\(i) {" + (0..<9).map { "k\($0): *m\(i - 1)" }.joined(separator: ", ") + "}\n"
        }
        expectFailure(timed("mapping bomb") { load(text: text + "input: *m9\nlayers: [relu]\n") }, .yamlTooLarge, "", "mapping bomb")
        // A bomb under the limit (59,049 nodes), used once as a value: the spec error, not a hang.
        let small = Self.laughs("3").split(separator: "\n").filter { line in !(6...9).contains { line.contains("l\($0):") } }
            .joined(separator: "\n")
        expectFailure(timed("59k-node value") { load(text: small + "\nlayers:\n  - {conv2d: 8, kernel: *l5}\n") },
                      .typeMismatch, "'kernel' of conv2d expects an integer or [height, width]", "59k-node value")
    }

    @Test("deep nesting is yaml-too-deep")
    func deepNesting() {
        let n = 100_000
        expectFailure(timed("100,000 [") { load(text: "layers: " + String(repeating: "[", count: n)) },
                      .yamlTooDeep, "", "100,000 [")
        expectFailure(timed("100,000 balanced []") {
            load(text: "input: " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + "\nlayers: [relu]\n")
        }, .yamlTooDeep, "", "balanced")
        expectFailure(timed("100,000 {a:") { load(text: "x: " + String(repeating: "{a: ", count: n)) }, .yamlTooDeep, "", "{a:")
        expectFailure(timed("block nesting") {
            load(text: "input: {channels: 3, height: 8, width: 8}\nlayers:\n" + (0..<300).map { String(repeating: " ", count: $0) + "- " }.joined(separator: "\n") + "relu\n")
        }, .yamlTooDeep, "", "block nesting")
    }

    // MARK: Numbers

    @Test("huge numbers end in diagnostics", arguments: [
        ("kernel: 1e308", DiagnosticID.typeMismatch, "expects an integer or [height, width]"),
        ("kernel: .inf", .typeMismatch, ""),
        ("out: 99999999999999999999", .valueOutOfRange, "does not fit in 64 bits"),
        ("out: -99999999999999999999", .valueOutOfRange, "does not fit in 64 bits"),
        ("out: 9223372036854775807", .invalidSize, "more than"),
        ("repeat: 1000000000", .valueOutOfRange, "'repeat' must be between 0 and 10000"),
        ("padding: 9223372036854775807", .invalidSize, "padding 9223372036854775807 is too large"),
        ("padding: [0, 0, 0, 9223372036854775807]", .invalidSize, "too large"),
        ("dilation: 4611686018427387904", .invalidSize, "window size overflows"),
        ("dilation: 4611686018427387904, padding: same", .invalidSize, "window size overflows"),
        ("kernel: -9223372036854775808", .invalidSize, "kernel must be positive"),
        ("kernel: [2147483648, 2147483648], padding: 1073741824", .invalidSize, "weight"),
        ("groups: 9223372036854775807", .groupsMismatch, ""),
    ])
    func hugeNumbers(_ args: String, _ id: DiagnosticID, _ text: String) {
        for kind in ["conv2d", "conv_bn_act"] {
            var item = "{\(kind): 8, kernel: 3, \(args)}"
            if args.hasPrefix("out:") { item = "{\(kind): {kernel: 3, \(args)}}" }
            if args.hasPrefix("kernel:") { item = "{\(kind): 8, \(args)}" }
            if args.hasPrefix("repeat:") { item = "{\(kind): 8, kernel: 3, \(args)}" }
            let spec = "input: {channels: 4, height: 8, width: 8}\nlayers:\n  - \(item)\n"
            expectFailure(timed(item) { load(text: spec) }, id, text, item)
        }
    }

    @Test("huge strides and pooling numbers never trap")
    func hugeButPossiblyValid() {
        var items = ["{conv2d: 8, kernel: 3, stride: 9223372036854775807}", "{conv_bn_act: 8, kernel: 3, stride: [1, 9223372036854775807]}",
                     "{adaptive_avg_pool2d: [9223372036854775807, 1]}", "{linear: 2147483648, from: f}", "{linear: 9223372036854775807, from: f}"]
        for kind in ["max_pool2d", "avg_pool2d"] {
            for args in ["kernel: 9223372036854775807", "stride: 9223372036854775807, ceil_mode: true",
                         "kernel: 3, padding: 9223372036854775807", "kernel: -9223372036854775808",
                         "kernel: 3, stride: 4611686018427387904, ceil_mode: true, padding: 1"] {
                items.append(args.hasPrefix("kernel") ? "{\(kind): {\(args)}}" : "{\(kind): 2, \(args)}")
            }
        }
        for var item in items {
            if !item.contains("from:") { item = String(item.dropLast()) + ", from: input}" }
            let result = timed(item) { load(text: "input: {channels: 4, height: 8, width: 8}\nlayers:\n  - {flatten, name: f}\n  - \(item)\n") }
            // Some of these are fine in PyTorch (a huge stride gives one window); none may trap.
            if let graph = result.model?.graph {
                _ = GraphStatistics(graph)
            } else {
                #expect(result.diagnostics.contains { $0.severity == .error }, "\(item): failed without an error")
            }
        }
    }

    // MARK: Expressions

    @Test("expression overflow and deep expressions end in diagnostics")
    func expressions() {
        func layer(_ expr: String) -> String { "input: {channels: 3, height: 8, width: 8}\nlayers:\n  - {conv2d: \"\(expr)\", kernel: 1}\n" }
        expectFailure(timed("2 ** 100") { load(text: layer("$(2 ** 100)")) }, .expressionError, "integer overflow in 2 ** 100", "2 ** 100")
        expectFailure(timed("2.0 ** 10000") { load(text: layer("$(int(2.0 ** 10000))")) }, .expressionError, "not a finite number", "2.0 ** 10000")
        expectFailure(timed("min - 1") { load(text: layer("$(-9223372036854775807 - 2)")) }, .expressionError, "integer overflow", "min - 1")
        expectFailure(timed("abs(min)") { load(text: layer("$(abs(-9223372036854775807 - 1))")) }, .typeMismatch, "", "abs(min)")
        expectFailure(timed("min // -1") { load(text: layer("$((-9223372036854775807 - 1) // -1)")) }, .expressionError, "integer overflow", "min // -1")
        expectFailure(timed("int(1e300)") { load(text: layer("$(int(1e300))")) }, .expressionError, "does not fit in an integer", "int(1e300)")
        let n = 10_000
        expectFailure(timed("10,000 parentheses") { load(text: layer("$(" + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + ")")) },
                      .expressionSyntax, "nests deeper than", "parentheses")
        expectFailure(timed("10,000 brackets") { load(text: layer("$(" + String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n) + ")")) },
                      .expressionSyntax, "nests deeper than", "brackets")
        expectFailure(timed("10,000 minus signs") { load(text: layer("$(" + String(repeating: "- ", count: n) + "1)")) },
                      .expressionSyntax, "nests deeper than", "minus signs")
        expectFailure(timed("10,000 nots") { load(text: layer("$(" + String(repeating: "not ", count: n) + "true)")) },
                      .expressionSyntax, "nests deeper than", "nots")
        expectFailure(timed("100,000 additions") { load(text: layer("$(" + Array(repeating: "1", count: 100_000).joined(separator: " + ") + ")")) },
                      .expressionSyntax, "operators", "additions")
        expectFailure(timed("10,000 indexings") { load(text: layer("$([1]" + String(repeating: "[0]", count: n) + ")")) },
                      .expressionSyntax, "operators", "indexings")
    }

    @Test("expressions cannot build huge or deep values")
    func expressionValues() {
        // A list doubled in every parameter.
        var doubling = "params:\n  p0: [1, 1]\n"
        for i in 1...40 { doubling += "  p\(i): $(p\(i - 1) + p\(i - 1))\n" }
        expectFailure(timed("list doubling") { load(text: doubling + "input: {channels: 3, height: 8, width: 8}\nlayers:\n  - {conv2d: $(len(p40)), kernel: 1}\n") },
                      .expressionError, "list items", "list doubling")
        // The same with strings, and with list literals (shared, but exponential to walk).
        var strings = "params:\n  s0: abcdefgh\n"
        for i in 1...40 { strings += "  s\(i): $(s\(i - 1) + s\(i - 1))\n" }
        expectFailure(timed("string doubling") { load(text: strings + "input: {channels: 3, height: 8, width: 8}\nlayers: [{activation: $s40}]\n") },
                      .expressionError, "string bytes", "string doubling")
        var dag = "params:\n  a0: [1]\n  b0: [1]\n"
        for i in 1...70 { dag += "  a\(i): \"$([a\(i - 1), a\(i - 1)])\"\n  b\(i): \"$([b\(i - 1), b\(i - 1)])\"\n" }
        expectFailure(timed("shared lists compared") { load(text: dag + "  same: $(a70 == b70)\ninput: {channels: 3, height: 8, width: 8}\nlayers: [relu]\n") },
                      .expressionError, "list items", "shared lists")
        // A list nested one level deeper in each of 1,000 parameters.
        var deep = "params:\n  p0: 1\n"
        for i in 1...1000 { deep += "  p\(i): \"$([p\(i - 1)])\"\n" }
        let deepResult = timed("deep list") { load(text: deep + "input: {channels: 3, height: 8, width: 8}\nlayers: [relu]\n") }
        expectFailure(deepResult, .expressionError, "nest deeper than 128", "deep list")
        #expect(deepResult.diagnostics.count == 1, "one error, no cascade:\n\(DiagnosticRenderer(color: false).render(deepResult.diagnostics))")
    }

    // MARK: Elaboration

    @Test("blocks that instantiate each other exponentially are model-too-large", arguments: ["[relu]", "[]", "[{relu, if: false}]", "[{relu, repeat: 0}]"])
    func exponentialBlocks(_ leaf: String) {
        var text = "input: {channels: 3, height: 8, width: 8}\nblocks:\n"
        for i in 0..<12 { text += "  b\(i): {layers: [b\(i + 1), b\(i + 1), b\(i + 1), b\(i + 1)]}\n" }
        text += "  b12: {layers: \(leaf)}\nlayers: [b0]\n"
        let result = timed("4^12 blocks, leaf \(leaf)") { load(text: text) }
        expectFailure(result, .modelTooLarge, "", "4^12 blocks, leaf \(leaf)")
        #expect(result.diagnostics.count == 1)
    }

    @Test("repeat counts multiply into model-too-large")
    func nestedRepeats() {
        let text = """
            input: {channels: 3, height: 8, width: 8}
            layers:
              - sequential:
                  - sequential: [{relu, repeat: 10000}]
                    repeat: 10000
                repeat: 10000

            """
        expectFailure(timed("10^12 relus") { load(text: text) }, .modelTooLarge, "", "nested repeats")
    }

    @Test("a width multiplier that makes channels 0 or negative is invalid-size", arguments: ["0", "0.01", "-1", "-0.5"])
    func widthMultiplier(_ width: String) {
        let text = """
            params:
              width: 1.0
            input: {channels: 3, height: 32, width: 32}
            layers:
              - {conv2d: $(int(32 * width)), kernel: 3, padding: 1}
              - {conv_bn_act: $(round(64 * width)), kernel: 3}
              - global_avg_pool
              - flatten
              - {linear: $(int(10 * width))}

            """
        let result = timed("width \(width)") { load(text: text, sets: ["width=\(width)"]) }
        expectFailure(result, .invalidSize, "positive number of output channels", "width \(width)")
        // The first layer fails; the ones after it are poisoned, not reported again.
        #expect(result.diagnostics.count == 1, "\(DiagnosticRenderer(color: false).render(result.diagnostics))")
        #expect(result.diagnostics.first?.notes.contains { $0.message.contains("set on the command line") } == true)
    }

    // MARK: Mutations of the zoo

    static let zoo: [String] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { dir.appendingPathComponent($0).path }
    }()

    @Test("the zoo is found")
    func zooIsFound() {
        #expect(Self.zoo.count >= 8, "Specs/*.yaml: \(Self.zoo)")
    }

    /// Fragments that make the YAML or the spec interesting when inserted or substituted.
    private static let fragments: [String] = [
        "[", "]", "{", "}", ":", ",", "-", "#", "&a", "*a", "!", "|", ">", "'", "\"", "%", "@", "`", "\t", "\n", " ",
        "? ", "<<: ", "---\n", "...\n", "\u{0}", "\u{FEFF}", "é", "0", "-1", "99999999999999999999", "1e308", ".nan",
        "$(", ")", "$in", "$(2 ** 62)", "$(1 // 0)", "null", "~", "true", "[]", "{}", "relu", "conv2d", "block",
        "name: x", "from: input", "repeat: 3", "if: false", "first: {stride: 2}",
    ]

    /// One random edit of a spec's bytes.
    private static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        func position() -> Int { Int.random(in: 0...bytes.count, using: &rng) }
        func lineRanges() -> [Range<Int>] {
            var ranges: [Range<Int>] = [], start = 0
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") { ranges.append(start..<i + 1); start = i + 1 }
            if start < bytes.count { ranges.append(start..<bytes.count) }
            return ranges
        }
        switch Int.random(in: 0..<9, using: &rng) {
        case 0 where !bytes.isEmpty:   // delete a few bytes
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
        case 1:   // insert random bytes
            bytes.insert(contentsOf: (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: position())
        case 2 where !bytes.isEmpty:   // replace a byte
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        case 3, 4:   // insert a fragment
            bytes.insert(contentsOf: Array(fragments.randomElement(using: &rng)!.utf8), at: position())
        case 5:   // duplicate a line
            let lines = lineRanges()
            if let line = lines.randomElement(using: &rng) { bytes.insert(contentsOf: bytes[line], at: line.upperBound) }
        case 6:   // swap two lines
            let lines = lineRanges()
            guard lines.count >= 2 else { return }
            var texts = lines.map { Array(bytes[$0]) }
            texts.swapAt(Int.random(in: 0..<texts.count, using: &rng), Int.random(in: 0..<texts.count, using: &rng))
            bytes = texts.flatMap { $0 }
        case 7:   // delete a line
            let lines = lineRanges()
            if let line = lines.randomElement(using: &rng) { bytes.removeSubrange(line) }
        default:   // replace a number with another
            let digits = bytes.indices.filter { bytes[$0] >= 48 && bytes[$0] <= 57 }
            guard let at = digits.randomElement(using: &rng) else { return }
            var end = at
            while end < bytes.count, bytes[end] >= 48 && bytes[end] <= 57 { end += 1 }
            let numbers = ["0", "1", "2", "7", "-3", "1000", "65536", "2147483648", "9223372036854775807", "0.5", "1e9"]
            bytes.replaceSubrange(at..<end, with: Array(numbers.randomElement(using: &rng)!.utf8))
        }
    }

    @Test("mutated zoo specs never crash; when they load, their graph validates", arguments: zoo)
    func mutationFuzz(_ path: String) throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let name = URL(fileURLWithPath: path).lastPathComponent
        var rng = SplitMix64(seed: stableSeed(name))
        var loaded = 0
        let cases = 150
        for n in 0..<cases {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { Self.mutate(&bytes, &rng) }
            let label = "\(name) mutation \(n)"
            let result = timed(label) { SpecLoader.load(bytes: bytes, request: SpecRequest(path: name)) }
            if let model = result.model {
                loaded += 1
                #expect(result.diagnostics.allSatisfy { $0.severity != .error }, "\(label): a model and errors")
                do {
                    try model.graph.validate()
                } catch {
                    Issue.record("\(label): loaded, but graph.validate() fails: \(error.message)")
                }
                _ = GraphStatistics(model.graph)   // the summary's arithmetic must not trap either
            } else {
                #expect(result.diagnostics.contains { $0.severity == .error }, "\(label): no model and no error")
            }
            // Every location is inside the text it quotes.
            let lineCount = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).count
            for d in result.diagnostics {
                for r in [d.range] + d.notes.map(\.range) {
                    guard let r, r.file.path == name else { continue }
                    #expect(r.start.line >= 1 && r.start.line <= lineCount && r.start.column >= 1,
                            "\(label): [\(d.id.rawValue)] at \(r.start) outside the \(lineCount) lines of the file")
                }
            }
            _ = DiagnosticRenderer(color: false).render(result.diagnostics)
        }
        // Some mutations (a changed number, a duplicated relu) leave a valid spec: those must be
        // exercised too, or the fuzzer only tests the YAML parser.
        #expect(loaded > 0, "\(name): none of \(cases) mutations loaded")
    }
}
