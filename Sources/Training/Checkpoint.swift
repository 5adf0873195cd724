// Checkpoints of a run directory.
//
//   last.state.safetensors   everything a resume needs, in ONE file written atomically (temp +
//                            fsync + rename): weights and BN statistics as `model.<state_dict
//                            key>`, optimizer state as `optimizer.<slot>` (flat), and in the
//                            metadata the epoch and step, the optimizer step count, the epoch's
//                            running loss and accuracy sums, the best accuracy, the metrics lines
//                            so far and every setting. The RNG "state" is the seed and the global
//                            step (Random.swift: all randomness is counter-based).
//   last.safetensors         the same weights as a plain state_dict, for `modelc eval/run`.
//   best.state.safetensors,  the same pair for the epoch with the best test accuracy.
//   best.safetensors
//
// The state file is written before the weights file, and resume reads only the state file, so a
// kill between the two writes loses nothing.

import Foundation
import IR
import TensorIO

/// Progress of a run beyond weights and optimizer state.
struct RunProgress: Equatable {
    var epoch = 0
    var stepInEpoch = 0
    var globalStep = 0
    var lossSum = 0.0
    var correct = 0
    var seen = 0
    var bestAccuracy = -1.0
    var bestEpoch = 0
    var metrics: [String] = []
    var trainSeconds = 0.0
}

enum Checkpoint {
    static let format = "modelc-train-1"

    static func write(plan: TrainingPlan, optimizer: Optimizer, progress: RunProgress, config: TrainConfig,
                      specName: String, to stem: String) throws(TrainingError) {
        var tensors: [(name: String, tensor: HostTensor)] = []
        let weights = plan.weights()
        do {
            for p in plan.graph.parameters {
                guard let v = weights[p.name] else { continue }
                tensors.append(("model." + p.name, try HostTensor(shape: p.shape, data: v)))
            }
            for (name, values) in optimizer.state {
                tensors.append(("optimizer." + name, try HostTensor(shape: [values.count], data: values)))
            }
            var meta: [String: String] = [
                "format": format, "spec": specName,
                "epoch": String(progress.epoch), "step_in_epoch": String(progress.stepInEpoch),
                "global_step": String(progress.globalStep), "optimizer_steps": String(optimizer.steps),
                "loss_sum": String(progress.lossSum), "correct": String(progress.correct), "seen": String(progress.seen),
                "best_accuracy": String(progress.bestAccuracy), "best_epoch": String(progress.bestEpoch),
                "metrics": progress.metrics.joined(separator: "\n"), "train_seconds": String(progress.trainSeconds),
                "rng": "counter-based; seed \(config.seed), global step \(progress.globalStep)",
            ]
            for (k, v) in config.values { meta["config." + k] = v }
            try SafeTensors.write(tensors, metadata: meta, to: stem + ".state.safetensors")
            var plain: [(name: String, tensor: HostTensor)] = []
            for p in plan.graph.parameters {
                guard let v = weights[p.name] else { continue }
                plain.append((p.name, try HostTensor(shape: p.shape, data: v)))
            }
            try SafeTensors.write(plain, metadata: ["format": "pt", "modelc.spec": specName, "modelc.epoch": String(progress.epoch),
                                                    "modelc.global_step": String(progress.globalStep)],
                                  to: stem + ".safetensors")
        } catch let e as TrainingError {
            throw e
        } catch {
            throw TrainingError("cannot write checkpoint \(stem): \(error)")
        }
    }

    struct Loaded {
        var weights: Weights
        var optimizerState: [String: [Float]]
        var optimizerSteps: Int
        var progress: RunProgress
        var config: [String: String]
    }

    static func read(path: String, graph: Graph) throws(TrainingError) -> Loaded {
        let file: SafeTensorsFile
        do { file = try SafeTensors.read(path: path) } catch { throw TrainingError("\(error)") }
        let meta = file.metadata
        guard meta["format"] == format else {
            throw TrainingError("\(path): error: not a modelc training checkpoint (metadata format is '\(meta["format"] ?? "missing")', expected '\(format)')")
        }
        func int(_ key: String) throws(TrainingError) -> Int {
            guard let s = meta[key], let v = Int(s), v >= 0 else { throw TrainingError("\(path): error: metadata '\(key)' is missing or not a count") }
            return v
        }
        func double(_ key: String) throws(TrainingError) -> Double {
            guard let s = meta[key], let v = Double(s) else { throw TrainingError("\(path): error: metadata '\(key)' is missing or not a number") }
            return v
        }
        var weights = Weights(), optimizer: [String: [Float]] = [:]
        do {
            for entry in file.entries {
                if entry.name.hasPrefix("model.") {
                    weights[String(entry.name.dropFirst(6))] = try file.tensor(named: entry.name).data
                } else if entry.name.hasPrefix("optimizer.") {
                    optimizer[String(entry.name.dropFirst(10))] = try file.tensor(named: entry.name).data
                } else {
                    throw TrainingError("\(path): error: unexpected tensor '\(entry.name)' in a training checkpoint")
                }
            }
        } catch let e as TrainingError {
            throw e
        } catch {
            throw TrainingError("\(error)")
        }
        let problems = weights.mismatches(for: graph)
        guard problems.isEmpty else {
            throw TrainingError("\(path): error: the checkpoint does not fit spec '\(graph.name)': " + problems.prefix(5).joined(separator: "; "))
        }
        var p = RunProgress()
        p.epoch = try int("epoch"); p.stepInEpoch = try int("step_in_epoch"); p.globalStep = try int("global_step")
        p.lossSum = try double("loss_sum"); p.correct = try int("correct"); p.seen = try int("seen")
        p.bestAccuracy = try double("best_accuracy"); p.bestEpoch = try int("best_epoch")
        p.trainSeconds = try double("train_seconds")
        p.metrics = (meta["metrics"] ?? "").split(separator: "\n").map(String.init)
        var config: [String: String] = [:]
        for (k, v) in meta where k.hasPrefix("config.") { config[String(k.dropFirst(7))] = v }
        return Loaded(weights: weights, optimizerState: optimizer, optimizerSteps: try int("optimizer_steps"), progress: p, config: config)
    }
}
