import Foundation
import ModelcCLI
import TensorIO
import Testing

/// A small spec with a batch norm, for the num_batches_tracked and dtype tests.
let tinySpec = """
    name: tiny_bn
    input: {channels: 3, height: 8, width: 8}
    layers:
      - {conv2d: 4, kernel: 3, padding: 1, bias: false, name: conv1}
      - {batchnorm, name: bn1}
      - relu
      - global_avg_pool
      - flatten
      - {linear: 5, name: fc}

    """

/// The tiny spec's tensors (torchvision order), F32 with arbitrary values.
func tinyTensors() -> [(name: String, dtype: String, shape: [Int], bytes: [UInt8])] {
    [("conv1.weight", "F32", [4, 3, 3, 3], float32Bytes(randomFloats(108, seed: 1))),
     ("bn1.weight", "F32", [4], float32Bytes([1, 0.5, 2, 1])),
     ("bn1.bias", "F32", [4], float32Bytes([0, 0.1, -0.1, 0])),
     ("bn1.running_mean", "F32", [4], float32Bytes([0.1, 0, 0, -0.2])),
     ("bn1.running_var", "F32", [4], float32Bytes([1, 2, 0.5, 1])),
     ("fc.weight", "F32", [5, 4], float32Bytes(randomFloats(20, seed: 2))),
     ("fc.bias", "F32", [5], float32Bytes(randomFloats(5, seed: 3)))]
}

@Suite(.serialized) struct RunCommandTests {
    @Test func initThenRunLeNet() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let spec = Repo.spec("lenet5"), w = dir.file("w.safetensors"), x = dir.file("x.npy"), y = dir.file("y.npy")
        let i = modelc(["init", spec, "-o", w, "--seed", "7"])
        #expect(i.status == 0, "\(i)")
        let file = try SafeTensors.read(path: w)
        #expect(Set(file.names) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                                    "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        #expect(try file.shape(of: "conv2.weight") == [16, 6, 5, 5])
        #expect(file.metadata["modelc.spec"] == "lenet5" && file.metadata["modelc.seed"] == "7")

