import Foundation

/// gzip (RFC 1952) and DEFLATE (RFC 1951) decompression in pure Swift.
///
/// Why not zlib: this module depends only on Foundation (no system-library target for libz), and
/// shelling out to `gunzip` would make file loading depend on the environment and on process
/// spawning. Inflate is small enough to write out; this one is written for robustness first:
///
/// - every read of the compressed input is bounds-checked, and running out of input is an error
///   ("truncated"), never a read past the end;
/// - Huffman tables are built from code lengths that are checked for over-subscription, and
///   unused codes of incomplete tables decode to an error;
/// - back-references are checked against the output produced so far;
/// - the total output is capped (`limit`, default 256 MiB), so a "zip bomb" is rejected after at
///   most `limit` bytes of work and memory;
/// - each member's CRC-32 and length trailer are verified.
///
/// Concatenated gzip members are decompressed and joined, as `gunzip` does; trailing zero bytes
/// (padding added by some tape/block tools) are ignored.
public enum Gzip {
    public static let defaultLimit = 256 << 20

    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses a gzip file held in memory. Error offsets are positions in `bytes`.
    public static func decompress(_ bytes: [UInt8], path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        let limit = max(0, limit)
        var out: [UInt8] = []
        // The trailer's ISIZE is a hint for the allocation, bounded by the limit and by DEFLATE's
        // maximum expansion (≈1032:1), so a lying trailer cannot force a large allocation.
        if bytes.count >= 4 {
            let hint = Int(bytes.u32le(bytes.count - 4))
            let (maxExpansion, overflow) = bytes.count.multipliedReportingOverflow(by: 1032)
            out.reserveCapacity(min(hint, limit, overflow ? limit : maxExpansion))
        }
        var pos = 0
        var members = 0
        while pos < bytes.count {
            if members > 0 && bytes[pos...].allSatisfy({ $0 == 0 }) { break }
            pos = try member(bytes, at: pos, into: &out, path: path, limit: limit)
            members += 1
        }
        if members == 0 {
            throw TensorIOError(path: path, offset: 0, "expected a gzip stream, found an empty file")
        }
        return out
    }

    /// Decodes one gzip member starting at `start`; returns the position after its trailer.
    private static func member(_ bytes: [UInt8], at start: Int, into out: inout [UInt8], path: String, limit: Int) throws -> Int {
        func truncated(_ what: String, _ at: Int) -> TensorIOError {
            TensorIOError(path: path, offset: at, "expected \(what), found end of file (truncated gzip file)")
        }
        guard bytes.count - start >= 10 else { throw truncated("a 10-byte gzip header", start) }
        guard bytes[start] == 0x1F, bytes[start + 1] == 0x8B else {
            let found = String(format: "%02x %02x", bytes[start], bytes[start + 1])
            throw TensorIOError(path: path, offset: start, "expected the gzip magic 1f 8b, found \(found)")
        }
        guard bytes[start + 2] == 8 else {
            throw TensorIOError(path: path, offset: start + 2, "expected gzip compression method 8 (deflate), found \(bytes[start + 2])")
        }
        let flags = bytes[start + 3]
        guard flags & 0xE0 == 0 else {
            throw TensorIOError(path: path, offset: start + 3, "expected reserved gzip flag bits to be zero, found flags 0x\(String(flags, radix: 16))")
        }
        var pos = start + 10
        if flags & 0x04 != 0 {  // FEXTRA
            guard bytes.count - pos >= 2 else { throw truncated("the gzip extra-field length", pos) }
            let n = Int(bytes.u16le(pos))
            pos += 2
            guard bytes.count - pos >= n else { throw truncated("\(n) bytes of gzip extra field", pos) }
            pos += n
        }
        for (bit, what) in [(UInt8(0x08), "file name"), (UInt8(0x10), "comment")] where flags & bit != 0 {
            guard let zero = bytes[pos...].firstIndex(of: 0) else { throw truncated("the zero-terminated gzip \(what)", pos) }
            pos = zero + 1
        }
        if flags & 0x02 != 0 {  // FHCRC
            guard bytes.count - pos >= 2 else { throw truncated("the gzip header crc", pos) }
            pos += 2
        }

        let memberStart = out.count
        var inflater = Inflater(bytes: bytes, pos: pos, path: path, limit: limit, windowStart: memberStart)
        try inflater.run(into: &out)
        pos = inflater.bytePositionAfterStream

        guard bytes.count - pos >= 8 else { throw truncated("the 8-byte gzip trailer (crc-32 and size)", pos) }
        let expectedCRC = bytes.u32le(pos)
        let expectedSize = bytes.u32le(pos + 4)
        let actualCRC = CRC32.checksum(out, from: memberStart)
        guard actualCRC == expectedCRC else {
            throw TensorIOError(path: path, offset: pos,
                                "expected crc-32 \(hex32(expectedCRC)) of the decompressed data, found \(hex32(actualCRC)) (corrupt gzip file)")
        }
        let actualSize = UInt32(truncatingIfNeeded: out.count - memberStart)
        guard actualSize == expectedSize else {
            throw TensorIOError(path: path, offset: pos + 4,
                                "expected \(expectedSize) decompressed bytes (mod 2^32) from the gzip trailer, found \(actualSize)")
        }
        return pos + 8
    }

