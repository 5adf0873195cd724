#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writing a file so that readers see either the old content or the complete new content, never
/// a prefix.
///
/// Why: weights and checkpoints are large and are written while other processes (a training
/// loop, a server) may read them; a crash, a full disk or a kill in the middle of a plain write
/// would leave a truncated file that later fails to load — or worse, destroys the only copy.
///
/// How: the bytes go to a fresh temporary file in the *same directory* (so `rename` stays on one
/// file system and is atomic), which is `fsync`ed, then renamed over the target; finally the
/// directory is `fsync`ed so that the rename itself is durable. On any failure the temporary file
/// is removed and the target is untouched. If the target already exists, its permission bits are
/// kept. (A target that is a symbolic link is replaced by a regular file, as with `mv`.)
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(data, to: path, beforeRename: nil)
    }

    /// `beforeRename` lets tests simulate a failure after the temporary file is complete.
    static func write(_ data: Data, to path: String, beforeRename: ((String) throws -> Void)?) throws {
        guard !path.isEmpty else {
            throw TensorIOError(path: path, "expected a file path, found an empty string")
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent

        // Keep the mode of an existing target; otherwise 0644 filtered by the umask.
        var mode: mode_t = 0o644
        var existing = stat()
        let targetExists = stat(path, &existing) == 0
        if targetExists {
            if existing.st_mode & S_IFMT == S_IFDIR {
                throw TensorIOError(path: path, "expected a file path, found a directory")
            }
            mode = existing.st_mode & 0o7777
        }

        var tempPath = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0 ... UInt64.max), radix: 36)
            tempPath = (directory as NSString).appendingPathComponent(".\(name).tmp-\(suffix)")
            fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw TensorIOError(path: path, "cannot create temporary file in \(directory): \(FileBytes.errnoMessage(errno))")
        }

        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(tempPath) }
        }

        // O_CREAT's mode is filtered by the umask; an existing target's mode should survive exactly.
        if targetExists { _ = fchmod(fd, mode) }

        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < raw.count {
                let n = posixWrite(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TensorIOError(path: path, offset: done, "cannot write temporary file: \(FileBytes.errnoMessage(errno))")
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else {
            throw TensorIOError(path: path, "cannot flush temporary file to disk: \(FileBytes.errnoMessage(errno))")
        }
        closed = true
        guard close(fd) == 0 else {
            throw TensorIOError(path: path, "cannot close temporary file: \(FileBytes.errnoMessage(errno))")
        }

        try beforeRename?(tempPath)

        guard rename(tempPath, path) == 0 else {
            throw TensorIOError(path: path, "cannot rename temporary file over the target: \(FileBytes.errnoMessage(errno))")
        }
        renamed = true

        // Make the rename durable. Best effort: some file systems refuse fsync on directories.
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }
}

/// `write(2)`, under a name that the static `AtomicFile.write` does not shadow.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
