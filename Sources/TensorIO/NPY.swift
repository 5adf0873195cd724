import Foundation

/// NumPy's `.npy` format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
/// magic `\x93NUMPY`, a major/minor version byte pair, the header length (u16 little-endian in
/// version 1.0, u32 in 2.0 and 3.0), a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }` padded with spaces
/// and a newline, then the raw elements.
///
/// Why: it is the simplest way to move a single array between this program and Python — test
/// inputs, reference outputs, images — with `numpy.save`/`numpy.load` on the other side.
///
/// Reading accepts little-endian float32 (`'<f4'`) and, converted to float32, float64 (`'<f8'`,
/// rounded to nearest) and float16 (`'<f2'`, exact). Everything else is rejected with a message
/// naming what was found: big-endian data, `fortran_order: True`, object arrays (pickles),
/// structured dtypes and other element types. The header is parsed by a small Python-literal
/// parser (never evaluated), the shape's element count is overflow-checked, and the data must be
/// exactly `count × itemsize` bytes.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// Headers longer than this are rejected before parsing. NumPy itself refuses headers above
    /// 10000 bytes by default (`max_header_size`); a float array's header is under 200 bytes.
    public static let maxHeaderLength = 1 << 16

    public static func read(path: String) throws -> HostTensor {
        try parse(bytes: FileBytes.read(path: path), path: path)
    }

    /// Parses a whole `.npy` file held in memory; `path` is only used in error messages.
    public static func parse(bytes: [UInt8], path: String) throws -> HostTensor {
        guard bytes.count >= 6 else {
            throw TensorIOError(path: path, offset: 0, "expected the npy magic \\x93NUMPY, found a file of \(bytes.count) bytes")
        }
        guard Array(bytes[0..<6]) == magic else {
            let found = bytes[0..<6].map { String(format: "%02x", $0) }.joined(separator: " ")
            throw TensorIOError(path: path, offset: 0, "expected the npy magic \\x93NUMPY (93 4e 55 4d 50 59), found \(found)")
        }
        guard bytes.count >= 8 else {
            throw TensorIOError(path: path, offset: 6, "expected 2 version bytes after the magic, found end of file")
        }
        let (major, minor) = (bytes[6], bytes[7])
        let lengthSize: Int
        switch (major, minor) {
        case (1, 0): lengthSize = 2
        case (2, 0), (3, 0): lengthSize = 4
        default:
            throw TensorIOError(path: path, offset: 6, "expected npy version 1.0, 2.0 or 3.0, found \(major).\(minor)")
        }
        let headerStart = 8 + lengthSize
        guard bytes.count >= headerStart else {
            throw TensorIOError(path: path, offset: 8, "expected a \(lengthSize)-byte header length, found end of file")
        }
        let headerLength = lengthSize == 2 ? Int(bytes.u16le(8)) : Int(bytes.u32le(8))
        guard headerLength <= maxHeaderLength else {
            throw TensorIOError(path: path, offset: 8,
                                "expected a header length of at most \(maxHeaderLength) bytes, found \(headerLength)")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw TensorIOError(path: path, offset: 8,
                                "expected a header length of at most \(bytes.count - headerStart) bytes (the rest of the file), found \(headerLength)")
        }
        let dataStart = headerStart + headerLength

        // Versions 1 and 2 use latin-1 header text, 3 uses UTF-8; only ASCII is meaningful in a
        // header we accept, and the parser below works on bytes, so both are handled alike.
        var parser = PythonLiteralParser(bytes: bytes, pos: headerStart, end: dataStart, path: path)
        let dict = try parser.parseHeader()

        var descr: PythonLiteral?
        var fortran: PythonLiteral?
        var shapeLiteral: PythonLiteral?
        for (key, value) in dict.entries {
            switch key {
            case "descr": descr = value
            case "fortran_order": fortran = value
            case "shape": shapeLiteral = value
            default:
                throw TensorIOError(path: path, offset: dict.offset,
                                    "expected header keys 'descr', 'fortran_order' and 'shape', found unexpected key '\(key.prefix(40))'")
            }
        }
        guard let descr, let fortran, let shapeLiteral else {
            let missing = [("descr", descr), ("fortran_order", fortran), ("shape", shapeLiteral)]
                .filter { $0.1 == nil }.map { "'\($0.0)'" }.joined(separator: ", ")
            throw TensorIOError(path: path, offset: dict.offset, "expected header keys 'descr', 'fortran_order' and 'shape', found no \(missing)")
        }

        // descr
        guard case .string(let typeString) = descr.kind else {
            let what = descr.isList ? "a list (a structured dtype), which is not supported" : descr.summary
            throw TensorIOError(path: path, offset: descr.offset, "expected 'descr' to be one of '<f4', '<f8', '<f2', found \(what)")
        }
        let itemSize: Int
        switch typeString {
        case "<f4": itemSize = 4
        case "<f8": itemSize = 8
        case "<f2": itemSize = 2
        default:
            throw TensorIOError(path: path, offset: descr.offset, "expected 'descr' to be one of '<f4', '<f8', '<f2', found \(describeDescr(typeString))")
        }

        guard case .bool(let isFortran) = fortran.kind else {
            throw TensorIOError(path: path, offset: fortran.offset, "expected 'fortran_order' to be True or False, found \(fortran.summary)")
        }
        guard !isFortran else {
            throw TensorIOError(path: path, offset: fortran.offset,
                                "expected 'fortran_order': False (C order), found True; save a C-contiguous array (numpy.ascontiguousarray)")
        }

        guard case .tuple(let extentsLiterals) = shapeLiteral.kind else {
            throw TensorIOError(path: path, offset: shapeLiteral.offset, "expected 'shape' to be a tuple of integers, found \(shapeLiteral.summary)")
        }
        var shape: [Int] = []
        for e in extentsLiterals {
            guard case .int(let v) = e.kind else {
                throw TensorIOError(path: path, offset: e.offset, "expected 'shape' to hold integers, found \(e.summary)")
            }
            guard let v else {
                throw TensorIOError(path: path, offset: e.offset, "expected 'shape' to hold integers that fit in 64 bits, found a larger one")
            }
            guard v >= 0 else {
                throw TensorIOError(path: path, offset: e.offset, "expected 'shape' to hold non-negative integers, found \(v)")
            }
            shape.append(v)
        }
        let count = try HostTensor.elementCount(of: shape, path: path, offset: shapeLiteral.offset)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow else {
            throw TensorIOError(path: path, offset: shapeLiteral.offset,
                                "expected a data size that fits in 64 bits, found shape \(HostTensor.render(shape)) of \(typeString)")
        }
        let available = bytes.count - dataStart
        guard available == byteCount else {
            throw TensorIOError(path: path, offset: dataStart,
                                "expected \(byteCount) bytes of data for shape \(HostTensor.render(shape)) of \(typeString), found \(available)")
        }

        let data: [Float]
        switch itemSize {
        case 4: data = ElementDecode.float32LE(bytes, begin: dataStart, count: count)
        case 8: data = ElementDecode.float64LE(bytes, begin: dataStart, count: count)
        default: data = ElementDecode.float16LE(bytes, begin: dataStart, count: count)
        }
        return HostTensor(validatedShape: shape, data: data)
    }

    private static func describeDescr(_ s: String) -> String {
        let shown = "'\(s.prefix(40))'"
        guard let first = s.first else { return "''" }
        let rest = s.dropFirst()
        if first == ">" && ["f4", "f8", "f2"].contains(rest) {
            return "\(shown) (big-endian; convert with array.astype('<\(rest)'))"
        }
        if rest.first == "O" || s == "O" {
            return "\(shown) (an object array, which holds pickled Python objects)"
        }
        return shown
    }

    /// Writes version 1.0, `'<f4'`, C order, header padded so the data starts at a multiple of
    /// 64 bytes (what current NumPy writes), atomically (see `AtomicFile`).
    public static func write(_ t: HostTensor, to path: String) throws {
        try AtomicFile.write(Data(encode(t, path: path)), to: path)
    }

    /// The bytes `write` would produce.
    public static func encode(_ t: HostTensor, path: String = "<memory>") throws -> [UInt8] {
        let count = try HostTensor.elementCount(of: t.shape, path: path)
        guard count == t.data.count else {
            throw TensorIOError(path: path, "expected \(count) elements for shape \(HostTensor.render(t.shape)), found \(t.data.count)")
        }
        let shape: String
        switch t.shape.count {
        case 0: shape = "()"
        case 1: shape = "(\(t.shape[0]),)"
        default: shape = "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }".utf8)
        let unpadded = 10 + header.count + 1  // magic+version+u16, header, newline
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (64 - unpadded % 64) % 64))
        header.append(UInt8(ascii: "\n"))
        guard header.count <= Int(UInt16.max) else {
            throw TensorIOError(path: path, "expected a header of at most 65535 bytes for npy version 1.0, found \(header.count)")
        }
        var out = magic + [1, 0]
        out.append(UInt8(header.count & 0xFF))
        out.append(UInt8(header.count >> 8))
        out += header
        out.reserveCapacity(out.count + 4 * count)
        ElementDecode.appendFloat32LE(t.data, to: &out)
        return out
    }
}

