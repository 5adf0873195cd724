import Foundation
import Testing
@testable import TensorIO

func idxBytes(_ magic: [UInt8], dims: [UInt32], data: [UInt8]) -> [UInt8] {
    magic + dims.flatMap(u32be) + data
}

let idxImages = idxBytes([0, 0, 8, 3], dims: [4, 28, 28], data: lcgPixels(count: 4 * 28 * 28, seed: 12345))
let idxLabels = idxBytes([0, 0, 8, 1], dims: [10], data: Array(0..<10))

/// Writes DEFLATE bit streams by hand, to build inputs no compressor would produce.
struct BitWriter {
    var bytes: [UInt8] = []
    var bitCount = 0

    mutating func put(_ value: Int, _ n: Int) {
        for i in 0..<n {
            if bitCount % 8 == 0 { bytes.append(0) }
            if value >> i & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1) << UInt8(bitCount % 8) }
            bitCount += 1
        }
    }

    /// Huffman codes are sent most-significant bit first.
    mutating func putCode(_ code: Int, _ n: Int) {
        for i in (0..<n).reversed() { put(code >> i & 1, 1) }
    }

    /// Fixed-code literal/length symbol (RFC 1951 3.2.6).
    mutating func fixedSymbol(_ s: Int) {
        switch s {
        case 0...143: putCode(0x30 + s, 8)
        case 144...255: putCode(0x190 + s - 144, 9)
        case 256...279: putCode(s - 256, 7)
        default: putCode(0xC0 + s - 280, 8)
        }
    }
}

/// A gzip member around a raw deflate stream, with a correct trailer for `content`.
func gzipMember(deflate: [UInt8], content: [UInt8]) -> [UInt8] {
    let crc = CRC32.checksum(content)
    let size = UInt32(truncatingIfNeeded: content.count)
    return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255] + deflate
        + (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
        + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
}

/// One fixed-Huffman block: a zero byte, then `copies` back-references of 258 bytes at distance 1.
func zeroBomb(copies: Int) -> [UInt8] {
    var w = BitWriter()
    w.put(1, 1)  // BFINAL
    w.put(1, 2)  // fixed codes
    w.fixedSymbol(0)
    for _ in 0..<copies {
        w.fixedSymbol(285)  // length 258
        w.putCode(0, 5)  // distance code 0 = 1
    }
    w.fixedSymbol(256)
    return w.bytes
}

@Suite("idx and gzip")
struct IDXTests {
    @Test func parsesImagesAndLabels() throws {
        let images = try IDX.parse(bytes: idxImages, path: "i")
        #expect(images.dims == [4, 28, 28])
        #expect(images.data == lcgPixels(count: 3136, seed: 12345))
        let labels = try IDX.parse(bytes: idxLabels, path: "l")
        #expect(labels == IDXArray(dims: [10], data: Array(0..<10)))
        #expect(try labels.tensor(scale: 0.5).data[3] == 1.5)
        #expect(try IDX.encode(labels) == idxLabels)
    }

