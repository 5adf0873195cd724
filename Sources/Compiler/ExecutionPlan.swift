import IR

/// How a buffer's elements are ordered within one sample (the batch is always outermost).
public enum Layout: String, Sendable {
    /// PyTorch's order: the graph input, and outputs handed back to the user.
    case nchw
    /// Channels fastest: what the optimized kernels read and write (vectorized over channels).
    case nhwc
    /// A vector of features.
    case flat
}

/// A tensor of the plan. Sizes and offsets are in floats per sample: at batch N the buffer
/// occupies `[offset * N, (offset + floats) * N)` of the arena, so one plan serves every batch
/// size (all tensors scale with the batch, so a layout that does not overlap at batch 1 never
/// does).
public struct Buffer: Sendable {
    public var name: String
    public var shape: TensorShape
    public var layout: Layout
    public var floats: Int
    /// Buffers that share storage (views, in-place steps) have the same storage id.
    public var storage: Int
    public var offset: Int = -1
    /// For a flat view of an NHWC feature map: the [C, H, W] it was flattened from, so that a
    /// linear layer reading it permutes its weight columns once instead of transposing data.
    public var flattenedNHWC: TensorShape?
}

/// The convolution algorithm chosen per layer.
public enum ConvAlgorithm: String, Sendable {
    /// 1x1, stride 1, no padding, groups 1: a GEMM straight on the NHWC activation.
    case gemm = "gemm"
    /// Indirect GEMM (XNNPACK-style): a pointer per output pixel and tap, no im2col buffer.
    case igemm = "igemm"
    /// groups == channels: a direct kernel vectorized over channels.
    case depthwise = "depthwise"
    /// 1 < groups < channels: an indirect GEMM per group.
    case grouped = "grouped-igemm"
    /// A depthwise conv computing its own input, a 1x1 conv (GEMM), band by band.
    case pointwiseDepthwise = "gemm 1 + depthwise"
    /// 3x3, stride 1, dilation 1, groups 1: Winograd F(4x4, 3x3) or F(2x2, 3x3), α² GEMMs over
    /// transformed tiles (Kernels/Winograd.swift).
    case winograd4 = "winograd F(4x4)"
    case winograd2 = "winograd F(2x2)"

    /// The Winograd output tile size m, nil for the other algorithms.
    public var winogradTile: Int? {
        switch self {
        case .winograd4: 4
        case .winograd2: 2
        default: nil
        }
    }
}

/// Where a step's parameters come from; the runtime materializes (folds, permutes) and packs
/// them once when a plan is instantiated.
public struct WeightRecipe: Sendable, Equatable {
    public var weight: String?
    public var bias: String?
    public var batchNorm: PlanGraph.FoldedBatchNorm?

    public init(weight: String? = nil, bias: String? = nil, batchNorm: PlanGraph.FoldedBatchNorm? = nil) {
        self.weight = weight; self.bias = bias; self.batchNorm = batchNorm
    }
}

public enum StepKind: Sendable {
    case convertLayout(from: Layout, to: Layout)
    case conv(Conv2D, ConvAlgorithm)
    case linear(Linear)
    /// A BatchNorm that could not be folded: a per-channel scale and shift.
    case batchNorm
    case activation(Activation)
    case pool(Pool2D)
    case adaptiveAvgPool(height: Int, width: Int)
    case add
    case concat
    /// Elementwise product of two same-shaped tensors.
    case multiply
    /// x[n, h, w, c] * gate[n, c].
    case channelGate
    case squeezeExcitation(PlanGraph.SqueezeExcitation)
    case softmax

    public var kernelName: String {
        switch self {
        case .convertLayout(let a, let b): "\(a.rawValue)->\(b.rawValue)"
        case .conv(let c, let algo) where algo.winogradTile != nil:
            "winograd \(c.kernel) F(\(algo.winogradTile!)x\(algo.winogradTile!))"
        case .conv(let c, let algo):
            "\(algo.rawValue) \(c.kernel)" + (c.stride != Size2(square: 1) ? "/\(c.stride)" : "") + (c.groups > 1 && algo == .grouped ? " g\(c.groups)" : "")
        case .linear: "gemm (linear)"
        case .batchNorm: "scale-shift"
        case .activation(let a): a.name
        case .pool(let p): (p.kind == .max ? "max-pool " : "avg-pool ") + "\(p.kernel)/\(p.stride)"
        case .adaptiveAvgPool(let h, let w): h == 1 && w == 1 ? "global-avg-pool" : "adaptive-avg-pool \(h)x\(w)"
        case .add: "add"
        case .concat: "concat"
        case .multiply: "multiply"
        case .channelGate: "channel-gate"
        case .squeezeExcitation(let se): se.gateOnly ? "squeeze-excitation gate" : "squeeze-excitation"
        case .softmax: "softmax"
        }
    }
}

/// The 1x1 conv inside a fused pointwise + depthwise step.
public struct PointwiseStage: Sendable {
    public var name: String
    public var conv: Conv2D
    public var inputChannels: Int
    public var weights: WeightRecipe
    public var activation: Activation?
}

/// One kernel call.
public struct Step: Sendable {
    public var name: String
    public var kind: StepKind
    public var inputs: [Int]
    public var output: Int
    /// Fused epilogue: + residual (a buffer of the output's shape), then activation.
    public var residual: Int?
    /// A 1x1 conv's per-image weight-row scale (a squeeze-excitation gate, [C] per image); it is
    /// also the step's second input, so liveness sees it.
    public var gate: Int?
    /// For `pointwiseDepthwise`: the 1x1 conv whose output the depthwise conv reads, with its
    /// weights and activation (the step's own `weights` and `activation` are the depthwise's).
    public var pointwise: PointwiseStage?
    public var activation: Activation?
    public var weights: WeightRecipe
}

/// What `modelc compile` prints and the runtime instantiates: steps over buffers placed in one
/// arena, with the fusions that produced them.
public struct ExecutionPlan: Sendable {
    public var name: String
    public var buffers: [Buffer]
    public var steps: [Step]
    /// The graph input (NCHW) and output buffers.
    public var input: Int
    public var output: Int
    /// Arena floats per sample after memory planning, and without it (every buffer separate).
    public var arenaFloats: Int = 0
    public var naiveFloats: Int = 0
    public var passes: [String]
    public var applied: [String: [String]]
    public var rejected: [String]

    public var inputShape: TensorShape { buffers[input].shape }
    public var outputShape: TensorShape { buffers[output].shape }
}
