// The reference interpreter against values computed independently here: hand-worked numbers,
// formulas written out in the test, and a scatter-form convolution (every input pixel pushed to
// the outputs that read it) unlike the interpreter's gather form. Then every shipped spec at a
// reduced resolution, end to end.

import Foundation
import IR
import Runtime
import Testing

// MARK: - Convolution

struct RefConvCase: Sendable, CustomTestStringConvertible {
    var inChannels: Int, height: Int, width: Int
    var conv: Conv2D
    var testDescription: String {
        let c = conv
        return "\(inChannels)x\(height)x\(width) → \(c.outChannels) k\(c.kernel) s\(c.stride) p\(c.padding) d\(c.dilation) g\(c.groups)\(c.bias ? " bias" : "")"
    }
}

/// Conv2d in scatter form: each input pixel, through each tap, adds to the output that reads it.
func refScatterConv(_ x: [Float], batch: Int, inChannels cin: Int, height h: Int, width w: Int, _ c: Conv2D,
                    weight: [Float], bias: [Float]?, outHeight oh: Int, outWidth ow: Int) -> [Double] {
    let cinG = cin / c.groups, coutG = c.outChannels / c.groups
    var y = [Double](repeating: 0, count: batch * c.outChannels * oh * ow)
    for n in 0..<batch {
        for ci in 0..<cin {
            let g = ci / cinG
            for iy in 0..<h {
                for ix in 0..<w {
                    let v = Double(x[((n * cin + ci) * h + iy) * w + ix])
                    for coInGroup in 0..<coutG {
                        let co = g * coutG + coInGroup
                        for ky in 0..<c.kernel.h {
                            for kx in 0..<c.kernel.w {
                                // The output (oy, ox) reads (iy, ix) through this tap when
                                // oy * stride - pad + k * dilation == i.
                                let ny = iy + c.padding.top - ky * c.dilation.h, nx = ix + c.padding.left - kx * c.dilation.w
                                guard ny >= 0, nx >= 0, ny % c.stride.h == 0, nx % c.stride.w == 0 else { continue }
                                let oy = ny / c.stride.h, ox = nx / c.stride.w
                                guard oy < oh, ox < ow else { continue }
                                let wv = Double(weight[((co * cinG + ci % cinG) * c.kernel.h + ky) * c.kernel.w + kx])
                                y[((n * c.outChannels + co) * oh + oy) * ow + ox] += v * wv
                            }
                        }
                    }
                }
            }
        }
    }
    if let bias {
        for n in 0..<batch { for co in 0..<c.outChannels { for p in 0..<(oh * ow) { y[(n * c.outChannels + co) * oh * ow + p] += Double(bias[co]) } } }
    }
    return y
}

