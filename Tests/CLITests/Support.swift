import Foundation
import ModelcCLI
import TensorIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths of the repository, found from this file so tests run from any working directory.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static func spec(_ name: String) -> String { path("Specs/\(name).yaml") }
}

/// What one in-process `modelc` invocation did.
struct Outcome: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// File descriptors 1 and 2 are process-wide: one capture at a time.
private let captureLock = NSLock()

/// Runs `modelcMain(args)` with stdout and stderr redirected (dup2) to temporary files.
func modelc(_ args: [String]) -> Outcome {
    captureLock.lock()
    defer { captureLock.unlock() }
    let dir = NSTemporaryDirectory() + "modelc-capture-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outPath = dir + "/stdout", errPath = dir + "/stderr"
    fflush(nil)
    let outFD = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let errFD = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let savedOut = dup(1), savedErr = dup(2)
    dup2(outFD, 1)
    dup2(errFD, 2)
    let status = modelcMain(args)
    fflush(nil)
    dup2(savedOut, 1)
    dup2(savedErr, 2)
    for fd in [outFD, errFD, savedOut, savedErr] { close(fd) }
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return Outcome(status: status, stdout: out, stderr: err)
}

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "modelc-cli-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Float(Double(z >> 11) * 0x1p-53 * 2 - 1)
    }
}

/// A safetensors file of arbitrary dtypes, written byte by byte (TensorIO's writer is F32 only).
func writeRawSafeTensors(_ entries: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])], to path: String) throws {
    var offset = 0
    var items: [String] = []
    for e in entries {
        items.append("\"\(e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
        offset += e.bytes.count
    }
    var header = Array(("{" + items.joined(separator: ",") + "}").utf8)
    header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
    var out: [UInt8] = []
    let n = UInt64(header.count)
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * k))) }
    out += header
    for e in entries { out += e.bytes }
    try Data(out).write(to: URL(fileURLWithPath: path))
}

func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
}

func int64Bytes(_ values: [Int64]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * $0)) } }
}

/// max |a - b| and max |b|.
func maxDifference(_ a: [Float], _ b: [Float]) -> (diff: Float, scale: Float) {
    var d: Float = 0, s: Float = 0
    for (x, y) in zip(a, b) {
        d = max(d, abs(x - y))
        s = max(s, abs(y))
    }
    return (d, s)
}
