import Foundation
import Testing
@testable import TensorIO

/// A safetensors file from a header string and a data buffer; the header is padded with spaces to
/// a multiple of 8 unless `declaredLength` overrides the length field.
func safetensors(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil, pad: Bool = true) -> [UInt8] {
    var h = Array(header.utf8)
    if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
    return u64le(declaredLength ?? UInt64(h.count)) + h + data
}

@Suite("safetensors")
struct SafeTensorsTests {
    @Test func roundTrip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("model.safetensors")
        let weird: [Float] = [.nan, -.nan, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, Float(bitPattern: 0x0001_1170)]
        let tensors: [(name: String, tensor: HostTensor)] = [
            ("conv1.weight", try HostTensor(shape: [2, 1, 2, 2], data: (0..<8).map { Float($0) * 0.5 - 1 })),
            ("a.scalar", try HostTensor(shape: [], data: [42])),
            ("empty", try HostTensor(shape: [0, 3], data: [])),
            ("special", try HostTensor(shape: [8], data: weird)),
            ("ünï\"cødé\n", try HostTensor(shape: [1], data: [7])),
        ]
        try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and \u{1}"], to: path)
        let file = try SafeTensors.read(path: path)
        #expect(file.names == tensors.map(\.name).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(file.metadata == ["format": "pt", "note": "quote \" and \\ and \u{1}"])
        for (name, t) in tensors {
            let back = try file.tensor(named: name)
            #expect(back.shape == t.shape)
            #expect(bits(back.data) == bits(t.data))
            #expect(try file.dtype(of: name) == .f32)
        }
        #expect(try dir.contents() == ["model.safetensors"])
    }

    @Test func emptyFileRoundTrip() throws {
        let bytes = try SafeTensors.encode([], metadata: [:])
        #expect(bytes == u64le(8) + Array("{}      ".utf8))
        let file = try SafeTensors.parse(bytes: bytes, path: "e")
        #expect(file.names.isEmpty && file.metadata.isEmpty)
    }

    @Test func outputIsByteIdenticalToReferenceWriter() throws {
        let reference = Fixtures.bytes(Fixtures.referenceSafetensors)
        #expect(reference.count == 320)
        let ours = try SafeTensors.encode([
            ("weight", try HostTensor(shape: [2, 3], data: [0, 1, 2, 3, 4, 5])),
            ("bias", try HostTensor(shape: [3], data: [1.5, -2.25, 1e-3])),
            ("Zeta", try HostTensor(shape: [], data: [3])),
            ("émoji\"q", try HostTensor(shape: [0, 4], data: [])),
        ], metadata: ["format": "pt"])
        #expect(ours == reference)
        let file = try SafeTensors.parse(bytes: reference, path: "ref")
        #expect(file.names == ["Zeta", "bias", "weight", "émoji\"q"])
        #expect(try file.tensor(named: "bias").data == [1.5, -2.25, 1e-3])
    }

    @Test func writingIsDeterministic() throws {
        let a = try HostTensor(shape: [2], data: [1, 2])
        let b = try HostTensor(shape: [1], data: [3])
        let m = ["z": "1", "a": "2", "m": "3"]
        let one = try SafeTensors.encode([("b", b), ("a", a)], metadata: m)
        let two = try SafeTensors.encode([("a", a), ("b", b)], metadata: m)
        #expect(one == two)
        #expect((one.count - 12) % 8 == 0, "the header is padded to a multiple of 8")
    }

    /// The bytes `safetensors.torch.save_file` produces for a small torchvision-style state dict:
    /// tensors sorted by dtype alignment then name (I64, F32, then the 2-byte types), compact JSON
    /// with `__metadata__` first, header padded with spaces to a multiple of 8.
    @Test func readsFileInTorchSaveFileLayout() throws {
        let header = #"{"__metadata__":{"format":"pt"},"#
            + #""bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
            + #""bn.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"#
            + #""conv.weight":{"dtype":"F16","shape":[2,3],"data_offsets":[16,28]},"#
            + #""fc.bias":{"dtype":"BF16","shape":[3],"data_offsets":[28,34]}}"#
        var data: [UInt8] = u64le(1234)
        for f: Float in [0.25, -8] { data += withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init) }
        // F16: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), +inf
        for h: UInt16 in [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00] { data += [UInt8(h & 0xFF), UInt8(h >> 8)] }
        // BF16: 1, -3.5, 0.15625
        for b: UInt16 in [0x3F80, 0xC060, 0x3E20] { data += [UInt8(b & 0xFF), UInt8(b >> 8)] }
        let bytes = safetensors(header, data: data)
        #expect((bytes.count - data.count) % 8 == 0)

        let dir = try TempDir()
        defer { dir.cleanup() }
        let file = try SafeTensors.read(path: try dir.write(bytes, to: "resnet.safetensors"))
        #expect(file.names == ["bn.num_batches_tracked", "bn.running_mean", "conv.weight", "fc.bias"])
        #expect(file.metadata == ["format": "pt"])

        #expect(try file.shape(of: "bn.num_batches_tracked") == [])
        #expect(try file.dtype(of: "bn.num_batches_tracked") == .i64)
        #expect(try file.int64Values(named: "bn.num_batches_tracked") == [1234])

        #expect(try file.tensor(named: "bn.running_mean") == HostTensor(shape: [2], data: [0.25, -8]))
        let conv = try file.tensor(named: "conv.weight")
        #expect(conv.shape == [2, 3])
        #expect(conv.data == [1, -2, 0.5, 65504, 0x1p-24, .infinity])
        #expect(try file.tensor(named: "fc.bias").data == [1, -3.5, 0.15625])

        expectTensorIOError("expected a floating-point dtype") { _ = try file.tensor(named: "bn.num_batches_tracked") }
        expectTensorIOError("expected an integer or BOOL dtype") { _ = try file.int64Values(named: "conv.weight") }
        expectTensorIOError("expected a tensor named \"nope\"") { _ = try file.tensor(named: "nope") }
    }

    @Test func readsOtherDtypes() throws {
        let header = #"{"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]},"#
            + #""i8":{"dtype":"I8","shape":[1],"data_offsets":[2,3]},"#
            + #""i16":{"dtype":"I16","shape":[1],"data_offsets":[3,5]},"#
            + #""i32":{"dtype":"I32","shape":[1],"data_offsets":[5,9]},"#
            + #""u64":{"dtype":"U64","shape":[1],"data_offsets":[9,17]},"#
            + #""f64":{"dtype":"F64","shape":[2],"data_offsets":[17,33]},"#
            + #""big":{"dtype":"U64","shape":[1],"data_offsets":[33,41]}}"#
        var data: [UInt8] = [1, 0, 0xFE, 0xFF, 0x7F, 0xFE, 0xFF, 0xFF, 0xFF]
        data += u64le(5)
        data += u64le((1.5 as Double).bitPattern) + u64le((1e300 as Double).bitPattern)
        data += u64le(UInt64.max)
        let file = try SafeTensors.parse(bytes: safetensors(header, data: data), path: "x")
        #expect(try file.int64Values(named: "b") == [1, 0])
        #expect(try file.int64Values(named: "i8") == [-2])
        #expect(try file.int64Values(named: "i16") == [0x7FFF])
        #expect(try file.int64Values(named: "i32") == [-2])
        #expect(try file.int64Values(named: "u64") == [5])
        #expect(try file.tensor(named: "f64").data == [1.5, .infinity])
        expectTensorIOError("expected U64 values at most") { _ = try file.int64Values(named: "big") }
        #expect(Array(try file.rawBytes(named: "i16")) == [0xFF, 0x7F])
    }

    @Test func writerRejectsInconsistentInput() throws {
        let t = try HostTensor(shape: [1], data: [1])
        expectTensorIOError("unique tensor names") { _ = try SafeTensors.encode([("a", t), ("a", t)]) }
        expectTensorIOError("\"__metadata__\"") { _ = try SafeTensors.encode([("__metadata__", t)]) }
        var broken = t
        broken.shape = [3]
        expectTensorIOError("expected 3 elements") { _ = try SafeTensors.encode([("a", broken)]) }
    }

    static let f32 = #""dtype":"F32""#

    static let malformed: [BadFile] = [
        BadFile(name: "empty file", bytes: [], expected: "expected an 8-byte header length, found a file of 0 bytes"),
        BadFile(name: "truncated header length", bytes: [16, 0, 0], expected: "expected an 8-byte header length"),
        BadFile(name: "header length larger than file", bytes: u64le(64) + Array("{}".utf8),
                expected: "expected a header length of at most 2 bytes (the rest of the file), found 64"),
        BadFile(name: "huge header length 2^63", bytes: u64le(1 << 63) + Array("{}".utf8),
                expected: "expected a header length of at most 100000000 bytes, found 9223372036854775808"),
        BadFile(name: "header length all ones", bytes: u64le(.max), expected: "at most 100000000 bytes"),
        BadFile(name: "header length 0", bytes: u64le(0), expected: "json object header of at least 2 bytes"),
        BadFile(name: "invalid json", bytes: safetensors(#"{"a": {"dtype": "F32",, }"#), expected: "invalid json header: expected a string key in object, found ','"),
        BadFile(name: "unterminated json", bytes: safetensors(#"{"a": {"#, pad: false), expected: "invalid json header"),
        BadFile(name: "trailing garbage after json", bytes: safetensors(#"{} x"#), expected: "expected end of json header"),
        BadFile(name: "json array instead of object", bytes: safetensors("[1, 2]"), expected: "expected the header to be a json object, found an array"),
        BadFile(name: "json string instead of object", bytes: safetensors(#""hi""#), expected: "found the string \"hi\""),
        BadFile(name: "deep nesting", bytes: safetensors(String(repeating: "[", count: 10000)), expected: "nesting depth at most 64"),
        BadFile(name: "invalid utf-8 in name", bytes: u64le(8) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D, 0x20], expected: "valid utf-8"),
        BadFile(name: "duplicate tensor name",
                bytes: safetensors(#"{"a":{\#(f32),"shape":[],"data_offsets":[0,4]},"a":{\#(f32),"shape":[],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected unique keys in object, found \"a\" twice"),
        BadFile(name: "duplicate field in entry",
                bytes: safetensors(#"{"a":{\#(f32),"shape":[],"dtype":"F16","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected unique keys in object, found \"dtype\" twice"),
        BadFile(name: "duplicate metadata",
                bytes: safetensors(#"{"__metadata__":{},"__metadata__":{}}"#),
                expected: "found \"__metadata__\" twice"),
        BadFile(name: "too many dimensions",
                bytes: safetensors(#"{"a":{\#(f32),"shape":[\#(Array(repeating: "1", count: 1025).joined(separator: ","))],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected shape to have at most 1024 entries, found more"),
        BadFile(name: "entry not an object", bytes: safetensors(#"{"a": 5}"#), expected: "tensor \"a\": expected an object with dtype, shape and data_offsets, found the number 5"),
        BadFile(name: "missing dtype", bytes: safetensors(#"{"a":{"shape":[],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected a \"dtype\" field, found none"),
        BadFile(name: "unknown dtype", bytes: safetensors(#"{"a":{"dtype":"F24","shape":[1],"data_offsets":[0,3]}}"#, data: [0, 0, 0]),
                expected: "expected a known dtype (BOOL, U8"),
        BadFile(name: "unknown dtype named", bytes: safetensors(#"{"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
                expected: "found \"Q8\""),
        BadFile(name: "dtype not a string", bytes: safetensors(#"{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected dtype to be a string, found the number 4"),
        BadFile(name: "negative shape", bytes: safetensors(#"{"a":{\#(f32),"shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected shape to hold non-negative integers, found -1"),
        BadFile(name: "fractional shape", bytes: safetensors(#"{"a":{\#(f32),"shape":[2.0],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                expected: "expected shape to hold integers that fit in 64 bits, found 2.0"),
        BadFile(name: "shape extent beyond 64 bits", bytes: safetensors(#"{"a":{\#(f32),"shape":[18446744073709551616],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "integers that fit in 64 bits, found 18446744073709551616"),
        BadFile(name: "shape not an array", bytes: safetensors(#"{"a":{\#(f32),"shape":"2x2","data_offsets":[0,16]}}"#),
                expected: "expected shape to be an array of integers"),
        BadFile(name: "overflowing shape product", bytes: safetensors(#"{"a":{\#(f32),"shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected a shape whose element count fits in 64 bits, found [1099511627776, 1099511627776]"),
        BadFile(name: "overflowing byte size", bytes: safetensors(#"{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected a byte size that fits in 64 bits"),
        BadFile(name: "offsets out of range", bytes: safetensors(#"{"a":{\#(f32),"shape":[100],"data_offsets":[0,400]}}"#, data: [0, 0, 0, 0]),
                expected: "expected data_offsets end <= 4 (the data buffer size), found [0, 400]"),
        BadFile(name: "huge offsets", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}"#, data: [0, 0, 0, 0]),
                expected: "expected data_offsets end <= 4"),
        BadFile(name: "begin > end", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]),
                expected: "expected data_offsets begin <= end, found [4, 0]"),
        BadFile(name: "negative offset", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[-4,0]}}"#, data: [0, 0, 0, 0]),
                expected: "expected data_offsets to hold non-negative integers, found -4"),
        BadFile(name: "three offsets", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[0,2,4]}}"#, data: [0, 0, 0, 0]),
                expected: "expected data_offsets to be [begin, end], found 3 numbers"),
        BadFile(name: "size not matching shape", bytes: safetensors(#"{"a":{\#(f32),"shape":[2,3],"data_offsets":[0,20]}}"#, data: [UInt8](repeating: 0, count: 20)),
                expected: "expected 24 bytes for shape [2, 3] of F32, found data_offsets [0, 20] spanning 20"),
        BadFile(name: "truncated data", bytes: safetensors(#"{"a":{\#(f32),"shape":[6],"data_offsets":[0,24]}}"#, data: [UInt8](repeating: 0, count: 10)),
                expected: "expected data_offsets end <= 10 (the data buffer size), found [0, 24]"),
        BadFile(name: "overlapping offsets",
                bytes: safetensors(#"{"a":{\#(f32),"shape":[2],"data_offsets":[0,8]},"b":{\#(f32),"shape":[2],"data_offsets":[4,12]}}"#, data: [UInt8](repeating: 0, count: 12)),
                expected: "tensor \"b\": expected data to start at or after 8 where tensor \"a\" ends, found data_offsets [4, 12] overlapping it"),
        BadFile(name: "same offsets twice",
                bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[0,4]},"b":{\#(f32),"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                expected: "overlapping it"),
        BadFile(name: "gap between tensors", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                expected: "expected data to start at buffer offset 0, found 4 (a gap of unused bytes)"),
        BadFile(name: "trailing bytes after last tensor", bytes: safetensors(#"{"a":{\#(f32),"shape":[1],"data_offsets":[0,4]}}"#, data: [UInt8](repeating: 0, count: 9)),
                expected: "expected the tensors to cover the 9-byte data buffer, found 5 bytes after the last tensor"),
        BadFile(name: "metadata not an object", bytes: safetensors(#"{"__metadata__":[1]}"#), expected: "\"__metadata__\": expected an object of strings, found an array"),
        BadFile(name: "metadata value not a string", bytes: safetensors(#"{"__metadata__":{"epoch":3}}"#),
                expected: "expected a string value for key \"epoch\", found the number 3"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedFile(_ bad: BadFile) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = try dir.write(bad.bytes, to: "bad.safetensors")
        expectTensorIOError(bad.expected) { _ = try SafeTensors.read(path: path) }
    }

    @Test func errorsCarryFileOffsets() throws {
        let bytes = safetensors(#"{"a":{\#(Self.f32),"shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        do {
            _ = try SafeTensors.parse(bytes: bytes, path: "m.safetensors")
            Issue.record("expected an error")
        } catch let error as TensorIOError {
            let at = try #require(error.offset)
            #expect(bytes[at] == UInt8(ascii: "-"))
            #expect(error.description.hasPrefix("m.safetensors:offset \(at): error: tensor \"a\": expected shape"))
        }
    }

    @Test func rejectsNonRegularFilesAndMissingFiles() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        expectTensorIOError("expected a regular file, found a directory") { _ = try SafeTensors.read(path: dir.path) }
        expectTensorIOError("cannot open file: no such file or directory") { _ = try SafeTensors.read(path: dir.file("missing")) }
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        expectTensorIOError("expected a regular file, found a fifo") { _ = try SafeTensors.read(path: fifo) }
    }
}