/// A value of the Python literal subset that appears in `.npy` headers.
struct PythonLiteral {
    indirect enum Kind {
        case string(String)
        /// nil when the literal does not fit in `Int`.
        case int(Int?)
        case bool(Bool)
        case none
        case tuple([PythonLiteral])
        case list([PythonLiteral])
        case dict([(String, PythonLiteral)])
    }

    var kind: Kind
    var offset: Int

    var isList: Bool {
        if case .list = kind { return true }
        return false
    }

    var summary: String {
        switch kind {
        case .string(let s): return "'\(s.prefix(40))'"
        case .int(let v): return v.map { "the integer \($0)" } ?? "a very large integer"
        case .bool(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        }
    }
}

/// Parser for the Python literals NumPy writes: dicts with string keys, strings ('…' or "…"),
/// integers (with Python 2's `L` suffix), True/False/None, tuples and lists with optional
/// trailing commas. Nothing is evaluated; nesting depth is bounded.
struct PythonLiteralParser {
    static let maxDepth = 32

    let bytes: [UInt8]
    var pos: Int
    let end: Int
    let path: String

    struct Header {
        var entries: [(String, PythonLiteral)]
        var offset: Int
    }

    mutating func parseHeader() throws -> Header {
        skipWhitespace()
        let start = pos
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard pos >= end else {
            throw error("expected only whitespace after the header dict, found \(describeCurrent())")
        }
        guard case .dict(let entries) = value.kind else {
            throw TensorIOError(path: path, offset: start, "expected the npy header to be a dict literal, found \(value.summary)")
        }
        return Header(entries: entries, offset: start)
    }

