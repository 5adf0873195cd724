#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reading a whole file, bounded by what the file really holds.
///
/// Why not `Data(contentsOf:)`: for a non-regular file (a FIFO, `/dev/zero`, a directory) it
/// either blocks, reads without end or fails with an unhelpful message; and a memory-mapped file
/// that another process truncates turns later reads into SIGBUS. Here the file is opened
/// non-blocking, must be a regular file, and exactly `st_size` bytes are copied into memory, so
/// the allocation is bounded by the real size and every later access is an ordinary bounds-checked
/// array access.
enum FileBytes {
    static func read(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw TensorIOError(path: path, "cannot open file: \(errnoMessage(errno))")
        }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TensorIOError(path: path, "cannot inspect file: \(errnoMessage(errno))")
        }
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFREG else {
            throw TensorIOError(path: path, "expected a regular file, found \(fileKind(kind))")
        }
        guard info.st_size >= 0, let size = Int(exactly: info.st_size) else {
            throw TensorIOError(path: path, "expected a non-negative file size, found \(info.st_size)")
        }
        if size == 0 { return [] }

        var failure: TensorIOError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            guard let base = buffer.baseAddress else {
                initialized = 0
                failure = TensorIOError(path: path, "cannot allocate \(size) bytes")
                return
            }
            while done < size {
                let n = posixRead(fd, base + done, size - done)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    failure = TensorIOError(path: path, offset: done, "cannot read file: \(errnoMessage(errno))")
                    break
                }
                if n == 0 {
                    failure = TensorIOError(path: path, offset: done,
                                            "expected \(size) bytes (the file size), found end of file after \(done); was the file truncated while reading?")
                    break
                }
                done += n
            }
            // Bytes past `done` are never exposed: on failure the array is discarded below.
            initialized = failure == nil ? size : 0
        }
        if let failure { throw failure }
        return bytes
    }

    static func errnoMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return lowercasedFirst(String(cString: text))
    }

    static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }

    private static func fileKind(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a fifo"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }
}

/// `read(2)`, under a name that the static `FileBytes.read(path:)` does not shadow.
@inline(__always)
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// Little- and big-endian integer loads from a byte array. Callers check the position against
/// `count` first (with overflow-safe arithmetic); the array subscript's own bounds check is a
/// second line of defence that only a bug in this module could reach.
extension Array where Element == UInt8 {
    @inline(__always)
    func u16le(_ at: Int) -> UInt16 {
        UInt16(self[at]) | UInt16(self[at + 1]) << 8
    }

    @inline(__always)
    func u32le(_ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(self[at + i]) }
        return v
    }

    @inline(__always)
    func u64le(_ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(self[at + i]) }
        return v
    }

    @inline(__always)
    func u32be(_ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(self[at + i]) }
        return v
    }
}

/// Conversions from the on-disk element types to `Float`, done bytewise so they are independent
/// of host endianness and alignment.
enum ElementDecode {
    /// IEEE 754 binary16 to binary32, exact (every half is representable as a float), including
    /// subnormals, infinities and NaN payloads.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal half: normalise.
            var e: UInt32 = 127 - 15 + 1
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            mantissa &= 0x3FF
            return Float(bitPattern: sign | e << 23 | mantissa << 13)
        }
        return Float(bitPattern: sign | (exponent + 127 - 15) << 23 | mantissa << 13)
    }

    /// bfloat16 is the upper half of a binary32.
    @inline(__always)
    static func bfloat16ToFloat(_ b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Little-endian float32 elements `count` at byte `begin` of `bytes` (range checked by caller).
    static func float32LE(_ bytes: [UInt8], begin: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[begin ..< begin + count * 4]))
            }
        }
        #if _endian(big)
        for i in out.indices { out[i] = Float(bitPattern: out[i].bitPattern.byteSwapped) }
        #endif
        return out
    }

    static func float16LE(_ bytes: [UInt8], begin: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = halfToFloat(bytes.u16le(begin + 2 * i)) }
        return out
    }

    static func bfloat16LE(_ bytes: [UInt8], begin: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = bfloat16ToFloat(bytes.u16le(begin + 2 * i)) }
        return out
    }

    /// float64 narrowed to float32 (round to nearest; magnitudes beyond Float's range become ±inf).
    static func float64LE(_ bytes: [UInt8], begin: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = Float(Double(bitPattern: bytes.u64le(begin + 8 * i))) }
        return out
    }

    /// Float32 elements as little-endian bytes.
    static func appendFloat32LE(_ values: [Float], to out: inout [UInt8]) {
        #if _endian(little)
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        #else
        for v in values {
            let bits = v.bitPattern
            for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: bits >> (8 * k))) }
        }
        #endif
    }
}
