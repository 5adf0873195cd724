/// The closed operator set of the IR. Every user-facing layer kind of the spec language is sugar
/// lowered onto these (conv_bn_act → conv2d, batchnorm, activation; global_avg_pool →
/// adaptiveAvgPool2d 1x1; blocks and residuals → their layers plus add). Passes and interpreters
/// switch over this enum exhaustively, so adding a case is a compile error everywhere it matters.
public enum Op: Sendable, Equatable {
    /// The graph input: one per graph, shape [C, H, W] without the batch.
    case input
    case conv2d(Conv2D)
    case batchNorm(BatchNorm)
    case activation(Activation)
    case pool2d(Pool2D)
    /// PyTorch's AdaptiveAvgPool2d: bins start at floor(i*H/out) and end at ceil((i+1)*H/out).
    case adaptiveAvgPool2d(outputHeight: Int, outputWidth: Int)
    /// [C, H, W] → [C*H*W] in C order (what torch.flatten(x, 1) gives on NCHW).
    case flatten
    case linear(Linear)
    /// Identity at inference; zeroes elements with probability p in training.
    case dropout(p: Double)
    /// Identity at inference; drops the whole sample with probability p in training
    /// (torchvision's StochasticDepth, mode "row"), applied to a residual branch.
    case stochasticDepth(p: Double)
    /// Softmax over the channel/feature axis (dim 1 with the batch).
    case softmax
    /// Elementwise sum of two or more same-shaped inputs.
    case add
    /// Concatenation along channels; spatial sizes must agree.
    case concat
    /// `inputs[0] * inputs[1]` where the second is either the same shape or [C, 1, 1]
    /// (squeeze-excitation gate broadcast over H and W).
    case multiply

    /// The spec-language name of the op, shown in summaries and plans.
    public var kindName: String {
        switch self {
        case .input: "input"
        case .conv2d(let c): c.groups > 1 && c.groups == c.outChannels ? "conv2d (dw)" : "conv2d"
        case .batchNorm: "batchnorm"
        case .activation(let a): a.name
        case .pool2d(let p): p.kind == .max ? "max_pool2d" : "avg_pool2d"
        case .adaptiveAvgPool2d: "adaptive_avg_pool2d"
        case .flatten: "flatten"
        case .linear: "linear"
        case .dropout: "dropout"
        case .stochasticDepth: "stochastic_depth"
        case .softmax: "softmax"
        case .add: "add"
        case .concat: "concat"
        case .multiply: "multiply"
        }
    }

    /// Conv and linear layers: the ones that count towards MACs and depth.
    public var isWeighted: Bool {
        switch self {
        case .conv2d, .linear: true
        default: false
        }
    }
}

/// A pair of sizes along (height, width).
public struct Size2: Sendable, Hashable, CustomStringConvertible {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(square v: Int) { self.h = v; self.w = v }
    public var description: String { h == w ? "\(h)" : "[\(h), \(w)]" }
}

/// Explicit zero padding on each side (asymmetric padding arises from `padding: same` with even kernels).
public struct Padding: Sendable, Hashable, CustomStringConvertible {
    public var top: Int, left: Int, bottom: Int, right: Int
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    public init(symmetric s: Size2) { self.init(top: s.h, left: s.w, bottom: s.h, right: s.w) }
    public static let zero = Padding(top: 0, left: 0, bottom: 0, right: 0)
    public var isSymmetric: Bool { top == bottom && left == right }
    public var description: String {
        isSymmetric ? Size2(top, left).description : "[\(top), \(left), \(bottom), \(right)]"
    }
}

public struct Conv2D: Sendable, Equatable {
    public var outChannels: Int
    public var kernel: Size2
    public var stride: Size2
    public var padding: Padding
    public var dilation: Size2
    public var groups: Int
    public var bias: Bool

    public init(outChannels: Int, kernel: Size2, stride: Size2 = Size2(square: 1), padding: Padding = .zero,
                dilation: Size2 = Size2(square: 1), groups: Int = 1, bias: Bool = true) {
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        self.padding = padding; self.dilation = dilation; self.groups = groups; self.bias = bias
    }
}

public struct BatchNorm: Sendable, Equatable {
    public var eps: Double
    public var momentum: Double
    public init(eps: Double = 1e-5, momentum: Double = 0.1) { self.eps = eps; self.momentum = momentum }
}

public enum Activation: Sendable, Equatable {
    case identity, relu, relu6, leakyRelu(slope: Double), sigmoid, tanh, silu, hardswish, hardsigmoid

    /// Every activation by its spec-language name (leaky_relu with PyTorch's default slope).
    public static let all: [String: Activation] = [
        "identity": .identity, "relu": .relu, "relu6": .relu6, "leaky_relu": .leakyRelu(slope: 0.01),
        "sigmoid": .sigmoid, "tanh": .tanh, "silu": .silu, "hardswish": .hardswish, "hardsigmoid": .hardsigmoid,
    ]

    public var name: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .relu6: "relu6"
        case .leakyRelu: "leaky_relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .silu: "silu"
        case .hardswish: "hardswish"
        case .hardsigmoid: "hardsigmoid"
        }
    }
}

public struct Pool2D: Sendable, Equatable {
    public enum Kind: Sendable { case max, avg }
    public var kind: Kind
    public var kernel: Size2
    public var stride: Size2
    public var padding: Size2
    public var dilation: Size2
    public var ceilMode: Bool
    /// Average pooling only: whether zero padding counts in the divisor (PyTorch default: true).
    public var countIncludePad: Bool

    public init(kind: Kind, kernel: Size2, stride: Size2, padding: Size2 = Size2(square: 0),
                dilation: Size2 = Size2(square: 1), ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kind = kind; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.dilation = dilation; self.ceilMode = ceilMode; self.countIncludePad = countIncludePad
    }
}

public struct Linear: Sendable, Equatable {
    public var outFeatures: Int
    public var bias: Bool
    public init(outFeatures: Int, bias: Bool = true) { self.outFeatures = outFeatures; self.bias = bias }
}