@Suite("Reference interpreter: single ops")
struct ReferenceInterpreterOpTests {
    @Test("3x3 Laplacian conv with padding and bias, worked by hand")
    func knownConv() throws {
        var b = RefGraphBuilder(input: [1, 3, 3])
        b.add(.conv2d(Conv2D(outChannels: 1, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)))), name: "conv")
        let weights = Weights(["conv.weight": [0, 1, 0, 1, -4, 1, 0, 1, 0], "conv.bias": [0.5]])
        let y = try refRun(b.graph, weights, [1, 2, 3, 4, 5, 6, 7, 8, 9], batch: 1)
        #expect(y == [2.5, 1.5, -3.5, -2.5, 0.5, -6.5, -15.5, -10.5, -21.5])
    }

    static let convCases: [RefConvCase] = [
        RefConvCase(inChannels: 1, height: 5, width: 5, conv: Conv2D(outChannels: 1, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)))),
        RefConvCase(inChannels: 3, height: 7, width: 6, conv: Conv2D(outChannels: 5, kernel: Size2(square: 3), stride: Size2(square: 2), bias: false)),
        // Asymmetric padding, rectangular kernel and stride, two groups.
        RefConvCase(inChannels: 4, height: 7, width: 6, conv: Conv2D(outChannels: 6, kernel: Size2(3, 2), stride: Size2(2, 1),
                                                                      padding: Padding(top: 0, left: 1, bottom: 2, right: 1), groups: 2)),
        // Dilation.
        RefConvCase(inChannels: 3, height: 8, width: 7, conv: Conv2D(outChannels: 4, kernel: Size2(square: 3),
                                                                      padding: Padding(symmetric: Size2(square: 2)), dilation: Size2(2, 3))),
        // Depthwise, strided (MobileNet) and with a channel multiplier.
        RefConvCase(inChannels: 4, height: 6, width: 6, conv: Conv2D(outChannels: 4, kernel: Size2(square: 3), stride: Size2(square: 2),
                                                                      padding: Padding(symmetric: Size2(square: 1)), groups: 4, bias: false)),
        RefConvCase(inChannels: 3, height: 5, width: 6, conv: Conv2D(outChannels: 6, kernel: Size2(square: 5),
                                                                      padding: Padding(symmetric: Size2(square: 2)), groups: 3)),
        // 1x1 strided projection (ResNet downsample), and a 1x1 input padded into a 3x3 kernel.
        RefConvCase(inChannels: 8, height: 6, width: 5, conv: Conv2D(outChannels: 3, kernel: Size2(square: 1), stride: Size2(square: 2))),
        RefConvCase(inChannels: 5, height: 1, width: 1, conv: Conv2D(outChannels: 7, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)))),
        // More output channels than the interpreter's block of 128 (a partial last block), and
        // a receptive field longer than its 64-tap transposition tile; grouped too.
        RefConvCase(inChannels: 10, height: 4, width: 3, conv: Conv2D(outChannels: 130, kernel: Size2(square: 3),
                                                                       padding: Padding(symmetric: Size2(square: 1)))),
        RefConvCase(inChannels: 4, height: 3, width: 3, conv: Conv2D(outChannels: 260, kernel: Size2(square: 1), groups: 2)),
        // "same" padding of an even kernel: the extra pixel at the bottom/right.
        RefConvCase(inChannels: 2, height: 5, width: 4, conv: Conv2D(outChannels: 3, kernel: Size2(square: 4),
                                                                      padding: Padding(top: 1, left: 1, bottom: 2, right: 2))),
    ]

    @Test("conv2d against a scatter-form convolution", arguments: convCases)
    func convAgainstScatter(_ t: RefConvCase) throws {
        var b = RefGraphBuilder(input: [t.inChannels, t.height, t.width])
        let i = b.add(.conv2d(t.conv), name: "layer.conv")
        let graph = b.graph
        let params = graph.nodes[i].parameters(inputShape: graph.inputShape)
        var weights = Weights()
        for (k, p) in params.enumerated() { weights[p.name] = refRandom(p.elementCount, seed: UInt64(10 + k)) }
        #expect(weights.mismatches(for: graph).isEmpty)
        let batch = 2
        let x = refRandom(batch * t.inChannels * t.height * t.width, seed: 3)
        let y = try refRun(graph, weights, x, batch: batch)
        let out = graph.outputShape
        let expected = refScatterConv(x, batch: batch, inChannels: t.inChannels, height: t.height, width: t.width, t.conv,
                                      weight: weights["layer.conv.weight"]!, bias: weights["layer.conv.bias"],
                                      outHeight: out.height, outWidth: out.width)
        refExpectClose(y, expected, tol: 1e-6)
    }

    @Test("batch norm uses running statistics: (x - mean) / sqrt(var + eps) * weight + bias")
    func batchNorm() throws {
        var b = RefGraphBuilder(input: [2, 1, 3])
        b.add(.batchNorm(BatchNorm(eps: 1e-3)), name: "bn")
        let (mean, variance, gamma, beta): ([Float], [Float], [Float], [Float]) = ([1, -2], [4, 0.25], [2, 1], [0.5, -1])
        let weights = Weights(["bn.weight": gamma, "bn.bias": beta, "bn.running_mean": mean, "bn.running_var": variance])
        let x: [Float] = [1, 3, -1, -2, 0, 1, /* sample 2 */ 5, 0, 2, -3, -2.5, 4]
        let y = try refRun(b.graph, weights, x, batch: 2)
        var expected: [Double] = []
        for n in 0..<2 {
            for c in 0..<2 {
                for i in 0..<3 {
                    let v = Double(x[(n * 2 + c) * 3 + i])
                    expected.append((v - Double(mean[c])) / (Double(variance[c]) + 1e-3).squareRoot() * Double(gamma[c]) + Double(beta[c]))
                }
            }
        }
        refExpectClose(y, expected, tol: 1e-6)
        // Spot check by hand: channel 0, x = 3: (3 - 1) / sqrt(4.001) * 2 + 0.5 ≈ 2.49975.
        #expect(abs(y[1] - 2.49975) < 1e-5)
    }

    static let activations: [(IR.Activation, @Sendable (Double) -> Double)] = [
        (.identity, { $0 }),
        (.relu, { $0 > 0 ? $0 : 0 }),
        (.relu6, { $0 < 0 ? 0 : ($0 > 6 ? 6 : $0) }),
        (.leakyRelu(slope: 0.1), { $0 >= 0 ? $0 : 0.1 * $0 }),
        (.leakyRelu(slope: 0.01), { $0 >= 0 ? $0 : 0.01 * $0 }),
        (.sigmoid, { 1 / (1 + exp(-$0)) }),
        (.tanh, { (exp($0) - exp(-$0)) / (exp($0) + exp(-$0)) }),
        (.silu, { $0 / (1 + exp(-$0)) }),
        (.hardswish, { $0 <= -3 ? 0 : ($0 >= 3 ? $0 : $0 * ($0 + 3) / 6) }),
        (.hardsigmoid, { $0 <= -3 ? 0 : ($0 >= 3 ? 1 : $0 / 6 + 0.5) }),
    ]

    @Test("every activation follows PyTorch's formula", arguments: activations)
    func activation(_ act: IR.Activation, _ formula: @Sendable (Double) -> Double) throws {
        var b = RefGraphBuilder(input: [13])
        b.add(.activation(act))
        let x: [Float] = [-8, -4, -3, -2.5, -1, -0.25, 0, 0.25, 1, 2.5, 3, 6.5, 9]
        let y = try refRun(b.graph, Weights(), x, batch: 1)
        refExpectClose(y, x.map { formula(Double($0)) }, tol: 2e-7)
    }

    @Test("activation spot values") func activationSpots() throws {
        func one(_ act: IR.Activation, _ v: Float) throws -> Float {
            var b = RefGraphBuilder(input: [1])
            b.add(.activation(act))
            return try refRun(b.graph, Weights(), [v], batch: 1)[0]
        }
        #expect(try one(.relu6, 7) == 6)
        #expect(try one(.leakyRelu(slope: 0.1), -2) == -0.2)
        #expect(try one(.sigmoid, 0) == 0.5)
        #expect(try one(.hardswish, 1) == Float(4.0 / 6.0))
        #expect(try one(.hardswish, -3) == 0)
        #expect(try one(.hardsigmoid, 3) == 1)
        #expect(try one(.silu, 0) == 0)
    }

    @Test("max pool with ceil_mode keeps the partial last window") func maxPoolCeil() throws {
        let x = (0..<25).map(Float.init)
        var floorMode = RefGraphBuilder(input: [1, 5, 5])
        floorMode.add(.pool2d(Pool2D(kind: .max, kernel: Size2(square: 2), stride: Size2(square: 2))))
        #expect(floorMode.graph.outputShape.dims == [1, 2, 2])
        #expect(try refRun(floorMode.graph, Weights(), x, batch: 1) == [6, 8, 16, 18])

        var ceilMode = RefGraphBuilder(input: [1, 5, 5])
        ceilMode.add(.pool2d(Pool2D(kind: .max, kernel: Size2(square: 2), stride: Size2(square: 2), ceilMode: true)))
        #expect(ceilMode.graph.outputShape.dims == [1, 3, 3])
        #expect(try refRun(ceilMode.graph, Weights(), x, batch: 1) == [6, 8, 9, 16, 18, 19, 21, 23, 24])
    }

    @Test("max pool: padding never wins, dilation spreads the window") func maxPoolPaddingDilation() throws {
        // All-negative input: a zero from the padding must not appear.
        let x = (0..<16).map { -Float($0) - 1 }
        var b = RefGraphBuilder(input: [1, 4, 4])
        b.add(.pool2d(Pool2D(kind: .max, kernel: Size2(square: 3), stride: Size2(square: 2), padding: Size2(square: 1))))
        #expect(try refRun(b.graph, Weights(), x, batch: 1) == [-1, -2, -5, -6])
        var d = RefGraphBuilder(input: [1, 4, 4])
        d.add(.pool2d(Pool2D(kind: .max, kernel: Size2(square: 2), stride: Size2(square: 1), dilation: Size2(square: 2))))
        // Window of (y, x) reads (y, x), (y, x+2), (y+2, x), (y+2, x+2); the largest is -(y*4+x) - 1.
        #expect(try refRun(d.graph, Weights(), x, batch: 1) == [-1, -2, -5, -6])
    }

    struct AvgCase: Sendable, CustomTestStringConvertible {
        var size: Int, kernel: Int, stride: Int, padding: Int, ceil: Bool, includePad: Bool
        var expected: [Double]
        var testDescription: String { "\(size)x\(size) k\(kernel) s\(stride) p\(padding)\(ceil ? " ceil" : "")\(includePad ? " count_include_pad" : "")" }
    }

    // Worked with PyTorch's rule: the divisor counts padding (count_include_pad) but never the
    // part of a ceil-mode window beyond the trailing padding. Input: value = row * size + col.
    static let avgCases: [AvgCase] = [
        AvgCase(size: 5, kernel: 3, stride: 2, padding: 1, ceil: false, includePad: true,
                expected: [12.0 / 9, 3, 24.0 / 9, 7, 12, 9, 8, 13, 84.0 / 9]),
        AvgCase(size: 5, kernel: 3, stride: 2, padding: 1, ceil: false, includePad: false,
                expected: [3, 4.5, 6, 10.5, 12, 13.5, 18, 19.5, 21]),
        AvgCase(size: 6, kernel: 3, stride: 2, padding: 0, ceil: true, includePad: true,
                expected: [7, 9, 10.5, 19, 21, 22.5, 28, 30, 31.5]),
        AvgCase(size: 6, kernel: 3, stride: 2, padding: 1, ceil: true, includePad: true,
                expected: [14.0 / 9, 30.0 / 9, 42.0 / 9, 16.0 / 6, 75.0 / 9, 14, 16, 51.0 / 6,
                           147.0 / 9, 26, 28, 87.0 / 6, 61.0 / 6, 16, 17, 8.75]),
        AvgCase(size: 6, kernel: 3, stride: 2, padding: 1, ceil: true, includePad: false,
                expected: [3.5, 5, 7, 8, 12.5, 14, 16, 17, 24.5, 26, 28, 29, 30.5, 32, 34, 35]),
    ]

    @Test("avg pool: ceil_mode, padding and count_include_pad", arguments: avgCases)
    func avgPool(_ t: AvgCase) throws {
        var b = RefGraphBuilder(input: [1, t.size, t.size])
        b.add(.pool2d(Pool2D(kind: .avg, kernel: Size2(square: t.kernel), stride: Size2(square: t.stride),
                             padding: Size2(square: t.padding), ceilMode: t.ceil, countIncludePad: t.includePad)))
        let y = try refRun(b.graph, Weights(), (0..<(t.size * t.size)).map(Float.init), batch: 1)
        refExpectClose(y, t.expected, tol: 1e-6)
    }

    @Test("adaptive avg pool bins: 7→3 are [0,3) [2,5) [4,7), 5→2 are [0,3) [2,5)") func adaptiveBins() throws {
        var b = RefGraphBuilder(input: [1, 7, 5])
        b.add(.adaptiveAvgPool2d(outputHeight: 3, outputWidth: 2))
        // value = 5 * row + col, so a bin's mean is 5 * (mean row) + (mean col).
        let x = (0..<35).map(Float.init)
        let y = try refRun(b.graph, Weights(), x, batch: 1)
        #expect(y == [6, 8, 16, 18, 26, 28])

        var square = RefGraphBuilder(input: [1, 7, 7])
        square.add(.adaptiveAvgPool2d(outputHeight: 3, outputWidth: 3))
        #expect(try refRun(square.graph, Weights(), (0..<49).map(Float.init), batch: 1) == [8, 10, 12, 22, 24, 26, 36, 38, 40])
    }

    @Test("adaptive avg pool to a larger size overlaps and replicates (VGG at 32x32: 1x1 → 7x7)") func adaptiveUp() throws {
        var b = RefGraphBuilder(input: [1, 2, 2])
        b.add(.adaptiveAvgPool2d(outputHeight: 3, outputWidth: 3))
        #expect(try refRun(b.graph, Weights(), [1, 2, 3, 4], batch: 1) == [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
        var one = RefGraphBuilder(input: [2, 1, 1])
        one.add(.adaptiveAvgPool2d(outputHeight: 7, outputWidth: 7))
        #expect(try refRun(one.graph, Weights(), [3, -1], batch: 1) == [Float](repeating: 3, count: 49) + [Float](repeating: -1, count: 49))
    }

    @Test("softmax over features: sums to 1, exp(x - max) / sum, no overflow") func softmaxVector() throws {
        var b = RefGraphBuilder(input: [5])
        b.add(.softmax)
        let x: [Float] = [1, 2, 3, 4, 5, 1000, 999, 998, -1000, 0]
        let y = try refRun(b.graph, Weights(), x, batch: 2)
        for n in 0..<2 {
            let row = x[(n * 5)..<(n * 5 + 5)].map(Double.init)
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            refExpectClose(Array(y[(n * 5)..<(n * 5 + 5)]), e.map { $0 / s }, tol: 1e-6)
            #expect(abs(y[(n * 5)..<(n * 5 + 5)].reduce(0, +) - 1) < 1e-6)
        }
    }

    @Test("softmax on a feature map normalizes over channels at each position") func softmaxFeatureMap() throws {
        var b = RefGraphBuilder(input: [3, 2, 2])
        b.add(.softmax)
        let x = refRandom(2 * 12, seed: 5).map { $0 * 4 }
        let y = try refRun(b.graph, Weights(), x, batch: 2)
        var expected = [Double](repeating: 0, count: 24)
        for n in 0..<2 {
            for p in 0..<4 {
                let idx = (0..<3).map { (n * 3 + $0) * 4 + p }
                let e = idx.map { exp(Double(x[$0])) }
                let s = e.reduce(0, +)
                for (i, v) in zip(idx, e) { expected[i] = v / s }
            }
        }
        refExpectClose(y, expected, tol: 1e-6)
    }

    @Test("squeeze-excitation multiply broadcasts a [C, 1, 1] gate; same-shape multiply is elementwise") func multiply() throws {
        var b = RefGraphBuilder(input: [3, 2, 2])
        let pooled = b.add(.adaptiveAvgPool2d(outputHeight: 1, outputWidth: 1), [0])
        let gate = b.add(.activation(.sigmoid), [pooled])
        b.add(.multiply, [0, gate])
        let x = refRandom(2 * 12, seed: 9)
        let y = try refRun(b.graph, Weights(), x, batch: 2)
        var expected = [Double](repeating: 0, count: 24)
        for n in 0..<2 {
            for c in 0..<3 {
                let plane = (0..<4).map { Double(x[(n * 3 + c) * 4 + $0]) }
                let g = Double(Float(1 / (1 + exp(-Double(Float(plane.reduce(0, +) / 4))))))
                for i in 0..<4 { expected[(n * 3 + c) * 4 + i] = plane[i] * g }
            }
        }
        refExpectClose(y, expected, tol: 1e-6)

        var same = RefGraphBuilder(input: [2, 1, 2])
        let t = same.add(.activation(.tanh), [0])
        same.add(.multiply, [0, t])
        let x2: [Float] = [1, -2, 0.5, 3]
        refExpectClose(try refRun(same.graph, Weights(), x2, batch: 1), x2.map { Double($0) * Double(Float(tanh(Double($0)))) }, tol: 1e-6)
    }

    @Test("concat stacks channels per sample") func concat() throws {
        var b = RefGraphBuilder(input: [1, 1, 2])
        let a = b.add(.activation(.identity), [0])
        let c = b.add(.concat, [0, a, 0])
        #expect(b.graph.nodes[c].shape.dims == [3, 1, 2])
        let y = try refRun(b.graph, Weights(), [1, 2, /* sample 2 */ 3, 4], batch: 2)
        #expect(y == [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4])

        var wide = RefGraphBuilder(input: [2, 1, 1])
        let r = wide.add(.activation(.relu), [0])
        let six = wide.add(.activation(.relu6), [0])
        wide.add(.concat, [r, 0, six])
        #expect(try refRun(wide.graph, Weights(), [-1, 7, 2, 3], batch: 2) == [0, 7, -1, 7, 0, 6, 2, 3, 2, 3, 2, 3])
    }

    @Test("add is n-ary and elementwise") func add() throws {
        var b = RefGraphBuilder(input: [2, 1, 1])
        let r = b.add(.activation(.relu), [0])
        let s = b.add(.activation(.sigmoid), [0])
        b.add(.add, [0, r, s])
        let x: [Float] = [-2, 1.5]
        let y = try refRun(b.graph, Weights(), x, batch: 1)
        refExpectClose(y, x.map { Double($0) + max(Double($0), 0) + 1 / (1 + exp(-Double($0))) }, tol: 1e-6)
    }

    @Test("flatten is C order and linear is x W^T + b; dropout and stochastic depth are the identity") func flattenLinear() throws {
        var b = RefGraphBuilder(input: [2, 1, 2])
        b.add(.stochasticDepth(p: 0.5))
        b.add(.flatten)
        b.add(.dropout(p: 0.9))
        b.add(.linear(Linear(outFeatures: 2)), name: "fc")
        let w: [Float] = [1, 2, 3, 4, /* row 2 */ -1, 0, 0.5, 0]
        let weights = Weights(["fc.weight": w, "fc.bias": [10, -10]])
        // Sample [[a, b], [c, d]] flattens to [a, b, c, d].
        let y = try refRun(b.graph, weights, [1, 2, 3, 4, /* sample 2 */ 0, 0, 0, 1], batch: 2)
        let expected: [Float] = [10 + 30, -10 + 0.5, 10 + 4, -10]
        #expect(y == expected)

        var noBias = RefGraphBuilder(input: [3])
        noBias.add(.linear(Linear(outFeatures: 1, bias: false)), name: "head")
        #expect(try refRun(noBias.graph, Weights(["head.weight": [1, -1, 2]]), [3, 2, 1], batch: 1) == [3])
    }

    @Test("a wide linear layer (more than one block of outputs, a long row) against dot products") func wideLinear() throws {
        var b = RefGraphBuilder(input: [150])
        b.add(.linear(Linear(outFeatures: 300)), name: "head")
        let w = refRandom(300 * 150, seed: 21), bias = refRandom(300, seed: 22)
        let x = refRandom(3 * 150, seed: 23)
        let y = try refRun(b.graph, Weights(["head.weight": w, "head.bias": bias]), x, batch: 3)
        var expected: [Double] = []
        for n in 0..<3 {
            for o in 0..<300 {
                expected.append((0..<150).reduce(Double(bias[o])) { $0 + Double(w[o * 150 + $1]) * Double(x[n * 150 + $1]) })
            }
        }
        refExpectClose(y, expected, tol: 1e-6)
    }

    @Test("dropout and stochastic depth alone pass the input through") func identities() throws {
        var b = RefGraphBuilder(input: [2, 2, 2])
        b.add(.dropout(p: 0.5))
        b.add(.stochasticDepth(p: 0.2))
        let x = refRandom(16, seed: 1)
        #expect(try refRun(b.graph, Weights(), x, batch: 2) == x)
    }

    @Test("missing or wrong-sized tensors and wrong input sizes throw instead of crashing") func errors() throws {
        var b = RefGraphBuilder(input: [2, 3, 3])
        b.add(.conv2d(Conv2D(outChannels: 2, kernel: Size2(square: 3))), name: "conv")
        b.add(.batchNorm(BatchNorm()), name: "bn")
        let graph = b.graph
        let good = Initializer.torchvision(graph: graph, seed: 1)
        let x = refRandom(36, seed: 2)
        #expect(throws: Never.self) { try refRun(graph, good, x, batch: 2) }

        var missing = good
        missing["bn.running_var"] = nil
        #expect(throws: ReferenceInterpreterError.self) { try refRun(graph, missing, x, batch: 2) }
        var short = good
        short["conv.weight"] = [1, 2, 3]
        #expect(throws: ReferenceInterpreterError.self) { try refRun(graph, short, x, batch: 2) }
        var noBias = good
        noBias["conv.bias"] = nil
        #expect(throws: ReferenceInterpreterError.self) { try refRun(graph, noBias, x, batch: 2) }

        #expect(throws: ReferenceInterpreterError.self) { try refRun(graph, good, x, batch: 3) }
        #expect(throws: ReferenceInterpreterError.self) { try refRun(graph, good, [], batch: 0) }
        do {
            _ = try ReferenceInterpreter.run(graph: graph, weights: missing, input: x, batch: 2)
            Issue.record("no error")
        } catch {
            #expect(error.message.contains("bn.running_var"))
        }
    }
}

