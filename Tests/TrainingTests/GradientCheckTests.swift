// Finite-difference checks of every backward op: for a small net ending in a linear layer, the
// analytic gradient of L = Σ r ⊙ logits (r random) with respect to sampled parameters is
// compared with the central difference (L(θ + h) - L(θ - h)) / 2h of the training-mode forward
// (batch statistics; dropout masks are fixed by the step key, so they are the same in every
// evaluation). Every parameter sits upstream of the op under test, so its gradient is only
// right if that op's backward is. A wrong derivative fails these tests by orders of magnitude.

import Foundation
import IR
import Testing
@testable import Training

/// Checks up to `samples` entries of every trainable tensor; returns the worst relative error.
func gradientCheck(_ g: Graph, batch: Int = 3, threads: Int = 1, seed: UInt64 = 7, samples: Int = 12,
                   step: Float = 1e-2, key: UInt64 = 42, normwise: Bool = false) throws -> (worst: Double, report: String) {
    let plan = try TrainingPlan(graph: g, batch: batch, threads: threads)
    try plan.load(randomWeights(g, seed: seed))
    let inputCount = (g.inputShape.elementCount ?? 0) * batch
    let input = randomFloats(inputCount, seed: seed &+ 100)
    let r = randomFloats(batch * plan.classes, seed: seed &+ 200)
    func objective() -> Double {
        let out = plan.forward(input, n: batch, training: true, randomKey: key)
        var s = 0.0
        for i in 0..<out.count { s += Double(out[i]) * Double(r[i]) }
        return s
    }
    _ = objective()
    plan.backward(logitGradient: r, n: batch)
    var worst = 0.0
    var report = ""
    var checked = 0, skipped = 0
    var pairs: [(Double, Double)] = []
    var weights = plan.weights()
    let stats = plan.flatStatistics
    for p in plan.trainable {
        guard let analytic = plan.gradient(of: p.name), var values = weights[p.name] else { continue }
        let picks = values.count <= samples ? Array(0..<values.count)
            : (0..<samples).map { ($0 * 7919 + 13) % values.count }
        for i in picks {
            let original = values[i]
            // Central differences at h and h/4: where they disagree the step crossed a kink
            // (relu, max) and the sample says nothing about the derivative; it is skipped.
            func difference(_ h: Float) throws -> Double {
                values[i] = original + h; weights[p.name] = values; try plan.load(weights); plan.setFlatStatistics(stats)
                let up = objective()
                values[i] = original - h; weights[p.name] = values; try plan.load(weights); plan.setFlatStatistics(stats)
                let down = objective()
                values[i] = original; weights[p.name] = values
                return (up - down) / (Double(original + h) - Double(original - h))
            }
            let h = step * max(1, abs(original))
            let fd = try difference(h), fdSmall = try difference(h / 4)
            checked += 1
            if abs(fd - fdSmall) > 0.02 * max(abs(fd), abs(fdSmall), 1e-2) { skipped += 1; continue }
            let a = Double(analytic[i])
            let err = abs(fd - a) / max(abs(fd), abs(a), 3e-2)
            pairs.append((fd, a))
            if err > worst { worst = err; report = "\(p.name)[\(i)]: analytic \(a), finite difference \(fd)" }
        }
        try plan.load(weights); plan.setFlatStatistics(stats)
    }
    // Kinks may hide a few samples, never most of them.
    if skipped * 4 > checked { worst = max(worst, 1); report += " (\(skipped) of \(checked) samples not smooth)" }
    if normwise {
        // Piecewise-linear nets: a kink next to the sample point biases both differences alike,
        // so judge the sampled gradient as a whole: ‖fd - analytic‖ / ‖fd‖.
        let num = pairs.reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let den = pairs.reduce(0) { $0 + $1.0 * $1.0 }.squareRoot()
        return (num / max(den, 1e-12), "norm-wise over \(pairs.count) samples; worst single: \(report)")
    }
    return (worst, report)
}

func expectGradients(_ yaml: String, batch: Int = 3, tolerance: Double = 2e-2, step: Float = 1e-2, normwise: Bool = false,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    let g = try graph(yaml)
    let (worst, report) = try gradientCheck(g, batch: batch, step: step, normwise: normwise)
    #expect(worst < tolerance, "worst: \(report)", sourceLocation: sourceLocation)
}

