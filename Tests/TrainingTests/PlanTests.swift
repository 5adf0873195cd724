// The training plan end to end: eval mode agrees with the compiled inference plan (BN folded,
// fused), a ResNet-style spec trains with falling loss (BN, residual adds, pooling backward),
// and the arena planner reuses memory.

import Compiler
import Foundation
import IR
import Runtime
import Testing
@testable import Training

/// Takes `steps` optimizer steps on one fixed batch; returns the losses.
func overfit(_ g: Graph, batch: Int, steps: Int, lr: Double, seed: UInt64) throws -> [Double] {
    let plan = try TrainingPlan(graph: g, batch: batch, threads: 2)
    try plan.load(Initializer.torchvision(graph: g, seed: seed))
    var s = OptimizerSettings(); s.kind = .sgd; s.momentum = 0.9
    let opt = Optimizer(s, count: plan.parameterCount)
    let input = randomFloats(batch * (g.inputShape.elementCount ?? 0), seed: seed)
    let labels = (0..<batch).map { Int32($0 % plan.classes) }
    var losses: [Double] = []
    for step in 0..<steps {
        _ = plan.forward(input, n: batch, training: true, randomKey: UInt64(step))
        losses.append(plan.lossAndGradient(labels: labels).loss)
        plan.backward(n: batch, randomKey: UInt64(step))
        opt.step(theta: plan.parameterPointer, grad: plan.gradientPointer, lr: lr, threads: 2)
        plan.parametersChanged()
    }
    return losses
}

@Suite struct PlanTests {
    @Test func resnet18AtLowResolutionTrainsWithFallingLoss() throws {
        let g = try specGraph("resnet", variant: "18", sets: ["resolution=32", "num_classes=10"])
        let losses = try overfit(g, batch: 4, steps: 4, lr: 0.05, seed: 1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first! * 0.8, "losses \(losses)")
    }

    @Test func evalModeAgreesWithTheInferencePlan() throws {
        // Trained a few steps so BN running statistics are non-trivial, then compared.
        for spec in ["mnist_cnn", "lenet5"] {
            let g = try specGraph(spec)
            let plan = try TrainingPlan(graph: g, batch: 8, threads: 2)
            var w = Initializer.torchvision(graph: g, seed: 4)
            Initializer.randomizeBatchNormStatistics(&w, graph: g, seed: 5)
            try plan.load(w)
            let input = randomFloats(8 * 784, seed: 6)
            let logits = plan.forward(input, n: 8, training: false)
            let model = try CompiledModel(plan: compile(g), weights: plan.weights(), batch: 8, threads: 2)
            let reference = model.run(input)
            let scale = reference.map { abs($0) }.max() ?? 1
            let diff = zip(logits, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-4 * max(1, scale), "\(spec): max |Δ| \(diff)")
        }
        let g = try graph("""
        input: {channels: 3, height: 12, width: 12}
        layers:
          - {conv2d: 8, kernel: 3, padding: 1, bias: false, name: a}
          - batchnorm
          - {relu: null, name: r}
          - {conv2d: 8, kernel: 3, padding: 1, bias: false}
          - {batchnorm: null, name: b}
          - {add: [r, b]}
          - relu
          - {max_pool2d: 3, stride: 2, ceil_mode: true}
          - global_avg_pool
          - flatten
          - {dropout: 0.5}
          - {linear: 5}
        """)
        let plan = try TrainingPlan(graph: g, batch: 6, threads: 2)
        try plan.load(randomWeights(g, seed: 8))
        let input = randomFloats(6 * 432, seed: 9)
        for step in 0..<3 { _ = plan.forward(input, n: 6, training: true, randomKey: UInt64(step)) }
        let logits = plan.forward(input, n: 6, training: false)
        let model = try CompiledModel(plan: compile(g), weights: plan.weights(), batch: 6, threads: 2)
        let reference = model.run(input)
        let diff = zip(logits, reference).map { abs($0 - $1) }.max() ?? 0
        #expect(diff <= 1e-4, "max |Δ| \(diff)")
        #expect(argmaxRows(logits, n: 6, k: 5) == argmaxRows(reference, n: 6, k: 5))
    }

    @Test func arenaReusesMemoryAcrossForwardAndBackward() throws {
        let g = try specGraph("mnist_cnn")
        let plan = try TrainingPlan(graph: g, batch: 64, threads: 1)
        #expect(plan.arenaFloats < plan.naiveFloats)
        #expect(plan.arenaFloats > 0)
    }

    @Test func partialBatchesAndBatchStatisticsUpdate() throws {
        let g = try graph("""
        input: {channels: 1, height: 4, width: 4}
        layers:
          - {conv2d: 2, kernel: 1, bias: false}
          - {batchnorm: null, momentum: 0.5}
          - flatten
          - {linear: 3}
        """)
        let plan = try TrainingPlan(graph: g, batch: 8, threads: 1)
        var w = Initializer.torchvision(graph: g, seed: 1)
        w["0.weight"] = [1, 2]
        try plan.load(w)
        // Three images (a partial batch of a plan for 8): values 0..47.
        let input = (0..<48).map(Float.init)
        _ = plan.forward(input, n: 3, training: true)
        let stats = plan.weights()
        // Channel 0 sees x: mean 23.5, biased variance (48² - 1) / 12; unbiased × 48 / 47.
        let mean = 23.5, variance = (48.0 * 48 - 1) / 12
        #expect(abs(Double(stats["1.running_mean"]![0]) - 0.5 * mean) < 1e-4)
        #expect(abs(Double(stats["1.running_var"]![0]) - (0.5 + 0.5 * variance * 48 / 47)) < 1e-3)
        #expect(abs(Double(stats["1.running_mean"]![1]) - 0.5 * 2 * mean) < 1e-4)
    }
}