// MARK: - Specs

@Suite("Reference interpreter: specs")
struct ReferenceInterpreterSpecTests {
    @Test("a spec's parameter names reach the interpreter (conv → relu → pool → flatten → linear)") func tinySpec() throws {
        let graph = try refLoadYAML("""
            name: tiny
            input: {channels: 1, height: 3, width: 3}
            layers:
              - {conv2d: 1, kernel: 3, padding: 1, name: conv}
              - {relu, name: act}
              - {global_avg_pool, name: pool}
              - flatten
              - {linear: 2, name: fc}
              - softmax
            """)
        #expect(Set(graph.parameters.map(\.name)) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"])
        let weights = Weights(["conv.weight": [0, 1, 0, 1, -4, 1, 0, 1, 0], "conv.bias": [0.5],
                               "fc.weight": [1, -1], "fc.bias": [0, 1]])
        let y = try refRun(graph, weights, [1, 2, 3, 4, 5, 6, 7, 8, 9], batch: 1)
        // Conv output (see knownConv) after ReLU: 2.5, 1.5, 0.5 are positive; mean = 4.5 / 9 = 0.5.
        // fc: [0.5, -0.5 + 1] = [0.5, 0.5]; softmax = [0.5, 0.5].
        #expect(y == [0.5, 0.5])
    }