    private static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as used by gzip.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8], from start: Int = 0) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for i in start ..< bytes.count {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
            }
        }
        return c ^ 0xFFFF_FFFF
    }
}

/// A canonical Huffman code as a single lookup table indexed by the next `maxLength` input bits
/// (LSB first). Each entry is `symbol << 4 | length`; length 0 marks a bit pattern that no code
/// uses (possible in incomplete codes) and decodes to an error.
struct Huffman {
    var table: [UInt32]
    var maxLength: Int

    /// Builds from per-symbol code lengths (0 = unused). Throws on over-subscribed lengths.
    init(lengths: [Int], path: String, offset: Int, what: String) throws {
        var countPerLength = [Int](repeating: 0, count: 16)
        var maxLength = 0
        for l in lengths where l > 0 {
            countPerLength[l] += 1
            maxLength = max(maxLength, l)
        }
        // Kraft inequality: over-subscribed codes are invalid.
        var left = 1
        for l in 1..<16 {
            left <<= 1
            left -= countPerLength[l]
            guard left >= 0 else {
                throw TensorIOError(path: path, offset: offset, "invalid deflate stream: expected a valid \(what) huffman code, found over-subscribed code lengths")
            }
        }
        // First code of each length (RFC 1951 3.2.2); countPerLength[0] is 0 by construction.
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for l in 1..<16 {
            code = (code + countPerLength[l - 1]) << 1
            nextCode[l] = code
        }

        let size = 1 << maxLength
        var table = [UInt32](repeating: 0, count: max(size, 1))
        for (symbol, l) in lengths.enumerated() where l > 0 {
            let c = nextCode[l]
            nextCode[l] += 1
            // Reverse the l-bit code: DEFLATE sends Huffman codes most-significant bit first.
            var reversed = 0
            for k in 0..<l where c & (1 << k) != 0 { reversed |= 1 << (l - 1 - k) }
            let entry = UInt32(symbol) << 4 | UInt32(l)
            var i = reversed
            while i < size {
                table[i] = entry
                i += 1 << l
            }
        }
        self.table = table
        self.maxLength = maxLength
    }
}

/// DEFLATE decoder over a byte array; output is appended to a caller's array.
struct Inflater {
    private let bytes: [UInt8]
    private var pos: Int
    private let path: String
    private let limit: Int
    /// Output index where this stream's data begins: back-references may not reach before it.
    private let windowStart: Int

    private var bitBuffer: UInt64 = 0
    private var bitCount = 0
    /// Zero bits appended past the end of input so lookups can peek; consuming them is an error.
    private var paddingBits = 0

    init(bytes: [UInt8], pos: Int, path: String, limit: Int, windowStart: Int) {
        self.bytes = bytes
        self.pos = pos
        self.path = path
        self.limit = limit
        self.windowStart = windowStart
    }

    /// Byte position just after the final block (the remaining bits of a partial byte are dropped).
    var bytePositionAfterStream: Int { (pos - paddingBits / 8) - max(0, bitCount - paddingBits) / 8 }

    private var inputOffset: Int { bytePositionAfterStream }

    private func error(_ message: String) -> TensorIOError {
        TensorIOError(path: path, offset: inputOffset, "invalid deflate stream: " + message)
    }

    @inline(__always)
    private mutating func fill(_ n: Int) {
        while bitCount < n {
            if pos < bytes.count {
                bitBuffer |= UInt64(bytes[pos]) << UInt64(bitCount)
                pos += 1
            } else {
                paddingBits += 8
                pos += 1
            }
            bitCount += 8
        }
    }

    @inline(__always)
    private mutating func consume(_ n: Int) throws {
        bitBuffer >>= UInt64(n)
        bitCount -= n
        if bitCount < paddingBits {
            throw TensorIOError(path: path, offset: bytes.count, "expected more compressed data, found end of file (truncated gzip file)")
        }
    }

