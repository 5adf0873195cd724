import Compiler
import IR
import Kernels

/// Errors instantiating a plan (the weights were not validated against the spec).
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// An execution plan instantiated for one batch size and thread count: weights folded and
/// packed, one arena allocated, indirection buffers built. `run` then does no allocation: it is
/// a loop over prepared kernel calls. (Batch size is fixed per instance; the plan itself is
/// batch-independent because arena offsets scale with the batch, so re-instantiating for
/// another batch size re-packs nothing but indirection buffers.)
public final class CompiledModel: @unchecked Sendable {
    public let plan: ExecutionPlan
    public let batch: Int
    public let threads: Int
    private let arena: UnsafeMutableRawPointer
    private let base: UnsafeMutablePointer<Float>
    private var steps: [PreparedStep] = []
    /// True when the first step is the NCHW→NHWC layout of the plan's input and no other step
    /// reads the input buffer: `run` then has that step read the caller's input in place
    /// instead of first copying it into the arena. The copy was serial time, and at 2 threads
    /// it cost 40 µs for a 224x224 image (not 12: the other core held half of the buffer from
    /// the previous run, so every store had to invalidate its copy).
    private var layoutReadsCallerInput = false

    public var inputCount: Int { batch * plan.buffers[plan.input].floats }
    public var outputCount: Int { batch * plan.buffers[plan.output].floats }
    /// Arena bytes at this batch size.
    public var arenaBytes: Int { plan.arenaFloats * batch * 4 }

    public init(plan: ExecutionPlan, weights: Weights, batch: Int, threads: Int) throws(RuntimeError) {
        guard batch >= 1, threads >= 1 else { throw RuntimeError(message: "batch and threads must be at least 1") }
        self.plan = plan
        self.batch = batch
        self.threads = threads
        let floats = max(16, plan.arenaFloats * batch)
        arena = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
        base = arena.bindMemory(to: Float.self, capacity: floats)
        base.initialize(repeating: 0, count: floats)
        do {
            for s in plan.steps { steps.append(try prepare(s, weights: weights)) }
        } catch {
            throw RuntimeError(message: "cannot instantiate the plan: missing tensor '\(error.name)'")
        }
        // Buffers sharing the input's storage (views of it) count as the input.
        let inputStorage = plan.buffers[plan.input].storage
        func readsInput(_ b: Int?) -> Bool { b.map { plan.buffers[$0].storage == inputStorage } ?? false }
        if let first = plan.steps.first, first.inputs == [plan.input], !readsInput(first.output), steps[0].isNCHWToNHWC,
           plan.steps.dropFirst().allSatisfy({ !$0.inputs.contains(where: readsInput) && !readsInput($0.residual) && !readsInput($0.gate) }),
           !readsInput(plan.output) {
            layoutReadsCallerInput = true
        }
    }

    deinit { arena.deallocate() }

    func pointer(_ buffer: Int) -> UnsafeMutablePointer<Float> { base + plan.buffers[buffer].offset * batch }

