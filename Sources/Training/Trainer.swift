// The training loop: epochs of seeded shuffles, batches (the last one partial), forward in
// training mode, softmax cross-entropy, backward, optimizer step; checkpoints every
// `checkpointEvery` steps and at each epoch's end; test loss and accuracy per epoch into
// `metrics.jsonl`; at the end, the inference plan (BN folded, fused) must predict what the
// training plan predicts in eval mode.

import Compiler
import Foundation
import IR
import Runtime
import TensorIO

/// Where the run reports (the CLI prints; tests collect).
public protocol TrainingOutput: AnyObject {
    /// A line of its own (epoch summaries, notes).
    func line(_ text: String)
    /// Progress within an epoch; called every few steps.
    func progress(epoch: Int, epochs: Int, step: Int, steps: Int, imagesPerSecond: Double, loss: Double,
                  accuracy: Double, eta: Double)
}

public struct EvalResult: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var count: Int
    public var predictions: [Int]
    /// Per example: gap between the two largest logits (how decisive the prediction is).
    public var margins: [Float]
}

public struct TrainSummary: Sendable {
    public var epochs: [String]
    public var finalTest: EvalResult
    public var secondsPerEpoch: Double
    public var imagesPerSecond: Double
    public var inferenceAgreement: (agree: Int, total: Int)
}

public final class Trainer {
    public let graph: Graph
    public let specName: String
    public let config: TrainConfig
    public let runDirectory: String
    let train: Dataset
    let test: Dataset
    let plan: TrainingPlan
    let optimizer: Optimizer
    weak var output: TrainingOutput?
    var progress = RunProgress()

    public init(graph: Graph, specName: String, config: TrainConfig, train: Dataset, test: Dataset,
                runDirectory: String, initial: Weights, output: TrainingOutput?) throws(TrainingError) {
        self.graph = graph; self.specName = specName; self.config = config; self.runDirectory = runDirectory
        self.train = train; self.test = test; self.output = output
        plan = try TrainingPlan(graph: graph, batch: config.batch, threads: config.threads)
        let s = graph.inputShape
        try train.validate(channels: s.channels, height: s.height, width: s.width, classes: plan.classes)
        try test.validate(channels: s.channels, height: s.height, width: s.width, classes: plan.classes)
        try plan.load(initial)
        optimizer = Optimizer(config.optimizer, count: plan.parameterCount)
    }

    var stem: String { (runDirectory as NSString).appendingPathComponent("last") }
    var bestStem: String { (runDirectory as NSString).appendingPathComponent("best") }

    /// Continues from `last.state.safetensors` of the run directory.
    public func resume(from path: String) throws(TrainingError) {
        let c = try Checkpoint.read(path: path, graph: graph)
        try plan.load(c.weights)
        try optimizer.restore(steps: c.optimizerSteps, state: c.optimizerState)
        progress = c.progress
    }

    public var resumedEpoch: Int { progress.epoch }
    public var resumedStep: Int { progress.stepInEpoch }

    var stepsPerEpoch: Int { (train.count + config.batch - 1) / config.batch }

