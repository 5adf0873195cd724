// The reference interpreter: runs an UNOPTIMIZED IR graph node by node, in NCHW (PyTorch's
// layout), with plain loops and PyTorch eval-mode semantics. It is the "truth" the compiled
// plan is compared against, so it shares nothing with the compiler: no fusion, no folding, no
// NHWC, no packed weights. Parameters are looked up by the state_dict keys of
// `Node.parameters(inputShape:)`.
//
// Cheap ops (batch norm, activations, pools, softmax, add, concat, channel multiply) call the
// naive kernels of `Kernels.Reference`. Conv2d and linear, where all the time goes, are written
// here in the same "Double accumulators, obvious indices" style, but on raw pointers and with the
// innermost loop running over contiguous output channels: that keeps ResNet-50 at 224x224 to a
// few seconds in a release build and the zoo at reduced resolution fast enough for debug-build
// tests (at -Onone an array subscript costs ~80 ns, a pointer access ~3 ns, Float → Double is a
// function call, and an accumulate-into-a-row loop is ~3x faster than a dot product). Being
// separate code from `Kernels.Reference.conv2d` also makes it an independent check of that kernel.

import IR
import Kernels

/// Why the reference interpreter could not run a graph: a missing or wrong-sized parameter, an
/// input of the wrong size, or a graph that breaks the IR's invariants.
public struct ReferenceInterpreterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum ReferenceInterpreter {
    /// Runs `graph` on `batch` samples. `input` is NCHW `[batch, C, H, W]` (or `[batch, F]`),
    /// row-major; the result is the output node's value for all samples, NCHW or `[batch, F]`.
    /// Eval mode: dropout and stochastic depth are the identity, batch norm uses running stats.
    public static func run(graph: Graph, weights: Weights, input: [Float], batch: Int) throws(ReferenceInterpreterError) -> [Float] {
        guard batch > 0 else { throw ReferenceInterpreterError("batch must be positive; found \(batch)") }
        guard graph.nodes.indices.contains(graph.output) else {
            throw ReferenceInterpreterError("graph output \(graph.output) is not a node of the graph")
        }
        // Each value is dropped after its last reader, so peak memory is that of the widest cut.
        var lastUse = [Int](repeating: -1, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            for j in node.inputs where graph.nodes.indices.contains(j) { lastUse[j] = max(lastUse[j], i) }
        }
        lastUse[graph.output] = Int.max

        var values = [[Float]?](repeating: nil, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            if i > graph.output { break }
            for j in node.inputs where !(0..<i).contains(j) || values[j] == nil {
                throw ReferenceInterpreterError("node \(i) (\(node.name)) reads node \(j), which is not computed before it")
            }
            let inputs = node.inputs.map { values[$0]! }
            let shapes = node.inputs.map { graph.nodes[$0].shape }
            let y: [Float]
            if case .input = node.op {
                guard let n = node.shape.elementCount, input.count == batch * n else {
                    throw ReferenceInterpreterError("the input has \(input.count) elements; batch \(batch) of \(node.shape) needs \(batch * (node.shape.elementCount ?? 0))")
                }
                y = input
            } else {
                guard !inputs.isEmpty else { throw ReferenceInterpreterError("node \(i) (\(node.name)) has no inputs") }
                y = try evaluate(node, inputs: inputs, shapes: shapes, weights: weights, batch: batch)
            }
            guard y.count == batch * (node.shape.elementCount ?? -1) else {
                throw ReferenceInterpreterError("node \(i) (\(node.name)) produced \(y.count) elements; batch \(batch) of \(node.shape) needs \(batch * (node.shape.elementCount ?? 0))")
            }
            values[i] = y
            for j in node.inputs where lastUse[j] == i { values[j] = nil }
        }
        return values[graph.output]!
    }