    private func error(_ message: String, at offset: Int? = nil) -> TensorIOError {
        TensorIOError(path: path, offset: offset ?? pos, "invalid npy header: " + message)
    }

    private func describeCurrent() -> String {
        guard pos < end else { return "end of header" }
        let b = bytes[pos]
        if b >= 0x20 && b < 0x7F { return "'\(Character(UnicodeScalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    private mutating func skipWhitespace() {
        while pos < end, [0x20, 0x09, 0x0A, 0x0D, 0x0C, 0x0B].contains(bytes[pos]) { pos += 1 }
    }

    private func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_")
    }

    private mutating func parseValue(depth: Int) throws -> PythonLiteral {
        guard depth < PythonLiteralParser.maxDepth else {
            throw error("expected nesting depth at most \(PythonLiteralParser.maxDepth), found deeper nesting")
        }
        guard pos < end else { throw error("expected a value, found end of header") }
        let start = pos
        let b = bytes[pos]
        switch b {
        case UInt8(ascii: "{"):
            pos += 1
            var entries: [(String, PythonLiteral)] = []
            var seen = Set<String>()
            while true {
                skipWhitespace()
                guard pos < end else { throw error("expected a key or '}', found end of header") }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
                let keyOffset = pos
                let key = try parseValue(depth: depth + 1)
                guard case .string(let k) = key.kind else {
                    throw error("expected a string key in the header dict, found \(key.summary)", at: keyOffset)
                }
                guard seen.insert(k).inserted else {
                    throw error("expected unique keys in the header dict, found '\(k.prefix(40))' twice", at: keyOffset)
                }
                skipWhitespace()
                guard pos < end, bytes[pos] == UInt8(ascii: ":") else {
                    throw error("expected ':' after dict key, found \(describeCurrent())")
                }
                pos += 1
                skipWhitespace()
                entries.append((k, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard pos < end else { throw error("expected ',' or '}' in dict, found end of header") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
                throw error("expected ',' or '}' in dict, found \(describeCurrent())")
            }
            return PythonLiteral(kind: .dict(entries), offset: start)

        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = b == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            let closeName = b == UInt8(ascii: "(") ? "')'" : "']'"
            pos += 1
            var elements: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipWhitespace()
                guard pos < end else { throw error("expected a value or \(closeName), found end of header") }
                if bytes[pos] == close { pos += 1; break }
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < end else { throw error("expected ',' or \(closeName), found end of header") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; sawComma = true; continue }
                if bytes[pos] == close { pos += 1; break }
                throw error("expected ',' or \(closeName), found \(describeCurrent())")
            }
            if close == UInt8(ascii: ")") {
                // `(5)` is the integer 5 in Python, not a tuple.
                if elements.count == 1 && !sawComma { return elements[0] }
                return PythonLiteral(kind: .tuple(elements), offset: start)
            }
            return PythonLiteral(kind: .list(elements), offset: start)

        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            pos += 1
            var text: [UInt8] = []
            while true {
                guard pos < end else { throw error("expected a closing quote, found end of header", at: start) }
                let c = bytes[pos]
                if c == b { pos += 1; break }
                if c == 0x0A { throw error("expected a closing quote, found end of line", at: start) }
                if c == UInt8(ascii: "\\") {
                    // Only the escapes NumPy could produce in a dtype name; anything else is kept
                    // verbatim and rejected later as an unknown descr.
                    guard pos + 1 < end else { throw error("expected a character after '\\', found end of header") }
                    text.append(bytes[pos + 1])
                    pos += 2
                    continue
                }
                text.append(c)
                pos += 1
            }
            // Non-ASCII bytes are decoded leniently (latin-1 in v1/v2); they only ever appear in
            // error messages, since no accepted key or descr contains them.
            let s = String(decoding: text, as: UTF8.self)
            return PythonLiteral(kind: .string(s), offset: start)

        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
            var negative = false
            if b == UInt8(ascii: "-") || b == UInt8(ascii: "+") {
                negative = b == UInt8(ascii: "-")
                pos += 1
                skipWhitespace()
            }
            guard pos < end, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") else {
                throw error("expected a digit, found \(describeCurrent())")
            }
            var value: Int? = 0
            while pos < end, bytes[pos] >= UInt8(ascii: "0") && bytes[pos] <= UInt8(ascii: "9") || bytes[pos] == UInt8(ascii: "_") {
                if bytes[pos] != UInt8(ascii: "_"), let v = value {
                    let digit = Int(bytes[pos] - UInt8(ascii: "0"))
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
                    value = (o1 || o2) ? nil : a
                }
                pos += 1
            }
            if pos < end, bytes[pos] == UInt8(ascii: "L") || bytes[pos] == UInt8(ascii: "l") { pos += 1 }
            if pos < end, isIdentifierByte(bytes[pos]) || bytes[pos] == UInt8(ascii: ".") {
                throw error("expected an integer, found \(describeCurrent()) inside a number", at: start)
            }
            return PythonLiteral(kind: .int(value), offset: start)

        default:
            guard isIdentifierByte(b) else { throw error("expected a value, found \(describeCurrent())") }
            while pos < end, isIdentifierByte(bytes[pos]) { pos += 1 }
            let word = String(decoding: bytes[start ..< pos], as: UTF8.self)
            switch word {
            case "True": return PythonLiteral(kind: .bool(true), offset: start)
            case "False": return PythonLiteral(kind: .bool(false), offset: start)
            case "None": return PythonLiteral(kind: .none, offset: start)
            default: throw error("expected a literal (string, integer, True, False, None, tuple, list or dict), found '\(word.prefix(40))'", at: start)
            }
        }
    }
}
