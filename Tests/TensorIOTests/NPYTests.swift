import Foundation
import Testing
@testable import TensorIO

/// An .npy file from header text (padded like NumPy unless `declaredLength` overrides) and data.
func npy(_ header: String, data: [UInt8] = [], version: (UInt8, UInt8) = (1, 0), declaredLength: Int? = nil) -> [UInt8] {
    var h = Array(header.utf8)
    let prefix = version.0 == 1 ? 10 : 12
    h += [UInt8](repeating: 0x20, count: (64 - (prefix + h.count + 1) % 64) % 64) + [0x0A]
    let n = declaredLength ?? h.count
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version.0, version.1]
    out += version.0 == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24 & 0xFF)]
    return out + h + data
}

func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
}

@Suite("npy")
struct NPYTests {
    @Test(arguments: [[], [0], [5], [2, 3], [1, 3, 4, 4], [2, 0, 3]] as [[Int]])
    func roundTrip(shape: [Int]) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let count = shape.reduce(1, *)
        let t = try HostTensor(shape: shape, data: (0..<count).map { Float($0) * 0.25 - 3 })
        let path = dir.file("t.npy")
        try NPY.write(t, to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect((bytes.count - 4 * count) % 64 == 0, "data must start at a multiple of 64")
        #expect(try NPY.read(path: path) == t)
        #expect(try dir.contents() == ["t.npy"])
    }

    @Test func specialValuesSurviveBitExactly() throws {
        let values: [Float] = [.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, Float(bitPattern: 0x7FC0_1234)]
        let back = try NPY.parse(bytes: NPY.encode(HostTensor(shape: [6], data: values)), path: "x")
        #expect(bits(back.data) == bits(values))
    }

