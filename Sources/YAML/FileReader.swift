#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Diagnostics

/// Reads a spec file with POSIX calls, so that a directory, a device or a huge file is rejected
/// from `fstat` and a bounded read, never by allocating the whole thing first.
enum FileReader {
    static func load(path: String, maxBytes: Int) -> Result<[UInt8], Diagnostic> {
        guard !path.utf8.contains(0) else {
            return .failure(unreadable(path, "the path contains a NUL byte"))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(unreadable(path, errorText(errno))) }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(unreadable(path, errorText(errno))) }
        if info.st_mode & S_IFMT == S_IFDIR { return .failure(isDirectory(path)) }
        let limit = max(0, maxBytes)
        let size = Int(clamping: info.st_size)
        if info.st_mode & S_IFMT == S_IFREG, size > limit {
            return .failure(tooLarge(path, size: formatBytes(size), limit: limit))
        }
        return readAll(fd, path: path, limit: limit, expected: size)
    }

    /// Reads to end of file, but never more than `limit + 1` bytes: the file may have grown since
    /// `fstat`, and pipes and devices report no size at all.
    private static func readAll(_ fd: Int32, path: String, limit: Int, expected: Int) -> Result<[UInt8], Diagnostic> {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(max(expected, 0), limit) + 1)
        let chunkSize = 1 << 16
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let want = min(chunkSize, limit.addingSaturating(1) - bytes.count)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EISDIR { return .failure(isDirectory(path)) }
                return .failure(unreadable(path, errorText(errno)))
            }
            if n == 0 { return .success(bytes) }
            bytes += chunk[0..<n]
            if bytes.count > limit {
                return .failure(tooLarge(path, size: "more than \(formatBytes(limit))", limit: limit))
            }
        }
    }

    private static func unreadable(_ path: String, _ reason: String) -> Diagnostic {
        Diagnostic(.fileUnreadable, "cannot read '\(path)': \(reason)", at: nil)
    }

    private static func isDirectory(_ path: String) -> Diagnostic {
        Diagnostic(.fileUnreadable, "'\(path)' is a directory, not a spec file", at: nil)
    }

    private static func tooLarge(_ path: String, size: String, limit: Int) -> Diagnostic {
        Diagnostic(.fileTooLarge, "'\(path)' is too large: expected at most \(formatBytes(limit)), found \(size)", at: nil)
    }

    /// strerror's text, lowercased to match the other messages ("no such file or directory").
    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text).lowercased()
    }
}

/// 16777216 → "16 MiB", 100 → "100 bytes".
func formatBytes(_ n: Int) -> String {
    if n >= 1 << 20, n % (1 << 20) == 0 { return "\(n >> 20) MiB" }
    if n >= 1 << 10, n % (1 << 10) == 0 { return "\(n >> 10) KiB" }
    return n == 1 ? "1 byte" : "\(formatCount(n)) bytes"
}