    @Test("a residual block from a spec: relu(bn2(conv2(relu(bn1(conv1 x)))) + x)") func residualSpec() throws {
        let graph = try refLoadYAML("""
            input: {channels: 2, height: 4, width: 4}
            blocks:
              basic:
                layers:
                  - {conv2d: 2, kernel: 3, padding: 1, bias: false, name: conv1}
                  - {batchnorm, name: bn1}
                  - {relu, name: relu1}
                  - {conv2d: 2, kernel: 3, padding: 1, bias: false, name: conv2}
                  - {batchnorm, name: bn2}
                residual: {shortcut: identity}
            layers:
              - {basic, name: block}
              - relu
            """)
        var weights = Initializer.torchvision(graph: graph, seed: 3)
        Initializer.randomizeBatchNormStatistics(&weights, graph: graph, seed: 4)
        #expect(weights.mismatches(for: graph).isEmpty)
        let x = refRandom(2 * 32, seed: 6)
        let y = try refRun(graph, weights, x, batch: 2)

        // The same computation, op by op, with the test's own conv and formulas.
        func conv(_ v: [Double], _ name: String) -> [Double] {
            let c = Conv2D(outChannels: 2, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)), bias: false)
            return refScatterConv(v.map { Float($0) }, batch: 2, inChannels: 2, height: 4, width: 4, c,
                                  weight: weights[name]!, bias: nil, outHeight: 4, outWidth: 4)
                .map { Double(Float($0)) }
        }
        func bn(_ v: [Double], _ name: String) -> [Double] {
            let g = weights[name + ".weight"]!, b = weights[name + ".bias"]!
            let m = weights[name + ".running_mean"]!, s = weights[name + ".running_var"]!
            return v.indices.map { i in
                let c = (i / 16) % 2
                return Double(Float((v[i] - Double(m[c])) / (Double(s[c]) + 1e-5).squareRoot() * Double(g[c]) + Double(b[c])))
            }
        }
        let keys = graph.parameters.map(\.name)
        let conv1 = keys.first { $0.hasSuffix("conv1.weight") }!, conv2 = keys.first { $0.hasSuffix("conv2.weight") }!
        let bn1 = String(keys.first { $0.hasSuffix("bn1.weight") }!.dropLast(".weight".count))
        let bn2 = String(keys.first { $0.hasSuffix("bn2.weight") }!.dropLast(".weight".count))
        let h = bn(conv(x.map(Double.init), conv1), bn1).map { max($0, 0) }
        let out = zip(bn(conv(h, conv2), bn2), x).map { max(Double(Float($0 + Double($1))), 0) }
        refExpectClose(y, out, tol: 1e-5)
    }

    struct ZooCase: Sendable, CustomTestStringConvertible {
        var spec: String
        var variant: String? = nil
        var sets: [String] = []
        var classes = 1000
        var testDescription: String { ([spec] + (variant.map { [$0] } ?? []) + sets).joined(separator: " ") }
    }

    /// Every shipped spec, at a resolution small enough for a debug build.
    static let zoo: [ZooCase] = [
        ZooCase(spec: "lenet5", classes: 10),
        ZooCase(spec: "mnist_cnn", classes: 10),
        ZooCase(spec: "alexnet", sets: ["resolution=63"]),  // the smallest its three pools allow
        ZooCase(spec: "vgg16", sets: ["resolution=32"]),
        ZooCase(spec: "resnet", sets: ["resolution=32"]),  // default variant: 50
        ZooCase(spec: "resnet", variant: "18", sets: ["resolution=32"]),
        ZooCase(spec: "mobilenet_v1", sets: ["resolution=32"]),
        ZooCase(spec: "mobilenet_v2", sets: ["resolution=32"]),
        ZooCase(spec: "efficientnet", sets: ["resolution=32"]),  // b0
    ]

    @Test("every shipped spec runs: output shape, finite, samples differ", arguments: zoo)
    func zooRuns(_ t: ZooCase) throws {
        let graph = try refLoadSpec(t.spec, variant: t.variant, sets: t.sets)
        #expect(graph.outputShape.dims == [t.classes])
        let weights = Initializer.torchvision(graph: graph, seed: 42)
        #expect(weights.mismatches(for: graph).isEmpty)
        let batch = 2
        let x = refRandom(batch * graph.inputShape.elementCount!, seed: 7)
        let y = try refRun(graph, weights, x, batch: batch)
        #expect(y.count == batch * t.classes)
        #expect(y.allSatisfy { $0.isFinite })
        let first = Array(y[0..<t.classes]), second = Array(y[t.classes...])
        #expect(first != second, "two different inputs gave the same output")
        #expect(first.max()! > first.min()!, "a constant output vector")
    }

    /// The cheap models: a sample's output does not depend on the other samples of the batch.
    @Test("batch 2 equals two runs of batch 1, bit for bit", arguments: [
        ZooCase(spec: "lenet5", classes: 10),
        ZooCase(spec: "mobilenet_v2", sets: ["resolution=32"]),
        ZooCase(spec: "efficientnet", sets: ["resolution=32"]),
    ])
    func batchIndependence(_ t: ZooCase) throws {
        let graph = try refLoadSpec(t.spec, variant: t.variant, sets: t.sets)
        var weights = Initializer.torchvision(graph: graph, seed: 5)
        Initializer.randomizeBatchNormStatistics(&weights, graph: graph, seed: 6)
        let n = graph.inputShape.elementCount!
        let x = refRandom(2 * n, seed: 8)
        let both = try refRun(graph, weights, x, batch: 2)
        let a = try refRun(graph, weights, Array(x[0..<n]), batch: 1)
        let b = try refRun(graph, weights, Array(x[n...]), batch: 1)
        #expect(both == a + b)
    }

    /// The release-build budget: ResNet-50 at 224x224, batch 1. Opt in with
    /// MODELC_REFERENCE_RESNET50=1 (run `swift test -c release --filter resnet50At224`).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MODELC_REFERENCE_RESNET50"] == "1"))
    func resnet50At224() throws {
        let graph = try refLoadSpec("resnet", variant: "50")
        let weights = Initializer.torchvision(graph: graph, seed: 1)
        let x = refRandom(graph.inputShape.elementCount!, seed: 2)
        let start = Date()
        let y = try refRun(graph, weights, x, batch: 1)
        let seconds = Date().timeIntervalSince(start)
        print("reference ResNet-50 224x224 batch 1: \(String(format: "%.2f", seconds)) s")
        #expect(y.count == 1000 && y.allSatisfy { $0.isFinite })
        #expect(seconds < 60)
    }
}