        try NPY.write(HostTensor(shape: [2, 1, 28, 28], data: randomFloats(2 * 784, seed: 9)), to: x)
        let r = modelc(["run", spec, "--weights", w, "--input", x, "--output", y])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("batch 2"), "\(r)")
        let out = try NPY.read(path: y)
        #expect(out.shape == [2, 10])
        #expect(out.data.allSatisfy { $0.isFinite })

        // Same weights from the seed directly: same output.
        let s = modelc(["run", spec, "--seed", "7", "--input", x, "--output", dir.file("y2.npy")])
        #expect(s.status == 0, "\(s)")
        #expect(try NPY.read(path: dir.file("y2.npy")).data == out.data)

        // One image as [C, H, W].
        try NPY.write(HostTensor(shape: [1, 28, 28], data: randomFloats(784, seed: 4)), to: x)
        let one = modelc(["run", spec, "--weights", w, "--input", x, "--output", y, "--batch", "1"])
        #expect(one.status == 0, "\(one)")
        #expect(try NPY.read(path: y).shape == [1, 10])
    }

    @Test(arguments: ["lenet5", "mnist_cnn"])
    func referenceAgreesWithPlan(_ name: String) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let spec = Repo.spec(name), x = dir.file("x.npy")
        try NPY.write(HostTensor(shape: [3, 1, 28, 28], data: randomFloats(3 * 784, seed: 11)), to: x)
        let fast = modelc(["run", spec, "--input", x, "--output", dir.file("fast.npy"), "--batch", "3", "--threads", "2"])
        #expect(fast.status == 0, "\(fast)")
        let slow = modelc(["run", spec, "--input", x, "--output", dir.file("ref.npy"), "--reference"])
        #expect(slow.status == 0, "\(slow)")
        let a = try NPY.read(path: dir.file("fast.npy")), b = try NPY.read(path: dir.file("ref.npy"))
        #expect(a.shape == [3, 10] && b.shape == [3, 10])
        let (diff, scale) = maxDifference(a.data, b.data)
        #expect(scale > 0)
        #expect(diff <= 1e-4 * scale, "max|diff| \(diff), max|ref| \(scale)")
    }

    @Test func missingSpec() {
        let dir = TempDir()
        defer { dir.cleanup() }
        let r = modelc(["run", dir.file("nope.yaml"), "--input", dir.file("x.npy"), "--output", dir.file("y.npy")])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("nope.yaml"), "\(r)")
    }

    /// `modelc COMMAND --help` and `modelc help COMMAND` print that command's synopsis and the
    /// shared options, exit 0; an unknown command is a usage error.
    @Test(arguments: ["check", "summary", "compile", "init", "run", "bench", "train", "eval", "generate"])
    func commandHelp(_ command: String) {
        for args in [[command, "--help"], [command, Repo.spec("lenet5"), "-h"], ["help", command]] {
            let r = modelc(args)
            #expect(r.status == 0, "\(args): \(r)")
            #expect(r.stdout.hasPrefix("usage: modelc \(command)") && r.stdout.contains("options:"), "\(args): \(r)")
        }
        let unknown = modelc(["help", command + "x"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown command"), "\(unknown)")
    }

    @Test func usageErrors() {
        let spec = Repo.spec("lenet5")
        let bad = modelc(["run", spec, "--input", "x.npy", "--output", "y.npy", "--batch", "zero"])
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.stderr.contains("--batch"), "\(bad)")
        let typo = modelc(["run", spec, "--inpu", "x.npy", "--output", "y.npy"])
        #expect(typo.status == 2, "\(typo)")
        #expect(typo.stderr.contains("unknown option '--inpu'") && typo.stderr.contains("did you mean 'input'"), "\(typo)")
        let typo2 = modelc(["bench", spec, "--profiel"])
        #expect(typo2.status == 2 && typo2.stderr.contains("did you mean 'profile'"), "\(typo2)")
        let noInput = modelc(["run", spec, "--output", "y.npy"])
        #expect(noInput.status == 2, "\(noInput)")
        #expect(noInput.stderr.contains("--input"), "\(noInput)")
        let noOut = modelc(["init", spec])
        #expect(noOut.status == 2, "\(noOut)")
        let threads = modelc(["bench", spec, "--threads", "0"])
        #expect(threads.status == 2, "\(threads)")
        let both = modelc(["run", spec, "--weights", "w", "--seed", "1", "--input", "x", "--output", "y"])
        #expect(both.status == 2, "\(both)")
        let disable = modelc(["run", spec, "--input", "x", "--output", "y", "--disable", "fold-batchnrom"])
        #expect(disable.status == 2 && disable.stderr.contains("did you mean 'fold-batchnorm'"), "\(disable)")
        let mixed = modelc(["run", spec, "--input", "x", "--output", "y", "--disable", "fold-batchnorm", "--reference"])
        #expect(mixed.status == 2, "\(mixed)")
        let command = modelc(["bech", spec])
        #expect(command.status == 2 && command.stderr.contains("did you mean 'bench'"), "\(command)")
    }

    @Test func inputOfTheWrongShape() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let x = dir.file("x.npy")
        try NPY.write(HostTensor(shape: [2, 3, 28, 28], data: [Float](repeating: 0, count: 2 * 3 * 784)), to: x)
        let r = modelc(["run", Repo.spec("lenet5"), "--input", x, "--output", dir.file("y.npy")])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains(x + ": error:") && r.stderr.contains("[2, 3, 28, 28]") && r.stderr.contains("[N, 1, 28, 28]"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("y.npy")))

        try NPY.write(HostTensor(shape: [2, 1, 28, 28], data: [Float](repeating: 0, count: 2 * 784)), to: x)
        let b = modelc(["run", Repo.spec("lenet5"), "--input", x, "--output", dir.file("y.npy"), "--batch", "3"])
        #expect(b.status == 1, "\(b)")
        #expect(b.stderr.contains("--batch is 3") && b.stderr.contains("2 samples"), "\(b)")
    }

    @Test func truncatedInput() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let x = dir.file("x.npy")
        let bytes = try NPY.encode(HostTensor(shape: [1, 1, 28, 28], data: randomFloats(784, seed: 5)))
        try Data(bytes.prefix(bytes.count - 10)).write(to: URL(fileURLWithPath: x))
        let r = modelc(["run", Repo.spec("lenet5"), "--input", x, "--output", dir.file("y.npy")])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains(x) && r.stderr.contains("error"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("y.npy")))
    }

    @Test func weightProblemsAreReportedTogether() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let spec = Repo.spec("lenet5"), w = dir.file("w.safetensors"), x = dir.file("x.npy")
        #expect(modelc(["init", spec, "-o", w]).status == 0)
        let file = try SafeTensors.read(path: w)
        var tensors: [(name: String, tensor: HostTensor)] = []
        for name in file.names where name != "conv1.bias" {
            var t = try file.tensor(named: name)
            if name == "conv2.weight" { t.shape = [16, 5, 5, 6] }  // same element count, wrong layout
            if name == "fc2.bias" { t = try HostTensor(shape: [85], repeating: 0) }
            tensors.append((name, t))
        }
        tensors.append(("extra.weight", try HostTensor(shape: [3], repeating: 1)))
        tensors.append(("conv1.biass", try HostTensor(shape: [6], repeating: 1)))
        let bad = dir.file("bad.safetensors")
        try SafeTensors.write(tensors, to: bad)
        try NPY.write(HostTensor(shape: [1, 1, 28, 28], data: randomFloats(784, seed: 1)), to: x)
        let r = modelc(["run", spec, "--weights", bad, "--input", x, "--output", dir.file("y.npy")])
        #expect(r.status == 1, "\(r)")
        for name in ["'conv1.bias'", "'conv2.weight'", "'fc2.bias'", "'extra.weight'", "'conv1.biass'"] {
            #expect(r.stderr.contains(name), "\(name) not reported:\n\(r)")
        }
        #expect(r.stderr.contains("missing tensor 'conv1.bias'"), "\(r)")
        #expect(r.stderr.contains("[16, 5, 5, 6]") && r.stderr.contains("[16, 6, 5, 5]"), "\(r)")
        #expect(r.stderr.contains("did you mean 'conv1.bias'"), "\(r)")
        #expect(r.stderr.contains(bad + ": error:"), "\(r)")
        #expect(r.stderr.contains("5 problems"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("y.npy")))

        // bench refuses the same file.
        let b = modelc(["bench", spec, "--weights", bad, "--runs", "1", "--warmup", "0"])
        #expect(b.status == 1 && b.stderr.contains("'extra.weight'"), "\(b)")

        // A file that is not safetensors at all.
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: bad))
        let g = modelc(["run", spec, "--weights", bad, "--input", x, "--output", dir.file("y.npy")])
        #expect(g.status == 1 && g.stderr.contains(bad), "\(g)")
    }

    @Test func batchCountersAcceptedAndDtypesChecked() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let spec = dir.file("tiny.yaml"), w = dir.file("w.safetensors"), x = dir.file("x.npy")
        try tinySpec.write(toFile: spec, atomically: true, encoding: .utf8)
        try NPY.write(HostTensor(shape: [2, 3, 8, 8], data: randomFloats(2 * 192, seed: 6)), to: x)

        // torchvision's state_dict: num_batches_tracked is an I64 scalar per batch norm.
        try writeRawSafeTensors(tinyTensors() + [("bn1.num_batches_tracked", "I64", [], int64Bytes([1234]))], to: w)
        let r = modelc(["run", spec, "--weights", w, "--input", x, "--output", dir.file("y.npy")])
        #expect(r.status == 0, "\(r)")
        let ref = modelc(["run", spec, "--weights", w, "--input", x, "--output", dir.file("r.npy"), "--reference"])
        #expect(ref.status == 0, "\(ref)")
        let a = try NPY.read(path: dir.file("y.npy")), b = try NPY.read(path: dir.file("r.npy"))
        #expect(a.shape == [2, 5])
        let (diff, scale) = maxDifference(a.data, b.data)
        #expect(diff <= 1e-4 * scale)
        // The same with BN folding and fusions off (how a wrong result is bisected to a pass).
        let unfused = modelc(["run", spec, "--weights", w, "--input", x, "--output", dir.file("u.npy"),
                              "--disable", "fold-batchnorm", "--disable", "fuse-activation"])
        #expect(unfused.status == 0, "\(unfused)")
        let u = try NPY.read(path: dir.file("u.npy"))
        #expect(maxDifference(u.data, b.data).diff <= 1e-4 * scale)

        // F64 and F16 are converted; an integer weight is a dtype error; a counter of a batch norm
        // the spec does not have is unexpected.
        var entries = tinyTensors()
        entries[5] = ("fc.weight", "I32", [5, 4], [UInt8](repeating: 0, count: 80))
        entries[6] = ("fc.bias", "F64", [5], [UInt8](repeating: 0, count: 40))
        entries[1] = ("bn1.weight", "F16", [4], [0x00, 0x3C, 0x00, 0x38, 0x00, 0x40, 0x00, 0x3C])
        entries.append(("bn2.num_batches_tracked", "I64", [], int64Bytes([1])))
        try writeRawSafeTensors(entries, to: w)
        let d = modelc(["run", spec, "--weights", w, "--input", x, "--output", dir.file("y.npy")])
        #expect(d.status == 1, "\(d)")
        #expect(d.stderr.contains("'fc.weight' has dtype I32"), "\(d)")
        #expect(d.stderr.contains("'bn2.num_batches_tracked'"), "\(d)")
        #expect(!d.stderr.contains("'fc.bias'") && !d.stderr.contains("'bn1.weight'"), "\(d)")
        #expect(d.stderr.contains("2 problems"), "\(d)")
    }

    @Test func benchPrintsJSON() throws {
        let r = modelc(["bench", Repo.spec("lenet5"), "--runs", "3", "--warmup", "1", "--format", "json"])
        #expect(r.status == 0, "\(r)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let json = try #require(object, "\(r)")
        for key in ["median_ms", "p90_ms", "gflops", "images_per_second", "percent_of_peak", "arena_bytes", "batch", "threads"] {
            #expect(json[key] != nil, "missing \(key):\n\(r)")
        }
        #expect((json["median_ms"] as? Double).map { $0 > 0 } == true)
        #expect(json["batch"] as? Int == 1)
    }

    @Test func benchProfileText() {
        let r = modelc(["bench", Repo.spec("lenet5"), "--runs", "2", "--warmup", "0", "--profile", "--batch", "2", "--threads", "1"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("median") && r.stdout.contains("GFLOP/s") && r.stdout.contains("profile"), "\(r)")
        #expect(r.stdout.contains("conv2") && r.stdout.contains("fc1"), "\(r)")
    }
}