    /// Runs the remaining epochs. Throws on a non-finite loss (naming the step), on I/O
    /// failures, and when the inference plan disagrees with the training plan.
    public func run() throws(TrainingError) -> TrainSummary {
        try FileManagerHelper.createDirectory(runDirectory)
        let batch = config.batch, steps = stepsPerEpoch, total = steps * config.epochs
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batch * train.height * train.width)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        defer { images.deallocate(); labels.deallocate() }
        let clock = ContinuousClock()
        var lastTest = EvalResult(loss: .nan, accuracy: 0, count: 0, predictions: [], margins: [])
        while progress.epoch < config.epochs {
            let epoch = progress.epoch
            let order = TrainRandom.permutation(count: train.count, seed: config.seed, epoch: epoch)
            let epochStart = clock.now
            var windowStart = clock.now, windowImages = 0
            var rate = 0.0
            let doneBefore = progress.trainSeconds
            while progress.stepInEpoch < steps {
                let b = progress.stepInEpoch
                let lo = b * batch, hi = min(train.count, lo + batch), n = hi - lo
                let fill = { self.train.fill(order[lo..<hi], mean: self.config.mean, std: self.config.std, images: images, labels: labels) }
                if let p = plan.profile { p.timePart("data", fill) } else { fill() }
                let key = TrainRandom.stepKey(seed: config.seed, step: progress.globalStep)
                plan.forward(images, n: n, training: true, randomKey: key)
                let result = plan.loss(labels: labels, n: n, smoothing: config.labelSmoothing)
                guard result.loss.isFinite else {
                    throw TrainingError("the loss is \(result.loss) at epoch \(epoch + 1), step \(b + 1) (global step \(progress.globalStep + 1)); training stopped. The last good checkpoint is \(stem).state.safetensors; lower --lr or check the data")
                }
                plan.backward(n: n, randomKey: key)
                let lr = config.schedule.rate(base: config.lr, step: progress.globalStep, epoch: epoch, totalSteps: total, warmup: config.warmup)
                let update = { self.optimizer.step(theta: self.plan.parameterPointer, grad: self.plan.gradientPointer, lr: lr, threads: self.config.threads) }
                if let p = plan.profile { p.timePart("optimizer", update) } else { update() }
                plan.parametersChanged()
                progress.lossSum += result.loss * Double(n)
                progress.correct += result.correct
                progress.seen += n
                progress.globalStep += 1
                progress.stepInEpoch += 1
                windowImages += n
                let now = clock.now
                let secs = (now - windowStart).seconds
                if secs >= 0.5 || progress.stepInEpoch == steps {
                    rate = Double(windowImages) / max(secs, 1e-9)
                    windowStart = now; windowImages = 0
                    let remaining = Double((steps - progress.stepInEpoch) * batch) / max(rate, 1)
                    output?.progress(epoch: epoch + 1, epochs: config.epochs, step: progress.stepInEpoch, steps: steps,
                                     imagesPerSecond: rate, loss: progress.lossSum / Double(max(1, progress.seen)),
                                     accuracy: Double(progress.correct) / Double(max(1, progress.seen)), eta: remaining)
                }
                if progress.globalStep % config.checkpointEvery == 0 && progress.stepInEpoch < steps {
                    progress.trainSeconds = doneBefore + (clock.now - epochStart).seconds
                    try save(stem)
                }
            }
            let trainSeconds = doneBefore + (clock.now - epochStart).seconds
            lastTest = evaluate(test)
            let trainLoss = progress.lossSum / Double(max(1, progress.seen))
            let trainAcc = Double(progress.correct) / Double(max(1, progress.seen))
            let ips = Double(progress.seen) / max(trainSeconds, 1e-9)
            let line = "{\"epoch\": \(epoch + 1), \"train_loss\": \(json(trainLoss)), \"train_accuracy\": \(json(trainAcc)), \"test_loss\": \(json(lastTest.loss)), \"test_accuracy\": \(json(lastTest.accuracy)), \"seconds\": \(json(trainSeconds)), \"images_per_second\": \(json(ips)), \"global_step\": \(progress.globalStep)}"
            progress.metrics.append(line)
            output?.line(String(format: "epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.1f s, %.0f images/s",
                                epoch + 1, config.epochs, trainLoss, trainAcc * 100, lastTest.loss, lastTest.accuracy * 100, trainSeconds, ips))
            progress.epoch += 1
            progress.stepInEpoch = 0
            progress.lossSum = 0; progress.correct = 0; progress.seen = 0; progress.trainSeconds = 0
            let improved = lastTest.accuracy > progress.bestAccuracy
            if improved { progress.bestAccuracy = lastTest.accuracy; progress.bestEpoch = epoch + 1 }
            try writeMetrics()
            try save(stem)
            if improved { try save(bestStem) }
        }
        if let report = plan.profileReport() { output?.line(report) }
        if lastTest.count == 0 { lastTest = evaluate(test) }
        let agreement = try checkInferencePlan(against: lastTest)
        let secondsPerEpoch = progress.metrics.compactMap { jsonNumber($0, "seconds") }.reduce(0, +) / Double(max(1, progress.metrics.count))
        let ips = progress.metrics.compactMap { jsonNumber($0, "images_per_second") }.last ?? 0
        return TrainSummary(epochs: progress.metrics, finalTest: lastTest, secondsPerEpoch: secondsPerEpoch,
                            imagesPerSecond: ips, inferenceAgreement: agreement)
    }

    func save(_ stem: String) throws(TrainingError) {
        let values = plan.flatParameters
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw TrainingError("parameter \(bad) is not finite after global step \(progress.globalStep); training stopped without overwriting \(stem).state.safetensors")
        }
        try Checkpoint.write(plan: plan, optimizer: optimizer, progress: progress, config: config, specName: specName, to: stem)
    }

    func writeMetrics() throws(TrainingError) {
        let path = (runDirectory as NSString).appendingPathComponent("metrics.jsonl")
        let text = progress.metrics.map { $0 + "\n" }.joined()
        do { try AtomicFile.write(Data(text.utf8), to: path) } catch { throw TrainingError("\(error)") }
    }

    /// Eval-mode loss and accuracy of the training plan over `data`.
    public func evaluate(_ data: Dataset) -> EvalResult {
        Trainer.evaluate(plan: plan, data: data, mean: config.mean, std: config.std)
    }

    public static func evaluate(plan: TrainingPlan, data: Dataset, mean: Double, std: Double) -> EvalResult {
        let batch = plan.batch, k = plan.classes
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batch * data.height * data.width)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        defer { images.deallocate(); labels.deallocate() }
        var lossSum = 0.0, correct = 0
        var predictions: [Int] = [], margins: [Float] = []
        var lo = 0
        while lo < data.count {
            let hi = min(data.count, lo + batch), n = hi - lo
            data.fill(Array(lo..<hi)[...], mean: mean, std: std, images: images, labels: labels)
            let logits = plan.forward(images, n: n, training: false)
            let r = plan.loss(labels: labels, n: n, smoothing: 0)
            lossSum += r.loss * Double(n)
            correct += r.correct
            predictions += argmaxRows(logits, n: n, k: k)
            for row in 0..<n {
                var sorted = (0..<k).map { logits[row * k + $0] }
                sorted.sort(by: >)
                margins.append(k > 1 ? sorted[0] - sorted[1] : .infinity)
            }
            lo = hi
        }
        return EvalResult(loss: lossSum / Double(data.count), accuracy: Double(correct) / Double(data.count),
                          count: data.count, predictions: predictions, margins: margins)
    }

    /// The inference plan (compile + CompiledModel, BN folded and fused) must make the same
    /// predictions as the training plan in eval mode. Examples whose two top logits are within
    /// 1e-4 (a tie at float precision) may go either way.
    func checkInferencePlan(against reference: EvalResult) throws(TrainingError) -> (agree: Int, total: Int) {
        let predictions: [Int]
        do {
            predictions = try Trainer.inferencePredictions(graph: graph, weights: plan.weights(), data: test, batch: config.batch,
                                                           threads: config.threads, mean: config.mean, std: config.std)
        } catch {
            throw TrainingError("cannot run the inference plan on the trained weights: \(error)")
        }
        var agree = 0, real = 0
        for i in 0..<predictions.count {
            if predictions[i] == reference.predictions[i] { agree += 1 } else if reference.margins[i] > 1e-4 { real += 1 }
        }
        output?.line("inference plan check: \(agree)/\(predictions.count) test predictions agree with the training plan in eval mode")
        if real > 0 {
            throw TrainingError("the inference plan disagrees with the training plan on \(real) of \(predictions.count) test images")
        }
        return (agree, predictions.count)
    }

    /// Predictions of the compiled inference plan with `weights` over `data`.
    public static func inferencePredictions(graph: Graph, weights: Weights, data: Dataset, batch: Int, threads: Int,
                                            mean: Double, std: Double) throws -> [Int] {
        let model = try CompiledModel(plan: compile(graph), weights: weights, batch: batch, threads: threads)
        let per = data.height * data.width
        let k = model.outputCount / batch
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batch * per)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: model.outputCount)
        defer { images.deallocate(); labels.deallocate(); out.deallocate() }
        var predictions: [Int] = []
        var lo = 0
        while lo < data.count {
            let hi = min(data.count, lo + batch), n = hi - lo
            images.update(repeating: 0, count: batch * per)
            data.fill(Array(lo..<hi)[...], mean: mean, std: std, images: images, labels: labels)
            model.run(input: images, output: out)
            predictions += argmaxRows(out, n: n, k: k)
            lo = hi
        }
        return predictions
    }
}

