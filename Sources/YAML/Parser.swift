import CYAML
import Diagnostics

/// Limits that keep any input, however hostile, cheap to reject.
public struct YAMLLimits: Sendable {
    /// Larger files are rejected before they are read (`file-too-large`).
    public var maxFileBytes = 16 << 20
    /// Deepest nesting of lists and mappings (`yaml-too-deep`).
    public var maxDepth = 128
    /// Most nodes the document may stand for with every alias expanded (`yaml-too-large`).
    public var maxExpandedNodes = 1_000_000
    public init() {}
}

public enum YAMLParser {
    /// Reads `path` and parses it as one YAML document.
    /// Never traps: a missing file, a directory, binary garbage, an alias bomb or deep nesting
    /// all come back as diagnostics. Returns the source file too (for rendering), when read.
    public static func parseFile(atPath path: String, limits: YAMLLimits = YAMLLimits())
        -> (file: SourceFile?, root: YAMLNode?, diagnostics: [Diagnostic]) {
        switch FileReader.load(path: path, maxBytes: limits.maxFileBytes) {
        case .failure(let diagnostic):
            return (nil, nil, [diagnostic])
        case .success(let bytes):
            let file = sourceFile(path: path, bytes: bytes)
            let (root, diagnostics) = parse(bytes, file: file, limits: limits)
            return (file, root, diagnostics)
        }
    }

    /// The text of `bytes` for quoting in diagnostics. A leading byte-order mark is dropped:
    /// libyaml does not count it either, so columns on line 1 stay right.
    public static func sourceFile(path: String, bytes: [UInt8]) -> SourceFile {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let body = bytes.starts(with: bom) ? bytes.dropFirst(3) : bytes[...]
        return SourceFile(path: path, text: String(decoding: body, as: UTF8.self))
    }

    /// Parses `text` (already read) as one YAML document named `file.path` in diagnostics.
    /// `file` should hold `bytes` as text without a byte-order mark (see `sourceFile`).
    ///
    /// `root` is nil when an error leaves no trustworthy tree; after duplicate keys alone it is
    /// returned (first occurrence kept) so that later stages can report further errors.
    public static func parse(_ bytes: [UInt8], file: SourceFile, limits: YAMLLimits = YAMLLimits())
        -> (root: YAMLNode?, diagnostics: [Diagnostic]) {
        if bytes.count > limits.maxFileBytes {
            return (nil, [Diagnostic(.fileTooLarge,
                "'\(file.path)' is too large: expected at most \(formatBytes(max(0, limits.maxFileBytes))), found \(formatBytes(bytes.count))",
                at: nil)])
        }
        let map = SourceMap(bytes: bytes)
        var builder = TreeBuilder(file: file, limits: limits)
        var syntaxError: Diagnostic?
        bytes.withUnsafeBufferPointer { buffer in
            // libyaml asserts on a null input, which an empty array may give.
            withUnsafePointer(to: UInt8(0)) { empty in
                let reader = EventReader(input: buffer.baseAddress ?? empty, count: buffer.count, map: map, file: file)
                do throws(Diagnostic) {
                    while !builder.stopped { builder.consume(try reader.next()) }
                } catch {
                    syntaxError = error
                }
            }
        }
        var diagnostics = builder.diagnostics
        if let syntaxError {
            diagnostics.append(syntaxError)
        } else if !builder.sawDocument {
            diagnostics.append(emptyDiagnostic(bytes, file: file))
        }
        let failed = builder.failed || syntaxError != nil || !builder.sawDocument
        return (failed ? nil : builder.root, diagnostics)
    }

    /// `yaml-empty`, at 1:1 so that the message names the file.
    private static func emptyDiagnostic(_ bytes: [UInt8], file: SourceFile) -> Diagnostic {
        let blank = bytes.allSatisfy { [0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        let found = blank ? "an empty file" : (bytes.contains(UInt8(ascii: "#")) ? "only comments" : "no content")
        let start = SourcePosition(line: 1, column: 1)
        return Diagnostic(.yamlEmpty, "expected a YAML document, found \(found)",
                          at: SourceRange(file: file, start: start, end: start))
    }
}
