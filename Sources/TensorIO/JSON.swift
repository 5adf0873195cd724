/// A small, strict, pull-style JSON reader for safetensors headers.
///
/// Why not `JSONSerialization`: it forgets the order of object keys (the safetensors tensor
/// order is the header order), silently accepts duplicate keys (a second entry for a tensor
/// name would shadow the first), turns large integers into inexact doubles (an extent of 2^63
/// must be reported, not rounded), cannot say *where* in the file a problem is, and builds a full
/// object tree: a hostile 100 MB header of `[0,0,0,…]` would cost gigabytes and many seconds.
///
/// This reader is driven by the caller, which asks for exactly the values it expects (an object,
/// a string, an array of numbers) and skips the rest without building anything. So the memory
/// used is proportional to what the caller keeps, the time is linear in the header size, nesting
/// depth is bounded (so hostile input cannot exhaust the stack), key order is preserved,
/// duplicate keys are rejected, integers are exact, and every error carries a byte offset.
final class JSONReader {
    enum Kind { case object, array, string, number, bool, null }

    static let maxDepth = 64

    private let bytes: [UInt8]
    private var pos: Int
    private let end: Int
    let path: String
    private var depth = 0

    /// Reads `bytes[range]`; offsets in errors are positions in `bytes` (callers pass the whole file).
    init(_ bytes: [UInt8], range: Range<Int>, path: String) {
        self.bytes = bytes
        self.pos = range.lowerBound
        self.end = range.upperBound
        self.path = path
    }

    /// Position of the next non-whitespace byte: where the next value starts.
    var offset: Int {
        skipWhitespace()
        return pos
    }

    func error(_ message: String, at offset: Int? = nil) -> TensorIOError {
        TensorIOError(path: path, offset: offset ?? pos, "invalid json header: " + message)
    }

    /// After the last value: only whitespace (safetensors pads with spaces) may remain.
    func finish() throws {
        skipWhitespace()
        if pos < end {
            throw error("expected end of json header after the top-level value, found \(describeCurrent())")
        }
    }

    /// The kind of the next value, without consuming it.
    func peek() throws -> Kind {
        skipWhitespace()
        guard pos < end else { throw error("expected a value, found end of header") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number
        default: throw error("expected a value, found \(describeCurrent())")
        }
    }