    /// One node on its (already computed) inputs.
    static func evaluate(_ node: Node, inputs xs: [[Float]], shapes: [TensorShape], weights: Weights,
                         batch: Int) throws(ReferenceInterpreterError) -> [Float] {
        let x = xs[0], s = shapes[0], out = node.shape
        let params = node.parameters(inputShape: s)
        func tensor(_ k: Int) throws(ReferenceInterpreterError) -> [Float] {
            let p = params[k]
            guard let t = weights[p.name] else {
                throw ReferenceInterpreterError("missing tensor '\(p.name)' of shape \(p.shape) (node \(node.name))")
            }
            guard t.count == p.elementCount else {
                throw ReferenceInterpreterError("tensor '\(p.name)' has \(t.count) elements; \(node.op.kindName) expects \(p.shape)")
            }
            return t
        }
        func featureMap(_ shape: TensorShape) throws(ReferenceInterpreterError) {
            guard shape.isFeatureMap else {
                throw ReferenceInterpreterError("\(node.op.kindName) (node \(node.name)) expects a feature map; found \(shape)")
            }
        }

        switch node.op {
        case .input:
            return x
        case .conv2d(let c):
            try featureMap(s); try featureMap(out)
            guard c.groups > 0, s.channels % c.groups == 0, c.outChannels % c.groups == 0, out.channels == c.outChannels else {
                throw ReferenceInterpreterError("conv2d \(node.name): groups \(c.groups) do not fit \(s) → \(out)")
            }
            let weight = try tensor(0)
            let bias = c.bias ? try tensor(1) : nil
            return conv2d(x, batch: batch, input: s, c, weight: weight, bias: bias, output: out)
        case .batchNorm(let bn):
            try featureMap(s)
            let (gamma, beta, mean, variance) = (try tensor(0), try tensor(1), try tensor(2), try tensor(3))
            return Reference.batchNorm(x, batch: batch, channels: s.channels, spatial: s.height * s.width, gamma: gamma,
                                       beta: beta, mean: mean, variance: variance, epsilon: Float(bn.eps))
        case .activation(let a):
            return Reference.activation(x, kernelActivation(a))
        case .pool2d(let p):
            try featureMap(s)
            let shape = Pool2dShape(batch: batch, channels: s.channels, inHeight: s.height, inWidth: s.width,
                                    kernelH: p.kernel.h, kernelW: p.kernel.w, strideH: p.stride.h, strideW: p.stride.w,
                                    padTop: p.padding.h, padLeft: p.padding.w, padBottom: p.padding.h, padRight: p.padding.w,
                                    dilationH: p.dilation.h, dilationW: p.dilation.w, ceilMode: p.ceilMode,
                                    countIncludePad: p.countIncludePad)
            guard shape.outHeight == out.height, shape.outWidth == out.width else {
                throw ReferenceInterpreterError("pool \(node.name): window gives \(shape.outHeight)x\(shape.outWidth); the graph records \(out)")
            }
            switch p.kind {
            case .max:
                return Reference.maxPool2d(x, shape)
            case .avg:
                // PyTorch's avg_pool2d has no dilation; the spec language never sets one.
                guard p.dilation == Size2(square: 1) else {
                    throw ReferenceInterpreterError("avg_pool2d \(node.name): dilation \(p.dilation) is not supported")
                }
                return Reference.avgPool2d(x, shape)
            }
        case .adaptiveAvgPool2d(let oh, let ow):
            try featureMap(s)
            return Reference.adaptiveAvgPool2d(x, batch: batch, channels: s.channels, height: s.height, width: s.width,
                                               outHeight: oh, outWidth: ow)
        case .flatten, .dropout, .stochasticDepth:
            // NCHW is already torch.flatten(x, 1)'s C order; the others are the identity in eval mode.
            return x
        case .linear(let l):
            guard s.rank == 1 else { throw ReferenceInterpreterError("linear \(node.name) expects a flat vector; found \(s)") }
            let weight = try tensor(0)
            let bias = l.bias ? try tensor(1) : nil
            return linear(x, batch: batch, inFeatures: s.channels, weight: weight, outFeatures: l.outFeatures, bias: bias)
        case .softmax:
            return softmaxOverChannels(x, batch: batch, channels: s.channels, spatial: s.height * s.width)
        case .add:
            for (k, t) in shapes.enumerated() where t != s {
                throw ReferenceInterpreterError("add \(node.name): input \(k) has shape \(t), input 0 \(s)")
            }
            // Left to right with a Float result after each step, as `a + b + c` in PyTorch.
            return xs.dropFirst().reduce(x) { Reference.add($0, $1) }
        case .concat:
            for (k, t) in shapes.enumerated() where !t.isFeatureMap || t.height != s.height || t.width != s.width {
                throw ReferenceInterpreterError("concat \(node.name): input \(k) has shape \(t), input 0 \(s)")
            }
            return Reference.concatChannels(xs, channels: shapes.map(\.channels), batch: batch, spatial: s.height * s.width)
        case .multiply:
            guard xs.count == 2 else { throw ReferenceInterpreterError("multiply \(node.name) expects 2 inputs; found \(xs.count)") }
            let g = shapes[1]
            if g == s {
                return zip(x, xs[1]).map { $0 * $1 }
            }
            guard s.isFeatureMap, g.dims == [s.channels, 1, 1] else {
                throw ReferenceInterpreterError("multiply \(node.name): cannot broadcast \(g) over \(s)")
            }
            return Reference.channelMultiply(x, gate: xs[1], batch: batch, channels: s.channels, spatial: s.height * s.width)
        }
    }

    /// The kernels' activation enum for an IR activation (leaky ReLU's slope as float, as PyTorch
    /// applies it to a float tensor).
    static func kernelActivation(_ a: IR.Activation) -> Kernels.Activation {
        switch a {
        case .identity: .none
        case .relu: .relu
        case .relu6: .relu6
        case .leakyRelu(let slope): .leakyRelu(Float(slope))
        case .sigmoid: .sigmoid
        case .tanh: .tanh
        case .silu: .silu
        case .hardswish: .hardswish
        case .hardsigmoid: .hardsigmoid
        }
    }