@Suite struct GradientChecks {
    @Test func convStridedPaddedWithBias() throws {
        try expectGradients("""
        input: {channels: 3, height: 7, width: 7}
        layers:
          - {conv2d: 4, kernel: 3, stride: 2, padding: 1}
          - tanh
          - {conv2d: 5, kernel: [2, 3], padding: [0, 1, 1, 0]}
          - flatten
          - {linear: 4}
        """)
    }

    @Test func convDilatedAndGrouped() throws {
        try expectGradients("""
        input: {channels: 4, height: 8, width: 8}
        layers:
          - {conv2d: 6, kernel: 3, dilation: 2, padding: 1, bias: false}
          - sigmoid
          - {conv2d: 4, kernel: 3, groups: 2, stride: [1, 2]}
          - flatten
          - {linear: 3}
        """)
    }

    @Test func depthwiseAndPointwise() throws {
        try expectGradients("""
        input: {channels: 3, height: 6, width: 6}
        layers:
          - {conv2d: 5, kernel: 1}
          - tanh
          - {conv2d: 5, kernel: 3, groups: 5, padding: 1, stride: 2}
          - flatten
          - {linear: 3}
        """)
    }

    @Test func batchNormTrainingMode() throws {
        try expectGradients("""
        input: {channels: 2, height: 5, width: 5}
        layers:
          - {conv2d: 3, kernel: 3, padding: 1}
          - batchnorm
          - tanh
          - {conv2d: 4, kernel: 3, stride: 2}
          - {batchnorm: null, eps: 0.001}
          - flatten
          - {linear: 3}
        """, batch: 4)
    }

    @Test func maxPoolCeilModePadding() throws {
        try expectGradients("""
        input: {channels: 3, height: 7, width: 7}
        layers:
          - {conv2d: 4, kernel: 1}
          - {max_pool2d: 3, stride: 2, padding: 1, ceil_mode: true}
          - flatten
          - {linear: 3}
        """, step: 1e-3)
    }

    @Test func avgPoolsAndAdaptive() throws {
        try expectGradients("""
        input: {channels: 2, height: 7, width: 7}
        layers:
          - {conv2d: 3, kernel: 1}
          - {avg_pool2d: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false, name: a}
          - {avg_pool2d: 2, stride: 1, padding: 1, from: a, name: b}
          - {adaptive_avg_pool2d: [2, 3]}
          - flatten
          - {linear: 3}
        """)
    }

    @Test(arguments: ["relu", "relu6", "{leaky_relu: 0.2}", "sigmoid", "tanh", "silu", "hardswish", "hardsigmoid", "identity"])
    func activation(_ act: String) throws {
        try expectGradients("""
        input: {channels: 2, height: 4, width: 4}
        layers:
          - {conv2d: 4, kernel: 1}
          - \(act)
          - flatten
          - {linear: 3}
        """, step: 1e-3)
    }

    @Test func addConcatMultiplyGateSoftmax() throws {
        try expectGradients("""
        input: {channels: 3, height: 5, width: 5}
        layers:
          - {conv2d: 4, kernel: 3, padding: 1, name: a}
          - {conv2d: 4, kernel: 1, from: a, name: b}
          - {add: [a, b], name: s}
          - {conv2d: 2, kernel: 1, from: s, name: c}
          - {concat: [s, c], name: cat}
          - {global_avg_pool: null, name: pooled}
          - {conv2d: 6, kernel: 1, name: gate_logits}
          - {sigmoid: null, name: gate}
          - {multiply: [cat, gate], name: gated}
          - {multiply: [gated, cat], name: squared}
          - {softmax: null, name: sm}
          - flatten
          - {linear: 3}
        """)
    }

    @Test func dropoutIsDifferentiatedWithItsMask() throws {
        try expectGradients("""
        input: {channels: 1, height: 6, width: 6}
        layers:
          - {conv2d: 4, kernel: 3}
          - relu
          - {dropout: 0.3}
          - flatten
          - {linear: 8}
          - {dropout: 0.5}
          - {linear: 3}
        """, step: 1e-3)
    }

