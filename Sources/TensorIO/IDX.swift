import Foundation

/// An unsigned-byte IDX array: extents (outermost first) and the bytes in row-major order.
public struct IDXArray: Sendable, Equatable {
    public var dims: [Int]
    public var data: [UInt8]

    public init(dims: [Int], data: [UInt8]) {
        self.dims = dims
        self.data = data
    }

    /// The array as a float tensor, each byte multiplied by `scale` (1/255 maps pixels to [0, 1]).
    public func tensor(scale: Float = 1) throws -> HostTensor {
        try HostTensor(shape: dims, data: data.map { Float($0) * scale })
    }
}

/// The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
/// `00 00 <type> <ndims>`, `ndims` big-endian u32 extents, then the elements.
///
/// Why: MNIST (and Fashion-MNIST, EMNIST) ship in this format, usually gzip-compressed, and they
/// are the smallest real data sets to check a compiled network end to end.
///
/// Only the unsigned-byte element type (0x08) is read — that is what the image (`0x00000803`,
/// 3 dims) and label (`0x00000801`, 1 dim) files use; other IDX element types are rejected by
/// name. The data must be exactly the product of the extents. Files whose name ends in `.gz` are
/// decompressed first with the built-in `Gzip` decoder (no zlib, no subprocess), capped at
/// `Gzip.defaultLimit` bytes (256 MiB; MNIST's largest file is 47 MB).
public enum IDX {
    public static func read(path: String) throws -> IDXArray {
        let raw = try FileBytes.read(path: path)
        if path.hasSuffix(".gz") {
            guard Gzip.isGzip(raw) else {
                let found = raw.prefix(2).map { String(format: "%02x", $0) }.joined(separator: " ")
                throw TensorIOError(path: path, offset: 0,
                                    "expected the gzip magic 1f 8b (the file name ends in .gz), found \(found.isEmpty ? "an empty file" : found)")
            }
            return try parse(bytes: Gzip.decompress(raw, path: path), path: path)
        }
        return try parse(bytes: raw, path: path)
    }

    /// Parses uncompressed IDX bytes; `path` is only used in error messages.
    public static func parse(bytes: [UInt8], path: String) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw TensorIOError(path: path, offset: 0, "expected a 4-byte idx magic number, found a file of \(bytes.count) bytes")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let found = bytes[0..<4].map { String(format: "%02x", $0) }.joined(separator: " ")
            let hint = Gzip.isGzip(bytes) ? " (the file looks gzip-compressed; name it with a .gz suffix)" : ""
            throw TensorIOError(path: path, offset: 0,
                                "expected an idx magic number 00 00 08 <ndims> (e.g. 00000803 for images, 00000801 for labels), found \(found)\(hint)")
        }
        let type = bytes[2]
        guard type == 0x08 else {
            let names: [UInt8: String] = [0x09: "signed byte", 0x0B: "i16", 0x0C: "i32", 0x0D: "f32", 0x0E: "f64"]
            let name = names[type].map { "0x0\(String(type, radix: 16)) (\($0))" } ?? "0x" + String(format: "%02x", type)
            throw TensorIOError(path: path, offset: 2, "expected idx element type 0x08 (unsigned byte), found \(name)")
        }
        let ndims = Int(bytes[3])
        guard ndims >= 1 else {
            throw TensorIOError(path: path, offset: 3, "expected at least 1 dimension in the idx magic number, found 0")
        }
        let dataStart = 4 + 4 * ndims
        guard bytes.count >= dataStart else {
            throw TensorIOError(path: path, offset: bytes.count,
                                "expected \(ndims) big-endian u32 extents (\(4 * ndims) bytes) after the magic number, found \(bytes.count - 4) bytes")
        }
        var dims: [Int] = []
        for i in 0..<ndims { dims.append(Int(bytes.u32be(4 + 4 * i))) }
        let count = try HostTensor.elementCount(of: dims, path: path, offset: 4)
        let available = bytes.count - dataStart
        guard available == count else {
            throw TensorIOError(path: path, offset: dataStart,
                                "expected \(count) bytes of data for dims \(HostTensor.render(dims)), found \(available)")
        }
        return IDXArray(dims: dims, data: Array(bytes[dataStart...]))
    }

    /// Encodes unsigned-byte IDX (for tests and for writing small data sets).
    public static func encode(_ array: IDXArray, path: String = "<memory>") throws -> [UInt8] {
        guard (1...255).contains(array.dims.count) else {
            throw TensorIOError(path: path, "expected 1 to 255 dimensions, found \(array.dims.count)")
        }
        for d in array.dims where d < 0 || d > Int(UInt32.max) {
            throw TensorIOError(path: path, "expected extents in 0...\(UInt32.max), found \(d)")
        }
        let count = try HostTensor.elementCount(of: array.dims, path: path)
        guard count == array.data.count else {
            throw TensorIOError(path: path, "expected \(count) bytes for dims \(HostTensor.render(array.dims)), found \(array.data.count)")
        }
        var out: [UInt8] = [0, 0, 0x08, UInt8(array.dims.count)]
        for d in array.dims {
            let v = UInt32(d)
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        return out + array.data
    }
}
