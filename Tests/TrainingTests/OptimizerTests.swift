// Optimizer updates against values computed by hand from PyTorch's formulas (torch.optim
// SGD/Adam/AdamW, single-tensor implementation), and the learning-rate schedules.

import Foundation
import Testing
@testable import Training

func run(_ s: OptimizerSettings, theta: [Float], grads: [[Float]], lr: Double) -> [Float] {
    let opt = Optimizer(s, count: theta.count)
    var t = theta
    for g in grads {
        t.withUnsafeMutableBufferPointer { tp in
            g.withUnsafeBufferPointer { gp in opt.step(theta: tp.baseAddress!, grad: gp.baseAddress!, lr: lr, threads: 1) }
        }
    }
    return t
}

func close(_ a: [Float], _ b: [Double], _ tol: Double = 1e-6) -> Bool {
    zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
}

@Suite struct OptimizerTests {
    @Test func plainSGDWithWeightDecay() {
        var s = OptimizerSettings(); s.kind = .sgd; s.momentum = 0; s.weightDecay = 0.1
        let t = run(s, theta: [1, -2], grads: [[0.5, 0.25]], lr: 0.1)
        // θ - lr (g + wd θ) = 1 - 0.1 (0.5 + 0.1) = 0.94; -2 - 0.1 (0.25 - 0.2) = -2.005
        #expect(close(t, [0.94, -2.005]))
    }

    @Test func sgdMomentumAndNesterov() {
        var s = OptimizerSettings(); s.kind = .sgd; s.momentum = 0.9
        // Step 1: b = g = 1 → θ = 1 - 0.1 = 0.9. Step 2: g = 2, b = 0.9 + 2 = 2.9 → θ = 0.9 - 0.29 = 0.61.
        #expect(close(run(s, theta: [1], grads: [[1], [2]], lr: 0.1), [0.61]))
        s.nesterov = true
        // Step 1: b = 1, d = 1 + 0.9 = 1.9 → θ = 0.81. Step 2: b = 2.9, d = 2 + 2.61 = 4.61 → θ = 0.81 - 0.461 = 0.349.
        #expect(close(run(s, theta: [1], grads: [[1], [2]], lr: 0.1), [0.349]))
    }

    @Test func adamTwoSteps() {
        var s = OptimizerSettings(); s.kind = .adam
        let lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8
        var theta = 0.5, m = 0.0, v = 0.0
        for (t, g) in [0.2, -0.1].enumerated() {
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            let bc1 = 1 - Foundation.pow(b1, Double(t + 1)), bc2 = 1 - Foundation.pow(b2, Double(t + 1))
            theta -= lr / bc1 * m / (v.squareRoot() / bc2.squareRoot() + eps)
        }
        #expect(close(run(s, theta: [0.5], grads: [[0.2], [-0.1]], lr: lr), [theta], 1e-5))
    }

    @Test func adamWDecouplesWeightDecay() {
        var s = OptimizerSettings(); s.kind = .adamw; s.weightDecay = 0.5
        // One step: θ = θ(1 - lr wd) - lr · m̂ / (√v̂ + ε) with m̂ = g, √v̂ = |g|: 2·(1 - 0.05) - 0.1 = 1.8.
        #expect(close(run(s, theta: [2], grads: [[3]], lr: 0.1), [1.8], 1e-5))
        s.kind = .adam
        // Adam adds wd θ to the gradient instead: g = 3 + 1 = 4, the step is still lr·sign = 0.1.
        #expect(close(run(s, theta: [2], grads: [[3]], lr: 0.1), [1.9], 1e-5))
    }

    @Test func schedules() {
        #expect(Schedule.constant.rate(base: 0.1, step: 50, epoch: 3, totalSteps: 100, warmup: 0) == 0.1)
        let step = Schedule.step(every: 2, gamma: 0.5)
        #expect(abs(step.rate(base: 0.1, step: 0, epoch: 3, totalSteps: 100, warmup: 0) - 0.05) < 1e-12)
        let cos = Schedule.cosine(minimum: 0)
        #expect(abs(cos.rate(base: 0.1, step: 0, epoch: 0, totalSteps: 100, warmup: 0) - 0.1) < 1e-12)
        #expect(abs(cos.rate(base: 0.1, step: 50, epoch: 0, totalSteps: 100, warmup: 0) - 0.05) < 1e-12)
        #expect(abs(cos.rate(base: 0.1, step: 25, epoch: 0, totalSteps: 100, warmup: 0) - 0.1 * (1 + Foundation.cos(Double.pi / 4)) / 2) < 1e-12)
        #expect(abs(Schedule.constant.rate(base: 0.1, step: 4, epoch: 0, totalSteps: 100, warmup: 10) - 0.05) < 1e-12)
        #expect(Schedule.parse("step:3:0.5") == .step(every: 3, gamma: 0.5))
        #expect(Schedule.parse("cosine") == .cosine(minimum: 0))
        #expect(Schedule.parse("linear") == nil)
        #expect(Schedule.parse("step:0") == nil)
    }

    @Test func configRejectsBadValuesWithThePlace() {
        var c = TrainConfig()
        #expect(throws: TrainingError.self) { try c.set("lr", "-1", place: "spec.yaml:3:3") }
        #expect(throws: TrainingError.self) { try c.set("optimizer", "rmsprop", place: "--optimizer") }
        #expect(throws: TrainingError.self) { try c.set("learning_rate", "0.1", place: "spec.yaml:4:3") }
        #expect(throws: TrainingError.self) { try c.set("epochs", "1e99", place: "--epochs") }
        do {
            try c.set("lr", "abc", place: "spec.yaml:3:3")
        } catch {
            #expect(error.message.hasPrefix("spec.yaml:3:3: error: 'lr'"))
        }
    }
}