    @Test func readsUncompressedAndGzippedFiles() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let plain = try IDX.read(path: try dir.write(idxImages, to: "train-images-idx3-ubyte"))
        let gz = try IDX.read(path: try dir.write(Fixtures.bytes(Fixtures.dynamic), to: "train-images-idx3-ubyte.gz"))
        #expect(plain == gz)
        #expect(gz.dims == [4, 28, 28])
    }

    static let gzipFixtures: [String: (base64: String, content: [UInt8])] = [
        "dynamic huffman": (Fixtures.dynamic, idxImages),
        "fixed huffman, all header fields": (Fixtures.headerFlags, idxLabels),
        "stored block": (Fixtures.stored, idxLabels),
        "two members": (Fixtures.multiMember, idxImages),
    ]

    @Test(arguments: ["dynamic huffman", "fixed huffman, all header fields", "stored block", "two members"])
    func gunzipsZlibOutput(kind: String) throws {
        let fixture = try #require(Self.gzipFixtures[kind])
        let compressed = Fixtures.bytes(fixture.base64)
        #expect(!compressed.isEmpty)
        #expect(try Gzip.decompress(compressed, path: kind) == fixture.content)
        // Trailing zero padding after the last member is ignored, as gunzip does.
        #expect(try Gzip.decompress(compressed + [0, 0, 0, 0], path: kind) == fixture.content)
    }

    @Test func handBuiltStreams() throws {
        // Two stored blocks, the first not final, with an empty one in between.
        var stored: [UInt8] = [0x00, 3, 0, 0xFC, 0xFF, 1, 2, 3]
        stored += [0x00, 0, 0, 0xFF, 0xFF]
        stored += [0x01, 2, 0, 0xFD, 0xFF, 4, 5]
        #expect(try Gzip.decompress(gzipMember(deflate: stored, content: [1, 2, 3, 4, 5]), path: "s") == [1, 2, 3, 4, 5])

        // Overlapping back-reference: "ab" then length 7 at distance 2.
        var w = BitWriter()
        w.put(1, 1); w.put(1, 2)
        w.fixedSymbol(Int(UInt8(ascii: "a"))); w.fixedSymbol(Int(UInt8(ascii: "b")))
        w.fixedSymbol(261); w.putCode(1, 5)  // length 7, distance 2
        w.fixedSymbol(256)
        #expect(try Gzip.decompress(gzipMember(deflate: w.bytes, content: Array("ababababa".utf8)), path: "r") == Array("ababababa".utf8))
    }

    @Test func rejectsZipBomb() throws {
        let bomb = zeroBomb(copies: 20_000)  // 5 MB of zeros from 32 KB
        let gz = gzipMember(deflate: bomb, content: [])  // trailer is never reached
        expectTensorIOError("expected at most 1048576 bytes of decompressed data, found more (refusing a possible zip bomb)") {
            _ = try Gzip.decompress(gz, path: "bomb.gz", limit: 1 << 20)
        }
        // Within the limit the same stream decodes (and then fails on the deliberately wrong trailer).
        expectTensorIOError("expected crc-32 0x00000000") { _ = try Gzip.decompress(gz, path: "bomb.gz", limit: 8 << 20) }
    }

    @Test func gzipErrorTable() throws {
        let good = Fixtures.bytes(Fixtures.dynamic)
        var badCRC = good
        badCRC[badCRC.count - 8] ^= 0xFF
        var badSize = good
        badSize[badSize.count - 1] ^= 0x01
        var badMethod = good
        badMethod[2] = 7
        var reservedFlags = good
        reservedFlags[3] = 0x80
        let cases: [([UInt8], String)] = [
            ([], "expected a gzip stream, found an empty file"),
            ([0x1F, 0x8B, 8], "expected a 10-byte gzip header, found end of file (truncated gzip file)"),
            (Array(good.prefix(good.count / 2)), "truncated gzip file"),
            (Array(good.prefix(good.count - 3)), "expected the 8-byte gzip trailer (crc-32 and size), found end of file"),
            (badCRC, "of the decompressed data, found"),
            (badSize, "decompressed bytes (mod 2^32) from the gzip trailer"),
            (badMethod, "expected gzip compression method 8 (deflate), found 7"),
            (reservedFlags, "expected reserved gzip flag bits to be zero"),
            (good + [0x42], "expected a 10-byte gzip header"),
            (gzipMember(deflate: [0x07], content: []), "expected block type 0, 1 or 2, found 3 (reserved)"),
            (gzipMember(deflate: [0x01, 3, 0, 3, 0, 1, 2, 3], content: []), "expected a stored block length and its complement, found 3 and 3"),
            (gzipMember(deflate: [0x01, 20, 0, 0xEB, 0xFF, 1], content: []), "expected 20 more bytes of a stored block"),
        ]
        for (bytes, message) in cases {
            expectTensorIOError(message) { _ = try Gzip.decompress(bytes, path: "x.gz") }
        }

        // A back-reference before the start of the output.
        var w = BitWriter()
        w.put(1, 1); w.put(1, 2)
        w.fixedSymbol(65)
        w.fixedSymbol(257); w.putCode(4, 5)  // length 3, distance 5..6
        w.put(0, 1)
        w.fixedSymbol(256)
        expectTensorIOError("expected a back-reference distance of at most 1, found 5") {
            _ = try Gzip.decompress(gzipMember(deflate: w.bytes, content: []), path: "x.gz")
        }
        // Distance codes 30 and 31 do not exist.
        var w2 = BitWriter()
        w2.put(1, 1); w2.put(1, 2)
        w2.fixedSymbol(65)
        w2.fixedSymbol(257); w2.putCode(30, 5)
        expectTensorIOError("expected a valid huffman code, found an unused bit pattern") {
            _ = try Gzip.decompress(gzipMember(deflate: w2.bytes, content: []), path: "x.gz")
        }
        // A dynamic block whose code-length code is over-subscribed (all 19 lengths = 1).
        var w3 = BitWriter()
        w3.put(1, 1); w3.put(2, 2)
        w3.put(0, 5); w3.put(0, 5); w3.put(15, 4)
        for _ in 0..<19 { w3.put(1, 3) }
        expectTensorIOError("over-subscribed code lengths") {
            _ = try Gzip.decompress(gzipMember(deflate: w3.bytes, content: []), path: "x.gz")
        }
    }

    static let malformed: [BadFile] = [
        BadFile(name: "empty file", bytes: [], expected: "expected a 4-byte idx magic number, found a file of 0 bytes"),
        BadFile(name: "bad magic", bytes: idxBytes([0x12, 0x34, 8, 3], dims: [1, 1, 1], data: [0]),
                expected: "expected an idx magic number 00 00 08 <ndims> (e.g. 00000803 for images, 00000801 for labels), found 12 34 08 03"),
        BadFile(name: "gzip without .gz suffix", bytes: Fixtures.bytes(Fixtures.stored), expected: "the file looks gzip-compressed; name it with a .gz suffix"),
        BadFile(name: "float element type", bytes: idxBytes([0, 0, 0x0D, 1], dims: [1], data: [0, 0, 0, 0]),
                expected: "expected idx element type 0x08 (unsigned byte), found 0x0d (f32)"),
        BadFile(name: "unknown element type", bytes: idxBytes([0, 0, 0x42, 1], dims: [1], data: [0]), expected: "found 0x42"),
        BadFile(name: "zero dimensions", bytes: [0, 0, 8, 0], expected: "expected at least 1 dimension in the idx magic number, found 0"),
        BadFile(name: "truncated dims", bytes: [0, 0, 8, 3, 0, 0, 0, 1, 0, 0], expected: "expected 3 big-endian u32 extents (12 bytes) after the magic number, found 6 bytes"),
        BadFile(name: "dims product mismatch", bytes: idxBytes([0, 0, 8, 3], dims: [2, 28, 28], data: [UInt8](repeating: 0, count: 28 * 28)),
                expected: "expected 1568 bytes of data for dims [2, 28, 28], found 784"),
        BadFile(name: "too much data", bytes: idxBytes([0, 0, 8, 1], dims: [3], data: [1, 2, 3, 4]), expected: "expected 3 bytes of data for dims [3], found 4"),
        BadFile(name: "truncated idx", bytes: Array(idxImages.prefix(1000)), expected: "expected 3136 bytes of data for dims [4, 28, 28], found 984"),
        BadFile(name: "huge dims", bytes: idxBytes([0, 0, 8, 3], dims: [.max, .max, .max], data: []),
                expected: "expected a shape whose element count fits in 64 bits"),
        BadFile(name: ".gz that is not gzip", bytes: idxLabels, expected: "expected the gzip magic 1f 8b (the file name ends in .gz), found 00 00", fileName: "labels.gz"),
        BadFile(name: "empty .gz", bytes: [], expected: "expected the gzip magic 1f 8b (the file name ends in .gz), found an empty file", fileName: "e.gz"),
        BadFile(name: "truncated .gz", bytes: Array(Fixtures.bytes(Fixtures.dynamic).prefix(900)), expected: "truncated gzip file", fileName: "t.gz"),
        BadFile(name: "gzipped bad idx", bytes: gzipMember(deflate: [0x01, 4, 0, 0xFB, 0xFF, 0, 0, 9, 1], content: [0, 0, 9, 1]),
                expected: "expected idx element type 0x08 (unsigned byte), found 0x09 (signed byte)", fileName: "b.gz"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedFile(_ bad: BadFile) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write(bad.bytes, to: bad.fileName)
        expectTensorIOError(bad.expected) { _ = try IDX.read(path: path) }
    }
}
