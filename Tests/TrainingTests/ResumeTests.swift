// The built `modelc` binary end to end on the MNIST fixture: a run killed with SIGKILL
// mid-epoch and resumed ends with the same weights, bit for bit, as a run never interrupted;
// a diverging run stops at a non-finite loss naming the step; `modelc eval` reports accuracy
// and loss; bad settings are clear errors.

import Foundation
import Testing
import TensorIO
#if canImport(Glibc)
import Glibc
#endif

/// The `modelc` executable of this build: next to the test bundle (SwiftPM puts both in
/// `<scratch>/debug` or `/release`).
func modelcBinary() -> String? {
    var candidates: [String] = []
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("modelc").path)
        dir = dir.deletingLastPathComponent()
    }
    candidates += [Repo.path(".build/debug/modelc"), Repo.path(".build/release/modelc")]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

struct Finished { var status: Int32; var signaled: Bool; var output: String }

func launch(_ args: [String], log: String) throws -> Process {
    let p = Process()
    guard let bin = modelcBinary() else { throw SpecFailure(description: "no modelc binary next to the tests (run swift build first)") }
    p.executableURL = URL(fileURLWithPath: bin)
    p.arguments = args
    FileManager.default.createFile(atPath: log, contents: nil)
    let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardOutput = h
    p.standardError = h
    try p.run()
    return p
}

func runModelc(_ args: [String], in dir: String) throws -> Finished {
    let log = dir + "/log-\(UUID().uuidString)"
    let p = try launch(args, log: log)
    p.waitUntilExit()
    let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return Finished(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal, output: out)
}

let tinySpec = """
name: tiny
input: {channels: 1, height: 28, width: 28}
layers:
  - {conv2d: 4, kernel: 5, stride: 2, name: conv1}
  - relu
  - {dropout: 0.2}
  - flatten
  - {linear: 10, name: fc}
train:
  batch: 16
  optimizer: adam
  lr: 0.003
"""

func weightsOf(_ path: String) throws -> [String: [Float]] {
    let f = try SafeTensors.read(path: path)
    var out: [String: [Float]] = [:]
    for n in f.names { out[n] = try f.tensor(named: n).data }
    return out
}

@Suite(.serialized) struct ResumeTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "modelc-train-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try? tinySpec.write(toFile: d + "/tiny.yaml", atomically: true, encoding: .utf8)
        return d
    }()

    func common(_ out: String) -> [String] {
        ["train", dir + "/tiny.yaml", "--data", Repo.fixture, "--epochs", "2", "--out", out, "--threads", "2", "--seed", "5",
         "--checkpoint-every", "3", "--limit-test", "100"]
    }

    @Test func killedAndResumedRunEqualsUninterruptedRun() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a", b = dir + "/b"
        let full = try runModelc(common(a), in: dir)
        #expect(full.status == 0, "\(full.output)")

        let p = try launch(common(b), log: dir + "/b.log")
        let state = b + "/last.state.safetensors"
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: state) && p.isRunning && Date() < deadline { usleep(2_000) }
        #expect(p.isRunning, "the run finished before a checkpoint could be interrupted")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let partial = (try? String(contentsOfFile: b + "/metrics.jsonl", encoding: .utf8)) ?? ""
        #expect(partial.split(separator: "\n").count < 2, "the killed run had already finished")

        let resumed = try runModelc(["train", dir + "/tiny.yaml", "--resume", b], in: dir)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resuming"))
        let wa = try weightsOf(a + "/last.safetensors"), wb = try weightsOf(b + "/last.safetensors")
        #expect(!wa.isEmpty && wa.keys.sorted() == wb.keys.sorted())
        for (k, v) in wa { #expect(v == wb[k], "tensor \(k) differs after resume") }
        // Same per-epoch accuracy and loss in both metrics files.
        let ma = try String(contentsOfFile: a + "/metrics.jsonl", encoding: .utf8)
        let mb = try String(contentsOfFile: b + "/metrics.jsonl", encoding: .utf8)
        func strip(_ s: String) -> [String] {
            s.split(separator: "\n").map { $0.replacingOccurrences(of: #""seconds": [0-9.e+-]+, "images_per_second": [0-9.e+-]+"#, with: "", options: .regularExpression) }
        }
        #expect(strip(ma) == strip(mb))

        let eval = try runModelc([dir + "/tiny.yaml", "--weights", a + "/best.safetensors", "--data", Repo.fixture, "--format", "json"].prepending("eval"), in: dir)
        #expect(eval.status == 0, "\(eval.output)")
        #expect(eval.output.contains("\"accuracy\": ") && eval.output.contains("\"loss\": "))
    }

    @Test func divergingRunStopsAtTheStepWithANonFiniteLoss() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/nan"
        let r = try runModelc(["train", dir + "/tiny.yaml", "--data", Repo.fixture, "--epochs", "1", "--out", out, "--optimizer", "sgd",
                               "--lr", "1e30", "--limit-test", "10", "--checkpoint-every", "1000"], in: dir)
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("step") && (r.output.contains("nan") || r.output.contains("inf") || r.output.contains("not finite")), "\(r.output)")
    }

    @Test func badSettingsAreErrorsWithTheirPlace() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (tinySpec + "\n  momentum: lots\n").write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let r = try runModelc(["train", dir + "/bad.yaml", "--data", Repo.fixture, "--out", dir + "/bad"], in: dir)
        #expect(r.status == 1)
        #expect(r.output.contains("bad.yaml:13:3: error: 'momentum'"), "\(r.output)")
        let flag = try runModelc(["train", dir + "/tiny.yaml", "--data", Repo.fixture, "--out", dir + "/bad2", "--batch", "0"], in: dir)
        #expect(flag.status == 1 && flag.output.contains("--batch: error"), "\(flag.output)")
        let data = try runModelc(["train", dir + "/tiny.yaml", "--data", dir, "--out", dir + "/bad3"], in: dir)
        #expect(data.status == 1 && data.output.contains("no train images file"), "\(data.output)")
        let resume = try runModelc(["train", dir + "/tiny.yaml", "--resume", dir + "/none"], in: dir)
        #expect(resume.status == 1 && resume.output.contains("no checkpoint"), "\(resume.output)")
    }
}

extension Array where Element == String {
    func prepending(_ s: String) -> [String] { [s] + self }
}