    /// Reads an object, calling `member(key, keyOffset)` for each member in order; `member` must
    /// consume the value (with one of the reading methods or `skipValue`). Duplicate keys throw,
    /// unless `checkDuplicates` is false because the caller checks them itself.
    func object(checkDuplicates: Bool = true, _ member: (String, Int) throws -> Void) throws {
        skipWhitespace()
        guard pos < end, bytes[pos] == UInt8(ascii: "{") else { throw error("expected an object, found \(describeCurrent())") }
        try enter()
        pos += 1
        var seen = Set<String>()
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return
        }
        while true {
            skipWhitespace()
            let keyOffset = pos
            guard pos < end, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key in object, found \(describeCurrent())")
            }
            let key = try string()
            guard !checkDuplicates || seen.insert(key).inserted else {
                throw error("expected unique keys in object, found \(JSONWriter.quote(key)) twice", at: keyOffset)
            }
            skipWhitespace()
            guard pos < end, bytes[pos] == UInt8(ascii: ":") else {
                throw error("expected ':' after object key, found \(describeCurrent())")
            }
            pos += 1
            try member(key, keyOffset)
            skipWhitespace()
            guard pos < end else { throw error("expected ',' or '}' in object, found end of header") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw error("expected ',' or '}' in object, found \(describeCurrent())")
        }
        depth -= 1
    }

    /// Reads an array, calling `element(index, offset)` for each element; `element` must consume it.
    func array(_ element: (Int, Int) throws -> Void) throws {
        skipWhitespace()
        guard pos < end, bytes[pos] == UInt8(ascii: "[") else { throw error("expected an array, found \(describeCurrent())") }
        try enter()
        pos += 1
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return
        }
        var index = 0
        while true {
            try element(index, offset)
            index += 1
            skipWhitespace()
            guard pos < end else { throw error("expected ',' or ']' in array, found end of header") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
            throw error("expected ',' or ']' in array, found \(describeCurrent())")
        }
        depth -= 1
    }

    /// Reads and validates any value without keeping it.
    func skipValue() throws {
        switch try peek() {
        case .object: try object { _, _ in try skipValue() }
        case .array: try array { _, _ in try skipValue() }
        case .string: _ = try string()
        case .number: _ = try scanNumber()
        case .bool: _ = try bool()
        case .null: try expect("null")
        }
    }

    /// Consumes the next value and describes it for a "found …" message.
    func summarizeValue() throws -> String {
        switch try peek() {
        case .object: try skipValue(); return "an object"
        case .array: try skipValue(); return "an array"
        case .string: return "the string \(JSONWriter.quote(String(try string().prefix(40))))"
        case .number: return "the number \(try number().text.prefix(40))"
        case .bool: return try bool() ? "true" : "false"
        case .null: try expect("null"); return "null"
        }
    }

    func bool() throws -> Bool {
        skipWhitespace()
        if pos < end, bytes[pos] == UInt8(ascii: "t") {
            try expect("true")
            return true
        }
        try expect("false")
        return false
    }

    /// A number; `integer` is set when the literal has no fraction or exponent and fits in `Int`.
    func number() throws -> (text: String, integer: Int?) {
        let (start, integer) = try scanNumber()
        // Only ASCII was consumed, so this decoding cannot fail or alter the text.
        return (String(decoding: bytes[start ..< pos], as: UTF8.self), integer)
    }

    /// Consumes a number; returns where it started and its value if it is an integer in range.
    private func scanNumber() throws -> (start: Int, integer: Int?) {
        skipWhitespace()
        let start = pos
        var negative = false
        if pos < end, bytes[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
        guard isDigit(pos) else { throw error("expected a digit in number, found \(describeCurrent())") }
        var integer: Int? = 0
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) { throw error("expected no leading zeros in number, found \(describeCurrent())") }
        } else {
            while isDigit(pos) {
                let digit = Int(bytes[pos] - UInt8(ascii: "0"))
                if let current = integer {
                    let (m, o1) = current.multipliedReportingOverflow(by: 10)
                    let (a, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
                    integer = (o1 || o2) ? nil : a
                }
                pos += 1
            }
        }
        if pos < end, bytes[pos] == UInt8(ascii: ".") {
            integer = nil
            pos += 1
            guard isDigit(pos) else { throw error("expected a digit after '.', found \(describeCurrent())") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < end, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            integer = nil
            pos += 1
            if pos < end, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(pos) else { throw error("expected a digit in exponent, found \(describeCurrent())") }
            while isDigit(pos) { pos += 1 }
        }
        return (start, integer)
    }

    /// A string; escapes decoded, UTF-8 validated.
    func string() throws -> String {
        skipWhitespace()
        let start = pos
        guard pos < end, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string, found \(describeCurrent())") }
        pos += 1
        // Fast path: no escapes and no control characters, so the bytes are the string.
        var scan = pos
        while scan < end, bytes[scan] != UInt8(ascii: "\""), bytes[scan] != UInt8(ascii: "\\"), bytes[scan] >= 0x20 { scan += 1 }
        if scan < end, bytes[scan] == UInt8(ascii: "\"") {
            guard let s = String(validating: bytes[pos ..< scan], as: UTF8.self) else {
                throw error("expected valid utf-8 in string, found invalid bytes", at: start)
            }
            pos = scan + 1
            return s
        }
        var utf8: [UInt8] = []
        while true {
            guard pos < end else { throw error("expected closing '\"' of string, found end of header", at: start) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; break }
            if b < 0x20 {
                throw error("expected no raw control characters in string, found byte 0x\(String(b, radix: 16))")
            }
            if b != UInt8(ascii: "\\") {
                utf8.append(b)
                pos += 1
                continue
            }
            pos += 1
            guard pos < end else { throw error("expected an escape character after '\\', found end of header") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                let escapeStart = pos - 2
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard pos + 1 < end, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw error("expected a low surrogate escape after a high surrogate, found \(describeCurrent())", at: escapeStart)
                    }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw error("expected a low surrogate (\\udc00-\\udfff), found \\u\(String(low, radix: 16))", at: escapeStart)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("expected a unicode scalar, found a lone low surrogate \\u\(String(scalar, radix: 16))", at: escapeStart)
                }
                guard let u = Unicode.Scalar(scalar) else {
                    throw error("expected a unicode scalar, found \\u\(String(scalar, radix: 16))", at: escapeStart)
                }
                utf8.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                pos -= 1
                throw error("expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\', found \(describeCurrent())")
            }
        }
        guard let s = String(validating: utf8, as: UTF8.self) else {
            throw error("expected valid utf-8 in string, found invalid bytes", at: start)
        }
        return s
    }

    // MARK: helpers

    private func enter() throws {
        guard depth < JSONReader.maxDepth else {
            throw error("expected nesting depth at most \(JSONReader.maxDepth), found deeper nesting")
        }
        depth += 1
    }

    private func describeCurrent() -> String {
        guard pos < end else { return "end of header" }
        let b = bytes[pos]
        if b >= 0x20 && b < 0x7F { return "'\(Character(UnicodeScalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    private func skipWhitespace() {
        while pos < end {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private func expect(_ literal: String) throws {
        skipWhitespace()
        let start = pos
        for b in literal.utf8 {
            guard pos < end, bytes[pos] == b else {
                throw error("expected '\(literal)', found \(describeCurrent())", at: start)
            }
            pos += 1
        }
    }

    private func isDigit(_ at: Int) -> Bool {
        at < end && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")
    }

    private func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard pos < end else { throw error("expected 4 hex digits after \\u, found end of header") }
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("expected 4 hex digits after \\u, found \(describeCurrent())")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }
}

/// Deterministic compact JSON output in the style of `serde_json` (the reference safetensors
/// writer): no whitespace, `"` `\` and control characters escaped, everything else raw UTF-8.
public enum JSONWriter {
    /// A JSON string literal (RFC 8259 escaping); shared with the CLI's JSON reports.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
