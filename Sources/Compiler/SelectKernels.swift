import IR

/// Lowers the fused plan graph to kernel steps: picks each conv's algorithm (1x1 as GEMM, 3x3
/// stride 1 as Winograd where `winogradTile` says it wins,
/// depthwise direct, grouped or general indirect GEMM) and the activation layout (NHWC for
/// feature maps, with conversions only at the graph input, before a flatten that feeds anything
/// but linear layers, and at a feature-map output). A flatten is a view: when its consumers are
/// linear layers, they permute their weight columns instead of the data being transposed.
public enum SelectKernels {
    public static let name = "select-kernels"

    public static func run(_ g: PlanGraph, passes: [String], winograd: Bool = true) -> ExecutionPlan {
        var buffers: [Buffer] = []
        var steps: [Step] = []
        var bufferOf = [Int](repeating: -1, count: g.nodes.count)
        let consumers = g.consumers()

        func newBuffer(_ name: String, _ shape: TensorShape, _ layout: Layout, storage: Int? = nil, flattened: TensorShape? = nil) -> Int {
            buffers.append(Buffer(name: name, shape: shape, layout: layout, floats: shape.elementCount ?? 0,
                                  storage: storage ?? buffers.count, flattenedNHWC: flattened))
            return buffers.count - 1
        }
        func isTrivialLayout(_ s: TensorShape) -> Bool { !s.isFeatureMap || s.channels == 1 || s.height * s.width == 1 }

        // The graph input arrives in NCHW; convert unless the two layouts coincide.
        let inputShape = g.nodes[0].shape
        let input = newBuffer("input", inputShape, .nchw)
        if isTrivialLayout(inputShape) {
            bufferOf[0] = newBuffer("input", inputShape, inputShape.isFeatureMap ? .nhwc : .flat, storage: buffers[input].storage)
        } else {
            bufferOf[0] = newBuffer("input.nhwc", inputShape, .nhwc)
            steps.append(Step(name: "input", kind: .convertLayout(from: .nchw, to: .nhwc), inputs: [input], output: bufferOf[0],
                              weights: WeightRecipe()))
        }

        for (i, n) in g.nodes.enumerated() where i > 0 && !n.removed {
            let ins = n.inputs.map { bufferOf[$0] }
            let layout: Layout = n.shape.isFeatureMap ? .nhwc : .flat
            func emit(_ kind: StepKind, weights: WeightRecipe = WeightRecipe(), inputs: [Int]? = nil) {
                let out = newBuffer(n.name, n.shape, layout)
                bufferOf[i] = out
                steps.append(Step(name: n.name, kind: kind, inputs: inputs ?? ins, output: out,
                                  residual: n.residual.map { bufferOf[$0] }, activation: n.activation, weights: weights))
            }
            switch n.op {
            case .input:
                break
            case .conv2d(let c):
                let inC = g.nodes[n.inputs[0]].shape.channels
                var algorithm: ConvAlgorithm
                if c.groups == 1 && c.kernel == Size2(square: 1) && c.stride == Size2(square: 1) && c.padding == .zero {
                    algorithm = .gemm
                } else if n.pointwise != nil {
                    algorithm = .pointwiseDepthwise
                } else if c.groups > 1 && c.groups == inC && c.outChannels == inC {
                    algorithm = .depthwise
                } else {
                    algorithm = c.groups > 1 ? .grouped : .igemm
                }
                if algorithm == .igemm && winograd && c.kernel == Size2(square: 3) && c.stride == Size2(square: 1)
                    && c.dilation == Size2(square: 1),
                   let tile = winogradTile(inChannels: inC, outChannels: c.outChannels, height: n.shape.height, width: n.shape.width) {
                    algorithm = tile == 4 ? .winograd4 : .winograd2
                }
                emit(.conv(c, algorithm), weights: WeightRecipe(weight: n.name + ".weight", bias: c.bias ? n.name + ".bias" : nil,
                                                                   batchNorm: n.foldedBatchNorm),
                     inputs: n.gate.map { ins + [bufferOf[$0]] })
                if let gate = n.gate { steps[steps.count - 1].gate = bufferOf[gate] }
                if let pw = n.pointwise {
                    steps[steps.count - 1].pointwise = PointwiseStage(
                        name: pw.name, conv: pw.conv, inputChannels: pw.inputChannels,
                        weights: WeightRecipe(weight: pw.name + ".weight", bias: pw.conv.bias ? pw.name + ".bias" : nil, batchNorm: pw.foldedBatchNorm),
                        activation: pw.activation)
                }
            case .linear(let l):
                emit(.linear(l), weights: WeightRecipe(weight: n.name + ".weight", bias: l.bias ? n.name + ".bias" : nil))
            case .batchNorm:
                emit(.batchNorm, weights: WeightRecipe(batchNorm: .init(name: n.name, eps: { if case .batchNorm(let b) = n.op { return b.eps }; return 1e-5 }())))
            case .activation(let a):
                emit(.activation(a))
            case .pool2d(let p):
                emit(.pool(p))
            case .adaptiveAvgPool2d(let h, let w):
                emit(.adaptiveAvgPool(height: h, width: w))
            case .flatten:
                let src = g.nodes[n.inputs[0]].shape
                let allLinear = consumers[i].allSatisfy { if case .linear = g.nodes[$0].op { return true }; return false }
                if isTrivialLayout(src) || buffers[ins[0]].layout == .nchw {
                    bufferOf[i] = newBuffer(n.name, n.shape, .flat, storage: buffers[ins[0]].storage)
                } else if allLinear {
                    bufferOf[i] = newBuffer(n.name, n.shape, .flat, storage: buffers[ins[0]].storage, flattened: src)
                } else {
                    let nchw = newBuffer(n.name + ".nchw", src, .nchw)
                    steps.append(Step(name: n.name, kind: .convertLayout(from: .nhwc, to: .nchw), inputs: [ins[0]], output: nchw, weights: WeightRecipe()))
                    bufferOf[i] = newBuffer(n.name, n.shape, .flat, storage: buffers[nchw].storage)
                }
            case .add:
                emit(.add)
            case .concat:
                emit(.concat)
            case .multiply:
                if let se = n.squeezeExcitation {
                    emit(.squeezeExcitation(se))
                } else if g.nodes[n.inputs[1]].shape != n.shape {
                    emit(.channelGate)
                } else {
                    emit(.multiply)
                }
            case .softmax:
                emit(.softmax)
            case .dropout, .stochasticDepth:
                // Kept only when eliminate-identities is disabled: a copy.
                emit(.activation(.identity))
            }
        }
        var output = bufferOf[g.output]
        let outShape = g.nodes[g.output].shape
        if buffers[output].layout == .nhwc && !isTrivialLayout(outShape) {
            let converted = newBuffer("output", outShape, .nchw)
            steps.append(Step(name: "output", kind: .convertLayout(from: .nhwc, to: .nchw), inputs: [output], output: converted, weights: WeightRecipe()))
            output = converted
        }
        return ExecutionPlan(name: g.name, buffers: buffers, steps: steps, input: input, output: output,
                             passes: passes, applied: g.applied, rejected: g.rejected)
    }

    /// The Winograd tile for a 3x3 stride-1 conv with this many channels and output size, or nil
    /// to keep the indirect GEMM. Measured on Zen 4 (ResNet-50, VGG16 at 224, one thread):
    /// F(4x4) runs 250-365 GFLOP/s-equivalent from 14x14 up (igemm: 110-114), F(2x2) ~150-200;
    /// at 7x7 with 512 channels F(4x4)'s weights (36 x 512 x 512 floats) no longer fit in L3 and
    /// it falls to F(2x2)'s speed (both ~1.5 ms against 2.1 ms for igemm). With 3 input channels
    /// (VGG's first conv) the transforms cost more than the GEMM saves.
    static func winogradTile(inChannels: Int, outChannels: Int, height: Int, width: Int) -> Int? {
        guard inChannels >= 32 && outChannels >= 32 && min(height, width) >= 6 else { return nil }
        return min(height, width) >= 12 ? 4 : 2
    }
}
