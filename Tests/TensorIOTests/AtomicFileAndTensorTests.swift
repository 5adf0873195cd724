import Foundation
import Testing
@testable import TensorIO

struct SimulatedCrash: Error {}

@Suite("atomic writes")
struct AtomicFileTests {
    func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func writesAndReplaces() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("out.bin")
        try AtomicFile.write(Data([1, 2, 3]), to: path)
        #expect(try read(path) == [1, 2, 3])
        try AtomicFile.write(Data([4]), to: path)
        #expect(try read(path) == [4])
        try AtomicFile.write(Data(), to: path)
        #expect(try read(path) == [])
        #expect(try dir.contents() == ["out.bin"])
    }

    @Test func failureBeforeRenameKeepsTargetAndRemovesTemporary() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("weights.safetensors")
        try SafeTensors.write([("w", try HostTensor(shape: [1], data: [1]))], to: path)
        let before = try read(path)
        var sawTemporary = false
        #expect(throws: SimulatedCrash.self) {
            try AtomicFile.write(Data(repeating: 9, count: 1000), to: path) { temp in
                // The new content is complete on disk, next to the target, under another name.
                sawTemporary = (try? read(temp))?.count == 1000 && (temp as NSString).deletingLastPathComponent == dir.path
                throw SimulatedCrash()
            }
        }
        #expect(sawTemporary)
        #expect(try read(path) == before)
        #expect(try dir.contents() == ["weights.safetensors"])
    }

    @Test func failedWritesDoNotClobberTheTarget() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("t.npy")
        let original = try HostTensor(shape: [2], data: [1, 2])
        try NPY.write(original, to: path)

        var broken = original
        broken.shape = [5]
        expectTensorIOError("expected 5 elements") { try NPY.write(broken, to: path) }
        expectTensorIOError("expected 5 elements") { try SafeTensors.write([("x", broken)], to: path) }
        #expect(try NPY.read(path: path) == original)
        #expect(try dir.contents() == ["t.npy"])

        // A target that is a directory, and a directory that does not exist.
        let sub = dir.file("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        expectTensorIOError("expected a file path, found a directory") { try AtomicFile.write(Data([1]), to: sub) }
        expectTensorIOError("cannot create temporary file") { try AtomicFile.write(Data([1]), to: dir.file("missing/x.bin")) }
        #expect(try dir.contents() == ["sub", "t.npy"])
    }

    @Test func keepsPermissionsOfExistingTarget() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("p.bin")
        try AtomicFile.write(Data([1]), to: path)
        #expect(chmod(path, 0o640) == 0)
        try AtomicFile.write(Data([2]), to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }
}

@Suite("host tensor and errors")
struct HostTensorTests {
    @Test func checkedInit() throws {
        #expect(try HostTensor(shape: [], data: [1]).count == 1)
        #expect(try HostTensor(shape: [2, 0], data: []).count == 0)
        #expect(try HostTensor(shape: [2, 3], repeating: 0.5).data == [Float](repeating: 0.5, count: 6))
        expectTensorIOError("expected 6 elements for shape [2, 3], found 5") { _ = try HostTensor(shape: [2, 3], data: [1, 2, 3, 4, 5]) }
        expectTensorIOError("expected non-negative extents, found [2, -1]") { _ = try HostTensor(shape: [2, -1], data: []) }
        expectTensorIOError("element count fits in 64 bits") { _ = try HostTensor(shape: [1 << 32, 1 << 32], repeating: 0) }
    }

    @Test func errorRendering() {
        #expect(TensorIOError(path: "a.npy", "expected x, found y").description == "a.npy: error: expected x, found y")
        #expect(TensorIOError(path: "a.npy", offset: 8, "expected x, found y").description == "a.npy:offset 8: error: expected x, found y")
    }
}