    @Test func outputIsByteIdenticalToNumPy() throws {
        let ours = try NPY.encode(HostTensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        #expect(ours == Fixtures.bytes(Fixtures.numpyF32))
    }

    @Test func readsFilesWrittenByNumPy() throws {
        #expect(try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyF32), path: "a") == HostTensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5]))
        #expect(try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyF64), path: "b") == HostTensor(shape: [2, 2], data: [1.5, -2, .infinity, 3.25]))
        let half = try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyF16), path: "c")
        #expect(half.shape == [4])
        #expect(half.data == [1, -0.5, 65504, 0x1p-24])  // 6e-8 rounds to the smallest subnormal half
        #expect(try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyV2), path: "d") == HostTensor(shape: [3], data: [0, 1, 2]))
        #expect(try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyV3), path: "e") == HostTensor(shape: [], data: [7.5]))
    }

    @Test func rejectsUnsupportedFilesWrittenByNumPy() {
        expectTensorIOError("found '>f4' (big-endian") { _ = try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyBigEndian), path: "a") }
        expectTensorIOError("expected 'fortran_order': False (C order), found True") {
            _ = try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyFortran), path: "b")
        }
        expectTensorIOError("expected 'descr' to be one of '<f4', '<f8', '<f2', found '<i8'") {
            _ = try NPY.parse(bytes: Fixtures.bytes(Fixtures.numpyInt64), path: "c")
        }
    }

    static let header23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", [5]),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", []),
        ("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1,2,)}", [1, 2]),
        ("{ 'shape' : ( 2 , 1 ) , 'fortran_order' : False , 'descr' : '<f4' }", [2, 1]),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", [2, 1]),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", [2]),  // a parenthesised int is not a tuple: rejected below
    ] as [(String, [Int])])
    func acceptsHeaderSpellings(header: String, shape: [Int]) throws {
        let count = shape.reduce(1, *)
        let bytes = npy(header, data: f32Bytes([Float](repeating: 1, count: count)))
        if header.contains("(2)") {
            expectTensorIOError("expected 'shape' to be a tuple of integers, found the integer 2") { _ = try NPY.parse(bytes: bytes, path: "x") }
        } else {
            #expect(try NPY.parse(bytes: bytes, path: "x").shape == shape)
        }
    }

    static let malformed: [BadFile] = [
        BadFile(name: "empty file", bytes: [], expected: "expected the npy magic \\x93NUMPY, found a file of 0 bytes"),
        BadFile(name: "bad magic", bytes: Array("PK\u{3}\u{4}NUMPY\u{1}\u{0}".utf8), expected: "expected the npy magic \\x93NUMPY (93 4e 55 4d 50 59), found 50 4b 03 04 4e 55"),
        BadFile(name: "missing version", bytes: [0x93] + Array("NUMPY".utf8), expected: "expected 2 version bytes after the magic, found end of file"),
        BadFile(name: "bad version 4.0", bytes: npy(header23, version: (4, 0)), expected: "expected npy version 1.0, 2.0 or 3.0, found 4.0"),
        BadFile(name: "bad version 1.1", bytes: npy(header23, version: (1, 1)), expected: "found 1.1"),
        BadFile(name: "truncated header length", bytes: [0x93] + Array("NUMPY".utf8) + [1, 0, 0x76], expected: "expected a 2-byte header length, found end of file"),
        BadFile(name: "truncated header", bytes: Array(npy(header23).prefix(40)), expected: "expected a header length of at most 30 bytes (the rest of the file), found 118"),
        BadFile(name: "header length larger than file (v2)", bytes: npy(header23, version: (2, 0), declaredLength: 0xFFFF_FFFF),
                expected: "found 4294967295"),
        BadFile(name: "big-endian", bytes: npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: [0x3F, 0x80, 0, 0]),
                expected: "expected 'descr' to be one of '<f4', '<f8', '<f2', found '>f4' (big-endian; convert with array.astype('<f4'))"),
        BadFile(name: "fortran order", bytes: npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: f32Bytes([Float](repeating: 0, count: 6))),
                expected: "expected 'fortran_order': False (C order), found True"),
        BadFile(name: "fortran_order not bool", bytes: npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", data: [0, 0, 0, 0]),
                expected: "expected 'fortran_order' to be True or False, found the integer 0"),
        BadFile(name: "object dtype", bytes: npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0x80, 0x04]),
                expected: "found '|O' (an object array, which holds pickled Python objects)"),
        BadFile(name: "int dtype", bytes: npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]),
                expected: "expected 'descr' to be one of '<f4', '<f8', '<f2', found '<i4'"),
        BadFile(name: "structured dtype", bytes: npy("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]),
                expected: "found a list (a structured dtype), which is not supported"),
        BadFile(name: "garbage header", bytes: npy("hello world", data: []), expected: "invalid npy header: expected a literal (string, integer, True, False, None, tuple, list or dict), found 'hello'"),
        BadFile(name: "binary garbage header", bytes: npy("\u{1}\u{2}\u{3}"), expected: "invalid npy header: expected a value, found byte 0x1"),
        BadFile(name: "unterminated dict", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)"), expected: "expected ',' or '}' in dict"),
        BadFile(name: "header not a dict", bytes: npy("(1, 2)"), expected: "expected the npy header to be a dict literal, found a tuple"),
        BadFile(name: "code in header", bytes: npy("{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,)}"),
                expected: "found '__import__'"),
        BadFile(name: "missing shape", bytes: npy("{'descr': '<f4', 'fortran_order': False}"), expected: "expected header keys 'descr', 'fortran_order' and 'shape', found no 'shape'"),
        BadFile(name: "extra key", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", data: [0, 0, 0, 0]),
                expected: "found unexpected key 'x'"),
        BadFile(name: "duplicate key", bytes: npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", data: [0, 0, 0, 0]),
                expected: "found 'descr' twice"),
        BadFile(name: "negative shape", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }"),
                expected: "expected 'shape' to hold non-negative integers, found -3"),
        BadFile(name: "shape holds a string", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',), }"),
                expected: "expected 'shape' to hold integers, found '2'"),
        BadFile(name: "shape extent beyond 64 bits", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"),
                expected: "integers that fit in 64 bits"),
        BadFile(name: "float in shape", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }"),
                expected: "expected an integer, found '.' inside a number"),
        BadFile(name: "overflowing shape product", bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"),
                expected: "expected a shape whose element count fits in 64 bits, found [1099511627776, 1099511627776]"),
        BadFile(name: "overflowing data size", bytes: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }"),
                expected: "expected a data size that fits in 64 bits"),
        BadFile(name: "truncated data", bytes: npy(header23, data: [UInt8](repeating: 0, count: 20)),
                expected: "expected 24 bytes of data for shape [2, 3] of <f4, found 20"),
        BadFile(name: "shape mismatch vs data (too much data)", bytes: npy(header23, data: [UInt8](repeating: 0, count: 28)),
                expected: "expected 24 bytes of data for shape [2, 3] of <f4, found 28"),
        BadFile(name: "deep nesting", bytes: npy(String(repeating: "(", count: 5000)), expected: "nesting depth at most 32"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedFile(_ bad: BadFile) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write(bad.bytes, to: "bad.npy")
        expectTensorIOError(bad.expected) { _ = try NPY.read(path: path) }
    }

    @Test func writerRejectsInconsistentTensor() throws {
        var t = try HostTensor(shape: [2], data: [1, 2])
        t.shape = [3]
        expectTensorIOError("expected 3 elements for shape [3], found 2") { _ = try NPY.encode(t) }
    }
}
