import Foundation
import IR
import Runtime
import Spec
import TensorIO
import Training
import YAML
#if canImport(Glibc)
import Glibc
#endif

// `modelc train` and `modelc eval`: training on an MNIST-format data set with checkpoints and
// exact resume, and loss/accuracy of a checkpoint with the compiled inference plan.

/// Training flags: command-line name → setting key of `TrainConfig`.
let trainFlags: [String: String] = [
    "epochs": "epochs", "batch": "batch", "lr": "lr", "optimizer": "optimizer", "momentum": "momentum",
    "weight-decay": "weight_decay", "schedule": "schedule", "warmup": "warmup", "label-smoothing": "label_smoothing",
    "seed": "seed", "threads": "threads", "limit-train": "limit_train", "limit-test": "limit_test",
    "checkpoint-every": "checkpoint_every", "mean": "mean", "std": "std", "data": "data",
]

/// `modelc train SPEC --data DIR --epochs N --out RUNDIR [...]` or `modelc train SPEC --resume RUNDIR`.
func trainCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "out", "resume", "weights"] + trainFlags.keys.sorted(),
                                     repeatableFlags: ["set"], switchFlags: ["nesterov"])
    let resumeDir = parsed.values["resume"]?.value
    if let out = parsed.values["out"]?.value, let r = resumeDir, out != r {
        throw UsageError("--out and --resume name different run directories ('\(out)' and '\(r)')")
    }
    guard let runDir = resumeDir ?? parsed.values["out"]?.value else {
        throw UsageError("train needs a run directory: --out RUNDIR (or --resume RUNDIR to continue a run)")
    }
    if resumeDir != nil && parsed.values["weights"] != nil {
        throw UsageError("--weights sets the initial weights of a new run; a resumed run continues from its checkpoint")
    }
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let specPath = parsed.positionals[0].value

    do {
        // Defaults, then the spec's train: section, then the checkpoint's settings, then flags.
        var config = TrainConfig()
        try applySpecSection(specPath, to: &config)
        let statePath = (runDir as NSString).appendingPathComponent("last.state.safetensors")
        var saved: [String: String] = [:]
        if resumeDir != nil {
            guard FileManager.default.fileExists(atPath: statePath) else {
                writeStderr("\(statePath): error: no checkpoint to resume from (a run writes it after its first \(config.checkpointEvery) steps or first epoch)\n")
                return 1
            }
            saved = try TrainerCheckpointConfig.read(statePath)
            for key in TrainConfig.keys { if let v = saved[key] { try config.set(key, v, place: statePath) } }
            if saved["limit_train"] == nil { config.limitTrain = nil }
            if saved["limit_test"] == nil { config.limitTest = nil }
        } else if FileManager.default.fileExists(atPath: statePath) {
            writeStderr("\(runDir): error: the directory already holds a training run; continue it with --resume \(runDir) or choose another --out\n")
            return 1
        }
        for (flag, key) in trainFlags.sorted(by: { $0.key < $1.key }) {
            guard let v = parsed.values[flag]?.value else { continue }
            let before = config.values[key]
            try config.set(key, v, place: "--\(flag)")
            if resumeDir != nil, let old = saved[key], !["epochs", "data", "threads"].contains(key), config.values[key] != old {
                throw TrainingError("--\(flag): error: the run in \(runDir) was started with \(key) \(before ?? old); a resumed run keeps its settings (only --epochs, --data and --threads may change)")
            }
        }
        if parsed.switches.contains("nesterov") { try config.set("nesterov", "true", place: "--nesterov") }
        try config.validate()
        guard !config.data.isEmpty else { throw UsageError("train needs the data set: --data DIR (the four MNIST files)") }

        let train = try Dataset.mnist(directory: config.data, split: .train, limit: config.limitTrain)
        let test = try Dataset.mnist(directory: config.data, split: .test, limit: config.limitTest)
        var initial = Initializer.torchvision(graph: model.graph, seed: config.seed)
        if let w = parsed.values["weights"]?.value {
            guard let loaded = WeightFiles.load(path: w, graph: model.graph) else { return 1 }
            initial = loaded
        }
        let output = ConsoleOutput()
        let trainer = try Trainer(graph: model.graph, specName: model.name, config: config, train: train, test: test,
                                  runDirectory: runDir, initial: initial, output: output)
        if resumeDir != nil {
            try trainer.resume(from: statePath)
            output.line("resuming \(runDir) at epoch \(trainer.resumedEpoch + 1), step \(trainer.resumedStep)")
        } else {
            output.line("training \(model.name) on \(train.count) images (\(test.count) test), \(config.epochs) epoch\(config.epochs == 1 ? "" : "s"), batch \(config.batch), \(config.optimizer.kind.rawValue) lr \(config.lr) \(config.schedule.description), \(config.threads) thread\(config.threads == 1 ? "" : "s") -> \(runDir)")
        }
        let summary = try trainer.run()
        output.line(String(format: "done: test accuracy %.2f%%, loss %.4f; %.1f s per epoch; checkpoints in %@",
                           summary.finalTest.accuracy * 100, summary.finalTest.loss, summary.secondsPerEpoch, runDir))
        return 0
    } catch let e as UsageError {
        throw e
    } catch let e as TrainingError {
        ConsoleOutput.finishProgressLine()
        writeStderr(e.message.contains("error:") ? "\(e.message)\n" : "modelc: error: \(e.message)\n")
        return 1
    } catch {
        writeStderr("modelc: error: \(error)\n")
        return 1
    }
}