    @Test func wholeMnistStyleNet() throws {
        try expectGradients("""
        input: {channels: 1, height: 12, width: 12}
        layers:
          - {conv2d: 8, kernel: 3, name: conv1}
          - relu
          - {conv2d: 16, kernel: 3, name: conv2}
          - batchnorm
          - relu
          - {max_pool2d: 2}
          - {dropout: 0.25}
          - flatten
          - {linear: 20, name: fc1}
          - relu
          - {linear: 10, name: fc2}
        """, batch: 4, tolerance: 0.05, step: 1e-3, normwise: true)
    }

    @Test func wholeSmoothResidualNet() throws {
        try expectGradients("""
        input: {channels: 2, height: 8, width: 8}
        layers:
          - {conv2d: 6, kernel: 3, padding: 1, bias: false, name: stem}
          - batchnorm
          - {silu: null, name: a}
          - {conv2d: 6, kernel: 3, padding: 1, bias: false}
          - {batchnorm: null, name: b}
          - {add: [a, b], name: res}
          - {tanh: null}
          - {avg_pool2d: 2}
          - flatten
          - {linear: 12}
          - hardswish
          - {linear: 10}
        """, batch: 4)
    }

    @Test func stochasticDepthRowMode() throws {
        // Not in the spec language; built directly on the IR.
        let conv = Conv2D(outChannels: 3, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)))
        let nodes = [
            Node(op: .input, inputs: [], name: "", shape: TensorShape([2, 4, 4])),
            Node(op: .conv2d(conv), inputs: [0], name: "conv", shape: TensorShape([3, 4, 4])),
            Node(op: .stochasticDepth(p: 0.5), inputs: [1], name: "sd", shape: TensorShape([3, 4, 4])),
            Node(op: .flatten, inputs: [2], name: "flat", shape: TensorShape([48])),
            Node(op: .linear(Linear(outFeatures: 3)), inputs: [3], name: "fc", shape: TensorShape([3])),
        ]
        let g = Graph(name: "sd", nodes: nodes, output: 4)
        let (worst, report) = try gradientCheck(g, batch: 6)
        #expect(worst < 2e-2, "worst: \(report)")
    }

    @Test func twoThreadsGiveTheSameGradients() throws {
        let g = try graph("""
        input: {channels: 3, height: 10, width: 10}
        layers:
          - {conv2d: 40, kernel: 3, padding: 1}
          - batchnorm
          - relu
          - {max_pool2d: 2}
          - flatten
          - {linear: 37}
          - relu
          - {linear: 10}
        """)
        var results: [[Float]] = []
        for threads in [1, 2] {
            let plan = try TrainingPlan(graph: g, batch: 16, threads: threads)
            try plan.load(randomWeights(g, seed: 3))
            let input = randomFloats(16 * 300, seed: 5)
            _ = plan.forward(input, n: 16, training: true, randomKey: 1)
            plan.backward(logitGradient: randomFloats(160, seed: 9), n: 16)
            results.append(plan.flatGradients)
        }
        #expect(results[0] == results[1])
    }
}

@Suite struct LossTests {
    @Test func crossEntropyWithLabelSmoothingMatchesDefinitionAndGradient() throws {
        let k = 5, n = 3
        let logits = randomFloats(n * k, seed: 11).map { $0 * 3 }
        let labels: [Int32] = [0, 3, 4]
        for eps in [0.0, 0.1] {
            var grad = [Float](repeating: 0, count: n * k)
            func loss(_ z: [Float]) -> Double {
                var total = 0.0
                for r in 0..<n {
                    let row = z[(r * k)..<(r * k + k)].map(Double.init)
                    let lse = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
                    for i in 0..<k {
                        let q = (i == Int(labels[r]) ? 1 - eps : 0) + eps / Double(k)
                        total -= q * (row[i] - lse)
                    }
                }
                return total / Double(n)
            }
            let result = logits.withUnsafeBufferPointer { l in
                labels.withUnsafeBufferPointer { y in
                    grad.withUnsafeMutableBufferPointer { g in
                        softmaxCrossEntropy(logits: l.baseAddress!, labels: y.baseAddress!, n: n, classes: k, smoothing: eps, gradient: g.baseAddress!)
                    }
                }
            }
            #expect(abs(result.loss - loss(logits)) < 1e-6)
            for i in 0..<(n * k) {
                var up = logits, down = logits
                up[i] += 1e-3; down[i] -= 1e-3
                let fd = (loss(up) - loss(down)) / 2e-3
                #expect(abs(fd - Double(grad[i])) < 1e-3, "logit \(i) eps \(eps)")
            }
        }
    }
}