    /// PyTorch conv2d on NCHW: y[n, co, oy, ox] = bias[co] + sum over the group's input channels
    /// ci and taps (ky, kx) of w[co, ci, ky, kx] * x[n, g*Cin/G + ci, oy*sh - top + ky*dh,
    /// ox*sw - left + kx*dw], with x = 0 outside the input; g = co / (Cout/G). Weight OIHW
    /// `[Cout, Cin/groups, kh, kw]`.
    ///
    /// For each output pixel the receptive field is gathered into `patch` (zero in the padding);
    /// each patch value times its row of the transposed weights is added to the Double
    /// accumulators of the output channels at once. Output channels go in blocks of 128 so that
    /// the transposed (Double) copy of their weights stays small.
    static func conv2d(_ x: [Float], batch: Int, input s: TensorShape, _ c: Conv2D, weight: [Float], bias: [Float]?,
                       output o: TensorShape) -> [Float] {
        let cin = s.channels, ih = s.height, iw = s.width
        let cout = c.outChannels, oh = o.height, ow = o.width
        let groups = c.groups, cinG = cin / groups, coutG = cout / groups
        let kh = c.kernel.h, kw = c.kernel.w, sh = c.stride.h, sw = c.stride.w, dh = c.dilation.h, dw = c.dilation.w
        let top = c.padding.top, left = c.padding.left
        let taps = cinG * kh * kw  // the receptive field of one output
        let block = min(coutG, 128)
        let b = (0..<cout).map { co in bias.map { Double($0[co]) } ?? 0 }

        var wt = [Double](repeating: 0, count: taps * block)
        var patch = [Double](repeating: 0, count: taps)
        var acc = [Double](repeating: 0, count: block)
        var y = [Float](repeating: 0, count: batch * cout * oh * ow)
        x.withUnsafeBufferPointer { xb in
        weight.withUnsafeBufferPointer { wb in
        wt.withUnsafeMutableBufferPointer { tb in
        patch.withUnsafeMutableBufferPointer { pb in
        acc.withUnsafeMutableBufferPointer { ab in
        y.withUnsafeMutableBufferPointer { yb in
            let xp = xb.baseAddress!, wp = wb.baseAddress!, wt = tb.baseAddress!
            let patch = pb.baseAddress!, acc = ab.baseAddress!, yp = yb.baseAddress!
            for g in 0..<groups {
                for co0 in stride(from: 0, to: coutG, by: block) {
                    let width = min(block, coutG - co0)
                    // wt[k][j] = weight[g * coutG + co0 + j][k], k in tiles of 64 so that the
                    // writes stay in cache (a linear layer's rows are up to 25088 long).
                    for k0 in stride(from: 0, to: taps, by: 64) {
                        let k1 = min(k0 + 64, taps)
                        for j in 0..<width {
                            let from = wp + (g * coutG + co0 + j) * taps
                            var k = k0
                            while k < k1 {
                                wt[k * width + j] = Double(from[k])
                                k += 1
                            }
                        }
                    }
                    for n in 0..<batch {
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var k = 0
                                for ci in 0..<cinG {
                                    let plane = xp + (n * cin + g * cinG + ci) * ih * iw
                                    for ky in 0..<kh {
                                        let iy = oy * sh - top + ky * dh
                                        for kx in 0..<kw {
                                            let ix = ox * sw - left + kx * dw
                                            patch[k] = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? Double(plane[iy * iw + ix]) : 0
                                            k += 1
                                        }
                                    }
                                }
                                var j = 0
                                while j < width { acc[j] = 0; j += 1 }
                                k = 0
                                while k < taps {
                                    let v = patch[k], row = wt + k * width
                                    j = 0
                                    while j < width {
                                        acc[j] += v * row[j]
                                        j += 1
                                    }
                                    k += 1
                                }
                                for j in 0..<width {
                                    let co = g * coutG + co0 + j
                                    yp[((n * cout + co) * oh + oy) * ow + ox] = Float(acc[j] + b[co])
                                }
                            }
                        }
                    }
                }
            }
        }}}}}}
        return y
    }

    /// PyTorch linear: y[n, o] = bias[o] + sum_i W[o, i] * x[n, i], weight `[out, in]`. This is
    /// the 1x1 convolution of `[in, 1, 1]` to `[out, 1, 1]`, so it is computed as one.
    static func linear(_ x: [Float], batch: Int, inFeatures: Int, weight: [Float], outFeatures: Int, bias: [Float]?) -> [Float] {
        conv2d(x, batch: batch, input: TensorShape(channels: inFeatures, height: 1, width: 1),
               Conv2D(outChannels: outFeatures, kernel: Size2(square: 1), bias: bias != nil), weight: weight, bias: bias,
               output: TensorShape(channels: outFeatures, height: 1, width: 1))
    }

    /// Softmax over dim 1 of `[N, C, spatial]` (spatial = 1 for `[N, F]`): each (n, position)
    /// is normalized over the channels.
    static func softmaxOverChannels(_ x: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
        if spatial == 1 { return Reference.softmax(x, rows: batch, length: channels) }
        var y = x
        for n in 0..<batch {
            for p in 0..<spatial {
                let idx = (0..<channels).map { (n * channels + $0) * spatial + p }
                let column = Reference.softmax(idx.map { x[$0] }, rows: 1, length: channels)
                for (i, v) in zip(idx, column) { y[i] = v }
            }
        }
        return y
    }
}