enum FileManagerHelper {
    static func createDirectory(_ path: String) throws(TrainingError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(path): error: cannot create the run directory: \(error.localizedDescription)")
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

func json(_ x: Double) -> String { x.isFinite ? String(x) : "null" }

/// A number field of one of our own metrics lines.
func jsonNumber(_ line: String, _ key: String) -> Double? {
    guard let r = line.range(of: "\"\(key)\": ") else { return nil }
    let rest = line[r.upperBound...].prefix { "0123456789.eE+-".contains($0) }
    return Double(rest)
}

extension Trainer {
    /// Loss and accuracy of the compiled inference plan (BN folded, fused) with `weights` on
    /// `data`: `modelc eval`. A graph ending in softmax outputs probabilities; its loss is then
    /// the mean of -log p(label), the same cross-entropy.
    public static func evaluateInference(graph: Graph, weights: Weights, data: Dataset, batch: Int, threads: Int,
                                         mean: Double, std: Double) throws -> (loss: Double, accuracy: Double, count: Int) {
        let model = try CompiledModel(plan: compile(graph), weights: weights, batch: batch, threads: threads)
        let per = data.height * data.width, k = model.outputCount / batch
        var probabilities = false
        if case .softmax = graph.nodes[graph.output].op { probabilities = true }
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batch * per)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batch)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: model.outputCount)
        let grad = UnsafeMutablePointer<Float>.allocate(capacity: model.outputCount)
        defer { images.deallocate(); labels.deallocate(); out.deallocate(); grad.deallocate() }
        var lossSum = 0.0, correct = 0, lo = 0
        while lo < data.count {
            let hi = min(data.count, lo + batch), n = hi - lo
            images.update(repeating: 0, count: batch * per)
            data.fill(Array(lo..<hi)[...], mean: mean, std: std, images: images, labels: labels)
            model.run(input: images, output: out)
            if probabilities {
                for r in 0..<n { lossSum -= Foundation.log(max(Double(out[r * k + Int(labels[r])]), 1e-45)) }
                let predicted = argmaxRows(out, n: n, k: k)
                for r in 0..<n where predicted[r] == Int(labels[r]) { correct += 1 }
            } else {
                let r = softmaxCrossEntropy(logits: out, labels: labels, n: n, classes: k, smoothing: 0, gradient: grad)
                lossSum += r.loss * Double(n)
                correct += r.correct
            }
            lo = hi
        }
        return (lossSum / Double(data.count), Double(correct) / Double(data.count), data.count)
    }
}
