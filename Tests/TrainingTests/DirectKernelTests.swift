// The few-channel fast paths (direct single-input-channel conv forward and dW, dX of convs
// with few input channels by GEMM + col2im, register-row dW of unpadded few-channel convs,
// scalar max pool with argmax) against the general GEMM / 16-lane paths on LeNet-5-like shapes, forward
// output and every gradient, plus a finite-difference check with the fast paths on.

import Foundation
import IR
import Testing
@testable import Training

/// Logits and every parameter gradient of one training-mode forward and backward.
func logitsAndGradients(_ g: Graph, batch: Int, threads: Int, direct: Bool) throws -> ([Float], [String: [Float]]) {
    directConvEnabled = direct; directPoolEnabled = direct
    defer { directConvEnabled = true; directPoolEnabled = true }
    let plan = try TrainingPlan(graph: g, batch: batch, threads: threads)
    try plan.load(randomWeights(g, seed: 3))
    let input = randomFloats(batch * (g.inputShape.elementCount ?? 0), seed: 5)
    let out = plan.forward(input, n: batch, training: true, randomKey: 1)
    let r = randomFloats(batch * plan.classes, seed: 9)
    plan.backward(logitGradient: r, n: batch)
    var grads: [String: [Float]] = [:]
    for p in plan.trainable { grads[p.name] = plan.gradient(of: p.name) }
    return (out, grads)
}

func expectClose(_ a: [Float], _ b: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): sizes", sourceLocation: sourceLocation)
    let scale = max(1e-3, b.map { abs($0) }.max() ?? 0)
    var worst: Float = 0
    for i in 0..<min(a.count, b.count) { worst = max(worst, abs(a[i] - b[i])) }
    #expect(worst <= 1e-4 * scale, "\(what): worst difference \(worst) (scale \(scale))", sourceLocation: sourceLocation)
}

func expectFastPathsMatch(_ yaml: String, batch: Int, threads: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let g = try graph(yaml)
    let (yFast, gFast) = try logitsAndGradients(g, batch: batch, threads: threads, direct: true)
    let (yRef, gRef) = try logitsAndGradients(g, batch: batch, threads: threads, direct: false)
    expectClose(yFast, yRef, "logits", sourceLocation: sourceLocation)
    #expect(Set(gFast.keys) == Set(gRef.keys), sourceLocation: sourceLocation)
    for (name, ref) in gRef { expectClose(gFast[name] ?? [], ref, name, sourceLocation: sourceLocation) }
}

let lenetLike = """
input: {channels: 1, height: 28, width: 28}
layers:
  - {conv2d: 6, kernel: 5, padding: 2}
  - relu
  - {max_pool2d: 2}
  - {conv2d: 16, kernel: 5}
  - relu
  - {max_pool2d: 2}
  - flatten
  - {linear: 10}
"""

@Suite(.serialized) struct DirectKernelTests {
    @Test func lenetShapesMatchTheGeneralPath() throws {
        // 19 images: two full dW chunks and a partial one; 1 and 2 threads.
        try expectFastPathsMatch(lenetLike, batch: 19, threads: 2)
        try expectFastPathsMatch(lenetLike, batch: 5, threads: 1)
    }

    @Test func wideOddShapesMatchTheGeneralPath() throws {
        // More than 8 output channels (two register blocks), a row of 20 (a partial 16-lane
        // block), no bias, asymmetric padding, overlapping 3x3/2 pool windows.
        try expectFastPathsMatch("""
        input: {channels: 1, height: 20, width: 21}
        layers:
          - {conv2d: 10, kernel: [3, 4], padding: [1, 2, 0, 1], bias: false}
          - relu
          - {max_pool2d: 3, stride: 2}
          - {conv2d: 3, kernel: 3}
          - flatten
          - {linear: 4}
        """, batch: 11, threads: 2)
    }

    @Test func fewInputChannelDataGradientMatchesTheGeneralPath() throws {
        // dX of convs with at most 8 input channels: the gather (stride 1, with padding and
        // dilation) and the scatter (stride 2) after the per-image GEMM; the register-row dW
        // with fewer than 16 output channels and a partial block of rows (3x3 over 3 channels).
        try expectFastPathsMatch("""
        input: {channels: 3, height: 11, width: 11}
        layers:
          - {conv2d: 7, kernel: 3}
          - tanh
          - {conv2d: 5, kernel: 3, stride: 2, padding: 1}
          - tanh
          - {conv2d: 3, kernel: 2, dilation: 2, padding: [1, 0, 0, 1]}
          - flatten
          - {linear: 4}
        """, batch: 6, threads: 2)
    }

