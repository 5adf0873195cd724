import Foundation
import Testing
@testable import TensorIO

/// Seeded random mutations of valid files. The property: a reader either succeeds or throws a
/// `TensorIOError` — any other error is a test failure, and a crash would end the test process.
@Suite("mutations")
struct MutationTests {
    static let iterations = 400

    /// Runs `body`; returns whether it succeeded. Records any error that is not a TensorIOError.
    static func check(_ label: String, _ body: () throws -> Void) -> Bool {
        do {
            try body()
            return true
        } catch is TensorIOError {
            return false
        } catch {
            Issue.record("\(label): expected success or a TensorIOError, got \(type(of: error)): \(error)")
            return false
        }
    }

    static func validSafetensors() throws -> [UInt8] {
        let header = #"{"__metadata__":{"format":"pt"},"#
            + #""n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
            + #""w":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},"#
            + #""h":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},"#
            + #""b":{"dtype":"BF16","shape":[1],"data_offsets":[30,32]}}"#
        return safetensors(header, data: (0..<32).map { UInt8($0 * 7 & 0xFF) })
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func safetensorsMutations(seed: UInt64) throws {
        let valid = try Self.validSafetensors()
        _ = try SafeTensors.parse(bytes: valid, path: "valid")
        var rng = SplitMix64(seed: seed)
        var accepted = 0
        for i in 0..<Self.iterations {
            let bytes = mutate(valid, using: &rng)
            let ok = Self.check("safetensors seed \(seed) #\(i)") {
                let file = try SafeTensors.parse(bytes: bytes, path: "m")
                for name in file.names {
                    _ = Self.check("convert") { _ = try file.tensor(named: name) }
                    _ = Self.check("convert") { _ = try file.int64Values(named: name) }
                }
            }
            if ok { accepted += 1 }
        }
        #expect(accepted < Self.iterations, "some mutations must be rejected")
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func npyMutations(seed: UInt64) throws {
        let valid = try NPY.encode(HostTensor(shape: [2, 3, 4], data: (0..<24).map(Float.init)))
        var rng = SplitMix64(seed: seed)
        for i in 0..<Self.iterations {
            let bytes = mutate(valid, using: &rng)
            _ = Self.check("npy seed \(seed) #\(i)") { _ = try NPY.parse(bytes: bytes, path: "m") }
        }
        // Mutations of the alternate spellings and versions too.
        for base in [Fixtures.numpyV2, Fixtures.numpyV3, Fixtures.numpyF16, Fixtures.numpyF64] {
            let valid = Fixtures.bytes(base)
            for i in 0..<Self.iterations / 4 {
                let bytes = mutate(valid, using: &rng)
                _ = Self.check("npy fixture #\(i)") { _ = try NPY.parse(bytes: bytes, path: "m") }
            }
        }
    }

    @Test(arguments: [1, 2] as [UInt64])
    func idxMutations(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for i in 0..<Self.iterations {
            let bytes = mutate(idxImages, using: &rng)
            _ = Self.check("idx seed \(seed) #\(i)") { _ = try IDX.parse(bytes: bytes, path: "m") }
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func gzipMutations(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let sources = [Fixtures.dynamic, Fixtures.headerFlags, Fixtures.stored, Fixtures.multiMember].map(Fixtures.bytes)
        for i in 0..<Self.iterations {
            let bytes = mutate(sources[i % sources.count], using: &rng)
            _ = Self.check("gzip seed \(seed) #\(i)") {
                _ = try IDX.parse(bytes: Gzip.decompress(bytes, path: "m.gz", limit: 1 << 20), path: "m.gz")
            }
        }
    }

    /// Random bytes with a valid prefix reach deeper than pure noise.
    @Test func randomHeadersAfterValidPrefixes() {
        var rng = SplitMix64(seed: 99)
        for i in 0..<Self.iterations {
            let tail = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let n = UInt64.random(in: 0...80, using: &rng)
            _ = Self.check("safetensors random #\(i)") { _ = try SafeTensors.parse(bytes: u64le(n) + Array("{\"".utf8) + tail, path: "r") }
            _ = Self.check("npy random #\(i)") { _ = try NPY.parse(bytes: [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n), 0, 0x7B] + tail, path: "r") }
            _ = Self.check("gzip random #\(i)") { _ = try Gzip.decompress([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + tail, path: "r", limit: 1 << 20) }
        }
    }

    /// The file path goes through the same checks: a few mutated files read from disk.
    @Test func mutatedFilesOnDisk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var rng = SplitMix64(seed: 7)
        let valid = try Self.validSafetensors()
        for i in 0..<40 {
            let st = try dir.write(mutate(valid, using: &rng), to: "m\(i).safetensors")
            _ = Self.check("file safetensors #\(i)") { _ = try SafeTensors.read(path: st) }
            let gz = try dir.write(mutate(Fixtures.bytes(Fixtures.dynamic), using: &rng), to: "m\(i).gz")
            _ = Self.check("file idx.gz #\(i)") { _ = try IDX.read(path: gz) }
        }
    }
}