/// Reads the settings saved in a checkpoint (without loading tensors into a plan).
enum TrainerCheckpointConfig {
    static func read(_ path: String) throws -> [String: String] {
        let file = try SafeTensors.read(path: path).metadata
        guard file["format"] == "modelc-train-1" else {
            throw TrainingError("\(path): error: not a modelc training checkpoint")
        }
        var config: [String: String] = [:]
        for (k, v) in file where k.hasPrefix("config.") { config[String(k.dropFirst(7))] = v }
        return config
    }
}

/// Applies the `train:` mapping of the spec file, if any (errors name file:line:column).
func applySpecSection(_ path: String, to config: inout TrainConfig) throws {
    let (_, root, _) = YAMLParser.parseFile(atPath: path)
    guard let section = root?["train"] else { return }
    if case .scalar(let s, true) = section.content, YAMLScalar.resolve(s) == .null { return }
    guard let pairs = section.mapping else {
        throw TrainingError("\(path):\(section.range.start): error: 'train' expects a mapping of settings (epochs, lr, optimizer, ...); found \(section.kindDescription)")
    }
    for p in pairs {
        guard let value = p.value.scalar else {
            throw TrainingError("\(path):\(p.value.range.start): error: training setting '\(p.key)' expects a single value; found \(p.value.kindDescription)")
        }
        try config.set(p.key, value, place: "\(path):\(p.keyRange.start)")
    }
}

/// Progress on a terminal (one rewritten line), plain lines otherwise.
final class ConsoleOutput: TrainingOutput {
    let tty = isatty(1) == 1
    var lastPlain = -1
    nonisolated(unsafe) static var dirty = false

    func line(_ text: String) {
        ConsoleOutput.finishProgressLine()
        print(text)
        fflush(nil)
    }

    static func finishProgressLine() {
        if dirty { print(""); dirty = false }
    }

    func progress(epoch: Int, epochs: Int, step: Int, steps: Int, imagesPerSecond: Double, loss: Double, accuracy: Double, eta: Double) {
        let eta = Int(eta.rounded())
        let etaText = String(format: "%d:%02d", eta / 60, eta % 60)
        if tty {
            let width = 24, filled = steps > 0 ? width * step / steps : width
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            let text = String(format: "\r\u{1B}[Kepoch %d/%d [%@] %d/%d  %.0f img/s  loss %.4f  acc %.2f%%  ETA %@",
                              epoch, epochs, bar, step, steps, imagesPerSecond, loss, accuracy * 100, etaText)
            FileHandle.standardOutput.write(Data(text.utf8))
            ConsoleOutput.dirty = true
        } else {
            // About ten lines per epoch.
            let tenth = step * 10 / max(1, steps)
            guard tenth != lastPlain || step == steps else { return }
            lastPlain = tenth
            print(String(format: "epoch %d/%d step %d/%d: %.0f images/s, loss %.4f, acc %.2f%%, ETA %@",
                         epoch, epochs, step, steps, imagesPerSecond, loss, accuracy * 100, etaText))
            fflush(nil)
        }
    }
}

/// `modelc eval SPEC --weights W.safetensors --data DIR [--format text|json] [--batch N] [--threads T]`.
func evalCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "weights", "data", "format", "batch", "threads", "limit-test", "split", "mean", "std"],
                                     repeatableFlags: ["set"])
    guard let weightsPath = parsed.values["weights"]?.value else { throw UsageError("eval needs weights: --weights W.safetensors") }
    guard let data = parsed.values["data"]?.value else { throw UsageError("eval needs the data set: --data DIR") }
    let format = parsed.values["format"]?.value ?? "text"
    guard format == "text" || format == "json" else { throw UsageError("--format expects text or json; found '\(format)'") }
    let batch = try parsed.int("batch", range: 1...65_536) ?? 64
    let threads = try parsed.int("threads", range: 1...256) ?? 2
    let limit = try parsed.int("limit-test", range: 1...Int(Int32.max))
    let splitName = parsed.values["split"]?.value ?? "test"
    guard let split = Dataset.Split(rawValue: splitName) else { throw UsageError("--split expects train or test; found '\(splitName)'") }
    var config = TrainConfig()
    for flag in ["mean", "std"] { if let v = parsed.values[flag]?.value {
        do { try config.set(flag, v, place: "--\(flag)") } catch { throw UsageError(error.message) }
    } }
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    guard let weights = WeightFiles.load(path: weightsPath, graph: model.graph) else { return 1 }
    do {
        let set = try Dataset.mnist(directory: data, split: split, limit: limit)
        let s = model.graph.inputShape
        let classes = model.graph.outputShape.channels
        try set.validate(channels: s.channels, height: s.height, width: s.width, classes: classes)
        let clock = ContinuousClock(), start = clock.now
        let r = try Trainer.evaluateInference(graph: model.graph, weights: weights, data: set, batch: batch, threads: threads,
                                              mean: config.mean, std: config.std)
        let elapsed = (clock.now - start).components
        let secs = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        if format == "json" {
            print("{\"accuracy\": \(r.accuracy), \"loss\": \(r.loss.isFinite ? String(r.loss) : "null"), \"count\": \(r.count), \"correct\": \(Int((r.accuracy * Double(r.count)).rounded())), \"seconds\": \(secs)}")
        } else {
            print(String(format: "%@ on %d %@ images: accuracy %.2f%%, loss %.4f (%.2f s)", model.name, r.count, splitName, r.accuracy * 100, r.loss, secs))
        }
        return 0
    } catch let e as TrainingError {
        writeStderr(e.message.contains("error:") ? "\(e.message)\n" : "modelc: error: \(e.message)\n")
        return 1
    } catch {
        writeStderr("modelc: error: \(error)\n")
        return 1
    }
}