    /// Convs over whole 32-channel blocks: dW through the table as B, dX by output-pixel tiles
    /// added into dX (unpadded, strided with asymmetric padding, dilated, two channel blocks;
    /// three of them reading the same tensor, so dX accumulates).
    static let wideConvs = """
    input: {channels: 3, height: 9, width: 9}
    layers:
      - {conv2d: 32, kernel: 3, padding: 1}
      - {tanh: null, name: t}
      - {conv2d: 6, kernel: 3, from: t, name: b}
      - {global_avg_pool: null, name: bp}
      - {conv2d: 5, kernel: 3, stride: 2, padding: [1, 0, 0, 1], from: t, name: c}
      - {global_avg_pool: null, name: cp}
      - {conv2d: 4, kernel: [3, 2], dilation: 2, from: t, name: d}
      - {global_avg_pool: null, name: dp}
      - {conv2d: 64, kernel: 1, from: t, name: u}
      - {tanh: null}
      - {conv2d: 3, kernel: 3}
      - {global_avg_pool: null, name: up}
      - {concat: [bp, cp, dp, up]}
      - flatten
      - {linear: 4}
    """

    @Test func wideConvGradientsMatchTheGeneralPath() throws {
        try expectFastPathsMatch(DirectKernelTests.wideConvs, batch: 5, threads: 2)
        try expectFastPathsMatch(DirectKernelTests.wideConvs, batch: 2, threads: 1)
    }

    @Test func wideConvGradientsByFiniteDifferences() throws {
        // 4 samples per tensor keep this quick in a debug build.
        let (worst, report) = try gradientCheck(try graph(DirectKernelTests.wideConvs), batch: 2, samples: 4)
        #expect(worst < 2e-2, "worst: \(report)")
    }

    /// 3x3 stride-1 convs over whole 16-channel vectors, forward, dX and dW by Winograd
    /// F(2x2, 3x3): odd sizes (ragged tiles), unpadded, asymmetric padding, padding 2 (dX
    /// unpadded), a tensor read by two of them (dX accumulates), 16 and 32 channels; 19
    /// images make three dW chunks.
    static let winogradConvs = """
    input: {channels: 3, height: 7, width: 9}
    layers:
      - {conv2d: 16, kernel: 3, padding: 1}
      - {tanh: null, name: t}
      - {conv2d: 32, kernel: 3, padding: 1, from: t}
      - tanh
      - {conv2d: 16, kernel: 3}
      - tanh
      - {conv2d: 16, kernel: 3, padding: [2, 0, 1, 2], bias: false}
      - {global_avg_pool: null, name: cp}
      - {conv2d: 16, kernel: 3, padding: 2, from: t}
      - {global_avg_pool: null, name: ep}
      - {concat: [cp, ep]}
      - flatten
      - {linear: 4}
    """

    @Test func winogradConvsMatchTheGeneralPath() throws {
        try expectFastPathsMatch(DirectKernelTests.winogradConvs, batch: 19, threads: 2)
        try expectFastPathsMatch(DirectKernelTests.winogradConvs, batch: 2, threads: 1)
    }

    @Test func winogradConvGradientsByFiniteDifferences() throws {
        let (worst, report) = try gradientCheck(try graph(DirectKernelTests.winogradConvs), batch: 2, samples: 4)
        #expect(worst < 2e-2, "worst: \(report)")
    }

    @Test func vectorMaxPoolMatchesTheGeneralPath() throws {
        // 2x2/2 max pool over whole 16-channel vectors (32 channels), its gradient added to the
        // one an average pool of the same tensor wrote first; an odd-sized pool input (9x9,
        // not tiled exactly) stays on the general path.
        try expectFastPathsMatch("""
        input: {channels: 3, height: 8, width: 10}
        layers:
          - {conv2d: 32, kernel: 3, padding: 1}
          - {tanh: null, name: t}
          - {max_pool2d: 2, from: t, name: p}
          - {avg_pool2d: 2, from: t, name: q}
          - {add: [p, q]}
          - {conv2d: 16, kernel: [2, 1], padding: [1, 0, 0, 0]}
          - {max_pool2d: 2}
          - flatten
          - {linear: 4}
        """, batch: 5, threads: 2)
    }

    @Test func vectorMaxPoolGradientsByFiniteDifferences() throws {
        try expectGradients("""
        input: {channels: 2, height: 6, width: 4}
        layers:
          - {conv2d: 16, kernel: 3, padding: 1}
          - {tanh: null, name: t}
          - {max_pool2d: 2, from: t, name: p}
          - {avg_pool2d: 2, from: t, name: q}
          - {add: [p, q]}
          - flatten
          - {linear: 4}
        """)
    }

    @Test func directConvGradientsByFiniteDifferences() throws {
        try expectGradients("""
        input: {channels: 1, height: 9, width: 9}
        layers:
          - {conv2d: 6, kernel: 5, padding: 2}
          - tanh
          - {max_pool2d: 2}
          - flatten
          - {linear: 4}
        """)
    }
}
