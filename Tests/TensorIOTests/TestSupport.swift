import Foundation
import Testing
@testable import TensorIO

/// A fresh directory under the system temp directory, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tensorio-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let p = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Deterministic PRNG for the mutation tests (SplitMix64), so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Applies one random mutation: overwrite bytes, truncate, insert, delete, or plant an
/// "interesting" value (0x00, 0xFF, 0x7F, 0x80, an ASCII digit or JSON/Python punctuation).
func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
    var bytes = input
    guard !bytes.isEmpty else { return [UInt8.random(in: 0...255, using: &rng)] }
    switch Int.random(in: 0..<6, using: &rng) {
    case 0:
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
    case 1:
        bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
    case 2:
        let at = Int.random(in: 0...bytes.count, using: &rng)
        bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
    case 3:
        let at = Int.random(in: 0..<bytes.count, using: &rng)
        bytes.removeSubrange(at ..< min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
    case 4:
        let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x30, 0x39, 0x2D, 0x2C, 0x5B, 0x5D, 0x7B, 0x7D, 0x22, 0x27, 0x28, 0x29]
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = interesting.randomElement(using: &rng) ?? 0
        }
    default:
        // Mutate within the first 128 bytes, where the headers and length fields live.
        let at = Int.random(in: 0..<min(128, bytes.count), using: &rng)
        bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
    }
    return bytes
}

/// Expects `body` to throw a `TensorIOError` whose message contains `fragment`, is lowercase at
/// the start, and whose description follows `path[:offset N]: error: message`.
func expectTensorIOError(_ fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a TensorIOError containing \"\(fragment)\", but no error was thrown", sourceLocation: sourceLocation)
    } catch let error as TensorIOError {
        #expect(error.message.contains(fragment), "message \"\(error.message)\" does not contain \"\(fragment)\"", sourceLocation: sourceLocation)
        if let first = error.message.first {
            #expect(!first.isUppercase, "message should start lowercase: \(error.message)", sourceLocation: sourceLocation)
        }
        let prefix = error.offset.map { "\(error.path):offset \($0): error: " } ?? "\(error.path): error: "
        #expect(error.description == prefix + error.message, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a TensorIOError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
}

/// Bitwise equality, so NaN payloads and -0 are compared exactly.
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// The pixels behind `Fixtures.dynamic` (same LCG as the Python generator).
func lcgPixels(count: Int, seed: UInt32) -> [UInt8] {
    var s = seed
    var out: [UInt8] = []
    for _ in 0..<count {
        s = s &* 1_664_525 &+ 1_013_904_223
        let v = UInt8(s >> 24)
        out.append(v < 128 ? 0 : v)
    }
    return out
}

func u64le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func u32be(_ v: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// A malformed-input case for the parameterized tables.
struct BadFile: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let expected: String
    var fileName: String = "bad.bin"

    var testDescription: String { name }
}