    /// Runs the plan on `input` (NCHW, `inputCount` floats) into `output` (`outputCount`, NCHW
    /// or [N, F]).
    public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        for i in steps.indices { runStep(i, input: input) }
        output.update(from: pointer(plan.output), count: outputCount)
    }

    /// Runs step `i`; the first step reads `input` (the caller's) in place or from its arena copy.
    @inline(__always)
    private func runStep(_ i: Int, input: UnsafePointer<Float>) {
        if i == 0 {
            if layoutReadsCallerInput {
                steps[0].runLayout(reading: input, threads: threads)
                return
            }
            pointer(plan.input).update(from: input, count: inputCount)
        }
        steps[i].run(threads: threads)
    }

    public func run(_ input: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: outputCount)
        input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in run(input: i.baseAddress!, output: o.baseAddress!) }
        }
        return out
    }

    /// Per-step wall time of one run, for `modelc bench --profile`.
    public func profile(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) -> [Double] {
        var times: [Double] = []
        let clock = ContinuousClock()
        for i in steps.indices {
            let d = clock.measure { runStep(i, input: input) }
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        output.update(from: pointer(plan.output), count: outputCount)
        return times
    }

    // MARK: Preparation

    private func prepare(_ s: Step, weights: Weights) throws(Materialize.Missing) -> PreparedStep {
        let out = pointer(s.output)
        let ins = s.inputs.map { UnsafePointer(pointer($0)) }
        let outShape = plan.buffers[s.output].shape
        let inShape = s.inputs.first.map { plan.buffers[$0].shape } ?? outShape
        let act = kernelActivation(s.activation)
        let pixels = batch * outShape.height * outShape.width
        switch s.kind {
        case .convertLayout(let from, _):
            let c = inShape.channels, hw = inShape.height * inShape.width
            return PreparedStep(.layout(toNHWC: from == .nchw, input: ins[0], output: out, channels: c, pixelsPerImage: hw, pixels: batch * hw))
        case .conv(let conv, let algorithm):
            let shape = Conv2dShape(batch: batch, inChannels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                                    outChannels: conv.outChannels, kernelH: conv.kernel.h, kernelW: conv.kernel.w,
                                    strideH: conv.stride.h, strideW: conv.stride.w, padTop: conv.padding.top, padLeft: conv.padding.left,
                                    padBottom: conv.padding.bottom, padRight: conv.padding.right,
                                    dilationH: conv.dilation.h, dilationW: conv.dilation.w, groups: conv.groups)
            let (w, bias) = try Materialize.conv(s.weights, outChannels: conv.outChannels, weights)
            let epilogue = Epilogue(activation: act, residual: s.residual.map { UnsafePointer(pointer($0)) }, residualStride: conv.outChannels)
            if algorithm == .pointwiseDepthwise, let pw = s.pointwise {
                let expanded = conv.outChannels
                var dwShape = shape
                dwShape.inChannels = expanded
                let (pwW, pwBias) = try Materialize.conv(pw.weights, outChannels: expanded, weights)
                let packedPW = pwW.withUnsafeBufferPointer { wp in
                    pwBias.withOptionalPointer { PackedWeights.conv(wp.baseAddress!, outChannels: expanded, inChannelsPerGroup: pw.inputChannels,
                                                                    kernelH: 1, kernelW: 1, bias: $0) }
                }
                let packedDW = w.withUnsafeBufferPointer { wp in
                    bias.withOptionalPointer { PackedDepthwiseWeights(wp.baseAddress!, channels: expanded, kernelH: conv.kernel.h, kernelW: conv.kernel.w, bias: $0) }
                }
                return PreparedStep(.pointwiseDepthwise(PointwiseDepthwiseStep(
                    shape: dwShape, inputChannels: pw.inputChannels, input: ins[0], pointwise: packedPW,
                    pointwiseActivation: kernelActivation(pw.activation), depthwise: packedDW, output: out, epilogue: epilogue, threads: threads)))
            }
            if algorithm == .depthwise {
                let packed = w.withUnsafeBufferPointer { wp in
                    bias.withOptionalPointer { PackedDepthwiseWeights(wp.baseAddress!, channels: conv.outChannels, kernelH: conv.kernel.h, kernelW: conv.kernel.w, bias: $0) }
                }
                return PreparedStep(.depthwise(shape, input: ins[0], weights: packed, output: out, epilogue: epilogue))
            }
            if let tile = algorithm.winogradTile {
                let packed = w.withUnsafeBufferPointer { wp in
                    bias.withOptionalPointer { WinogradWeights(wp.baseAddress!, outChannels: conv.outChannels, inChannels: inShape.channels, bias: $0, tile: tile) }
                }
                return PreparedStep(.winograd(WinogradStep(shape: shape, input: ins[0], weights: packed, output: out, epilogue: epilogue, threads: threads)))
            }
            let packed = w.withUnsafeBufferPointer { wp in
                bias.withOptionalPointer {
                    PackedWeights.conv(wp.baseAddress!, outChannels: conv.outChannels, inChannelsPerGroup: inShape.channels / conv.groups,
                                       kernelH: conv.kernel.h, kernelW: conv.kernel.w, groups: conv.groups, bias: $0)
                }
            }
            if s.gate != nil {
                return PreparedStep(.gatedConv(GatedConvStep(shape: shape, input: ins[0], gate: ins[1], weights: packed, output: out, epilogue: epilogue)))
            }
            let indirection = shape.isPointwise ? nil : ConvIndirectionBuffer(shape: shape, input: ins[0])
            return PreparedStep(.conv(shape, input: ins[0], indirection: indirection, weights: packed, output: out, epilogue: epilogue))
        case .linear(let l):
            var (w, bias) = try Materialize.conv(s.weights, outChannels: l.outFeatures, weights)
            if let f = plan.buffers[s.inputs[0]].flattenedNHWC { w = Materialize.permuteColumns(w, out: l.outFeatures, from: f) }
            let packed = w.withUnsafeBufferPointer { wp in
                bias.withOptionalPointer { PackedWeights.linear(wp.baseAddress!, outFeatures: l.outFeatures, inFeatures: inShape.channels, bias: $0) }
            }
            return PreparedStep(.linear(input: ins[0], weights: packed, output: out, batch: batch, activation: act))
        case .batchNorm:
            guard let bn = s.weights.batchNorm else { throw Materialize.Missing(name: "<batchnorm>") }
            let (scale, shift) = try Materialize.batchNorm(bn, weights)
            return PreparedStep(.scaleShift(input: ins[0], scale: scale, shift: shift, output: out, channels: inShape.channels,
                                            pixels: batch * inShape.height * inShape.width, activation: act))
        case .activation(let a):
            return PreparedStep(.activation(kernelActivation(a), input: ins[0], output: out, count: batch * (outShape.elementCount ?? 0)))
        case .pool(let p):
            let shape = Pool2dShape(batch: batch, channels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                                    kernelH: p.kernel.h, kernelW: p.kernel.w, strideH: p.stride.h, strideW: p.stride.w,
                                    padTop: p.padding.h, padLeft: p.padding.w, padBottom: p.padding.h, padRight: p.padding.w,
                                    dilationH: p.dilation.h, dilationW: p.dilation.w, ceilMode: p.ceilMode, countIncludePad: p.countIncludePad)
            return PreparedStep(.pool(shape, max: p.kind == .max, input: ins[0], output: out, pixels: pixels))
        case .adaptiveAvgPool(let h, let w):
            return PreparedStep(.adaptivePool(batch: batch, channels: inShape.channels, inHeight: inShape.height, inWidth: inShape.width,
                                              outHeight: h, outWidth: w, input: ins[0], output: out, pixels: batch * h * w))
        case .add:
            return PreparedStep(.add(ins, output: out, count: batch * (outShape.elementCount ?? 0), activation: act))
        case .concat:
            let channels = s.inputs.map { plan.buffers[$0].shape.channels }
            return PreparedStep(.concat(ins, channels: channels, output: out, totalChannels: outShape.channels, pixels: pixels))
        case .multiply:
            return PreparedStep(.multiply(ins[0], ins[1], output: out, count: batch * (outShape.elementCount ?? 0)))
        case .channelGate:
            return PreparedStep(.channelGate(ins[0], gate: ins[1], output: out, channels: outShape.channels,
                                             pixelsPerImage: outShape.height * outShape.width, pixels: pixels))
        case .squeezeExcitation(let se):
            let c = inShape.channels, sq = se.fc1Conv.outChannels
            let (w1, b1) = try Materialize.conv(WeightRecipe(weight: se.fc1 + ".weight", bias: se.fc1Conv.bias ? se.fc1 + ".bias" : nil, batchNorm: se.fc1BatchNorm), outChannels: sq, weights)
            let (w2, b2) = try Materialize.conv(WeightRecipe(weight: se.fc2 + ".weight", bias: se.fc2Conv.bias ? se.fc2 + ".bias" : nil, batchNorm: se.fc2BatchNorm), outChannels: c, weights)
            let p1 = w1.withUnsafeBufferPointer { wp in b1.withOptionalPointer { PackedWeights.linear(wp.baseAddress!, outFeatures: sq, inFeatures: c, bias: $0) } }
            let p2 = w2.withUnsafeBufferPointer { wp in b2.withOptionalPointer { PackedWeights.linear(wp.baseAddress!, outFeatures: c, inFeatures: sq, bias: $0) } }
            return PreparedStep(.squeezeExcitation(SqueezeExcitationStep(
                input: ins[0], output: out, batch: batch, channels: c, squeeze: sq, pixelsPerImage: inShape.height * inShape.width,
                fc1: p1, fc2: p2, act1: kernelActivation(se.fc1Activation), gate: kernelActivation(se.gateActivation),
                gateOnly: se.gateOnly)))
        case .softmax:
            let length = outShape.channels
            if outShape.isFeatureMap {
                return PreparedStep(.softmax(input: ins[0], output: out, length: length, rows: pixels))
            }
            return PreparedStep(.softmax(input: ins[0], output: out, length: length, rows: batch))
        }
    }
}

/// The kernels' activation for an IR activation (identity and none are the same).
func kernelActivation(_ a: IR.Activation?) -> Kernels.Activation {
    switch a {
    case nil, .identity?: .none
    case .relu?: .relu
    case .relu6?: .relu6
    case .leakyRelu(let s)?: .leakyRelu(Float(s))
    case .sigmoid?: .sigmoid
    case .tanh?: .tanh
    case .silu?: .silu
    case .hardswish?: .hardswish
    case .hardsigmoid?: .hardsigmoid
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .none: body(nil)
        case .some(let a): a.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}