    @inline(__always)
    private mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        fill(n)
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        try consume(n)
        return v
    }

    @inline(__always)
    private mutating func decode(_ h: Huffman) throws -> Int {
        fill(h.maxLength)
        let entry = h.table[Int(bitBuffer & ((1 << UInt64(h.maxLength)) - 1))]
        let length = Int(entry & 0xF)
        guard length > 0 else {
            if bitCount - paddingBits < h.maxLength {
                throw TensorIOError(path: path, offset: bytes.count, "expected more compressed data, found end of file (truncated gzip file)")
            }
            throw error("expected a valid huffman code, found an unused bit pattern")
        }
        try consume(length)
        return Int(entry >> 4)
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static let fixedTables: (Huffman, Huffman)? = {
        var lengths = [Int](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        guard let lit = try? Huffman(lengths: lengths, path: "", offset: 0, what: "fixed"),
              let dist = try? Huffman(lengths: [Int](repeating: 5, count: 30), path: "", offset: 0, what: "fixed")
        else { return nil }
        return (lit, dist)
    }()

    private func checkRoom(_ out: [UInt8], _ n: Int) throws {
        guard out.count <= limit - n else {
            throw TensorIOError(path: path, offset: inputOffset,
                                "expected at most \(limit) bytes of decompressed data, found more (refusing a possible zip bomb)")
        }
    }

    mutating func run(into out: inout [UInt8]) throws {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored(into: &out)
            case 1:
                guard let (lit, dist) = Inflater.fixedTables else { throw error("cannot build fixed huffman tables") }
                try codes(lit, dist, into: &out)
            case 2:
                let (lit, dist) = try dynamicTables()
                try codes(lit, dist, into: &out)
            default:
                throw error("expected block type 0, 1 or 2, found 3 (reserved)")
            }
        }
        // Drop the bits left in the partial last byte; whole unread bytes go back to the input.
        let partial = (bitCount - paddingBits) % 8
        if partial > 0 { try consume(partial) }
    }

    private mutating func stored(into out: inout [UInt8]) throws {
        // Skip to a byte boundary, then LEN and NLEN.
        try consume(bitCount % 8)
        let len = try bits(16)
        let nlen = try bits(16)
        guard len == ~nlen & 0xFFFF else {
            throw error("expected a stored block length and its complement, found \(len) and \(nlen)")
        }
        // Whole bytes may still sit in the bit buffer; take them first.
        var remaining = len
        try checkRoom(out, len)
        while remaining > 0 && bitCount - paddingBits >= 8 {
            out.append(UInt8(try bits(8)))
            remaining -= 1
        }
        guard bitCount == paddingBits || remaining == 0 else { throw error("internal bit buffer misalignment") }
        if remaining > 0 {
            // The bit buffer is now empty of real data.
            bitBuffer = 0
            bitCount = 0
            pos -= paddingBits / 8
            paddingBits = 0
            guard bytes.count - pos >= remaining else {
                throw TensorIOError(path: path, offset: bytes.count, "expected \(remaining) more bytes of a stored block, found end of file (truncated gzip file)")
            }
            out.append(contentsOf: bytes[pos ..< pos + remaining])
            pos += remaining
        }
    }

    private mutating func dynamicTables() throws -> (Huffman, Huffman) {
        let tableOffset = inputOffset
        let hlit = try bits(5) + 257
        let hdist = try bits(5) + 1
        let hclen = try bits(4) + 4
        guard hlit <= 286, hdist <= 30 else {
            throw error("expected at most 286 literal/length and 30 distance codes, found \(hlit) and \(hdist)")
        }
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for i in 0..<hclen { codeLengthLengths[Inflater.codeLengthOrder[i]] = try bits(3) }
        let codeLengthCode = try Huffman(lengths: codeLengthLengths, path: path, offset: tableOffset, what: "code-length")
        guard codeLengthCode.maxLength > 0 else { throw error("expected a non-empty code-length code, found none") }

        var lengths: [Int] = []
        lengths.reserveCapacity(hlit + hdist)
        while lengths.count < hlit + hdist {
            let symbol = try decode(codeLengthCode)
            var repeatValue = 0
            var repeatCount = 0
            switch symbol {
            case 0...15:
                lengths.append(symbol)
                continue
            case 16:
                guard let last = lengths.last else { throw error("expected a previous length to repeat, found none") }
                repeatValue = last
                repeatCount = 3 + (try bits(2))
            case 17:
                repeatCount = 3 + (try bits(3))
            default:
                repeatCount = 11 + (try bits(7))
            }
            guard lengths.count + repeatCount <= hlit + hdist else {
                throw error("expected \(hlit + hdist) code lengths, found a repeat running past them")
            }
            lengths.append(contentsOf: repeatElement(repeatValue, count: repeatCount))
        }
        guard lengths[256] > 0 else { throw error("expected a code for end-of-block, found none") }
        let lit = try Huffman(lengths: Array(lengths[0..<hlit]), path: path, offset: tableOffset, what: "literal/length")
        let dist = try Huffman(lengths: Array(lengths[hlit...]), path: path, offset: tableOffset, what: "distance")
        return (lit, dist)
    }

    private mutating func codes(_ lit: Huffman, _ dist: Huffman, into out: inout [UInt8]) throws {
        while true {
            let symbol = try decode(lit)
            if symbol < 256 {
                try checkRoom(out, 1)
                out.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let li = symbol - 257
            guard li < 29 else { throw error("expected a length code 257...285, found \(symbol)") }
            let length = Inflater.lengthBase[li] + (try bits(Inflater.lengthExtra[li]))
            guard dist.maxLength > 0 else { throw error("expected a distance code, found an empty distance table") }
            let di = try decode(dist)
            guard di < 30 else { throw error("expected a distance code 0...29, found \(di)") }
            let distance = Inflater.distBase[di] + (try bits(Inflater.distExtra[di]))
            guard distance <= out.count - windowStart else {
                throw error("expected a back-reference distance of at most \(out.count - windowStart), found \(distance)")
            }
            try checkRoom(out, length)
            var from = out.count - distance
            for _ in 0..<length {
                out.append(out[from])
                from += 1
            }
        }
    }
}
