import Diagnostics
import Foundation
import Testing
import YAML

@Suite struct FileTests {
    /// A fresh directory under the system's temporary directory, removed by the caller.
    private func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("yaml-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func missingFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.yaml").path
        let (file, root, diagnostics) = YAMLParser.parseFile(atPath: path)
        #expect(file == nil && root == nil)
        #expect(ids(diagnostics) == [.fileUnreadable])
        #expect(diagnostics.first?.message == "cannot read '\(path)': no such file or directory")
        #expect(diagnostics.first?.range == nil)
    }

    @Test func directory() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (file, root, diagnostics) = YAMLParser.parseFile(atPath: dir.path)
        #expect(file == nil && root == nil)
        #expect(ids(diagnostics) == [.fileUnreadable])
        #expect(diagnostics.first?.message == "'\(dir.path)' is a directory, not a spec file")
        #expect(diagnostics.first?.range == nil)
    }

    @Test func fileTooLargeIsRejectedBeforeReading() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("big.yaml").path
        try Data(repeating: UInt8(ascii: "a"), count: 200).write(to: URL(fileURLWithPath: path))
        var limits = YAMLLimits()
        limits.maxFileBytes = 100
        let (file, root, diagnostics) = YAMLParser.parseFile(atPath: path, limits: limits)
        #expect(file == nil && root == nil)
        #expect(ids(diagnostics) == [.fileTooLarge])
        #expect(diagnostics.first?.message == "'\(path)' is too large: expected at most 100 bytes, found 200 bytes")
        limits.maxFileBytes = 200
        #expect(YAMLParser.parseFile(atPath: path, limits: limits).root?.scalar == String(repeating: "a", count: 200))
    }

    /// A device reports no size; the bounded read still stops at the limit.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/zero")))
    func endlessDeviceIsBounded() {
        var limits = YAMLLimits()
        limits.maxFileBytes = 1 << 20
        let (_, root, diagnostics) = YAMLParser.parseFile(atPath: "/dev/zero", limits: limits)
        #expect(root == nil)
        #expect(ids(diagnostics) == [.fileTooLarge])
        #expect(diagnostics.first?.message == "'/dev/zero' is too large: expected at most 1 MiB, found more than 1 MiB")
    }

    @Test func readsAFileWithByteOrderMark() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("net.yaml").path
        try Data([0xEF, 0xBB, 0xBF] + Array("input: [3, 32]\nlayers: [relu]\nbad: *x\n".utf8)).write(to: URL(fileURLWithPath: path))
        let (file, root, diagnostics) = YAMLParser.parseFile(atPath: path)
        #expect(root == nil)
        #expect(file?.line(1) == "input: [3, 32]")
        let rendered = diagnostics.map { DiagnosticRenderer(color: false).render($0) }
        #expect(rendered == ["\(path):3:6: error: alias '*x' refers to no anchor defined before it [yaml-undefined-alias]\nbad: *x\n     ^~\n"])
    }

    @Test func readsAndParsesAFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ok.yaml").path
        try "input: [3, 32, 32]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (file, root, diagnostics) = YAMLParser.parseFile(atPath: path)
        #expect(diagnostics.isEmpty)
        #expect(file?.path == path)
        #expect(root?["input"]?.sequence?.count == 3)
        #expect(span(root?["input"]?.range) == "1:8-1:19")
    }
}
