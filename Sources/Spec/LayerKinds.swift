/// The user-facing layer kinds and their arguments. Each kind lowers onto the IR's closed op set
/// in `Elaborator.lower`; adding a kind means a case here, its arguments below, and its lowering.
enum LayerKind: String, CaseIterable {
    case conv2d, batchnorm, conv_bn_act
    case activation, relu, relu6, leaky_relu, sigmoid, tanh, silu, hardswish, hardsigmoid, identity
    case max_pool2d, avg_pool2d, adaptive_avg_pool2d, global_avg_pool
    case flatten, linear, dropout, stochastic_depth, softmax
    case add, concat, multiply
    case sequential
    /// `block: NAME` instantiates a block chosen by an expression (`block: $block`).
    case block
}

/// How an argument's value is checked and converted.
enum ArgType {
    case int, float, bool, string
    /// An int, or [h, w].
    case pair
    /// An int, [h, w], [top, left, bottom, right], `same` or `valid`.
    case padding
    /// Layer names (a string or a list of strings).
    case references
    /// A list of layer items (sequential).
    case items
    /// A block name.
    case blockName
}

struct ArgSpec {
    var name: String
    var type: ArgType
    /// Absent-and-not-required arguments take this value; nil means "no default".
    var defaultValue: Value?
    var required: Bool = false
}

/// Keys allowed on any layer item besides its kind and arguments.
let metaKeys = ["name", "from", "repeat", "first", "if"]

extension LayerKind {
    /// The argument given as the value of the kind key: `{conv2d: 64}` is `out: 64`.
    var primary: String? {
        switch self {
        case .conv2d, .conv_bn_act, .linear: "out"
        case .activation: "function"
        case .leaky_relu: "negative_slope"
        case .max_pool2d, .avg_pool2d: "kernel"
        case .adaptive_avg_pool2d: "size"
        case .dropout, .stochastic_depth: "p"
        case .add, .concat, .multiply: "inputs"
        case .sequential: "layers"
        case .block: "block"
        case .batchnorm, .relu, .relu6, .sigmoid, .tanh, .silu, .hardswish, .hardsigmoid, .identity,
             .global_avg_pool, .flatten, .softmax: nil
        }
    }

    var args: [ArgSpec] {
        let conv: [ArgSpec] = [
            ArgSpec(name: "out", type: .int, defaultValue: nil, required: true),
            ArgSpec(name: "in", type: .int, defaultValue: nil),
            ArgSpec(name: "kernel", type: .pair, defaultValue: nil, required: true),
            ArgSpec(name: "stride", type: .pair, defaultValue: .int(1)),
            ArgSpec(name: "padding", type: .padding, defaultValue: nil),
            ArgSpec(name: "dilation", type: .pair, defaultValue: .int(1)),
            ArgSpec(name: "groups", type: .int, defaultValue: .int(1)),
        ]
        let bn: [ArgSpec] = [
            ArgSpec(name: "eps", type: .float, defaultValue: .float(1e-5)),
            ArgSpec(name: "momentum", type: .float, defaultValue: .float(0.1)),
        ]
        switch self {
        case .conv2d:
            return conv + [ArgSpec(name: "bias", type: .bool, defaultValue: .bool(true))]
        case .conv_bn_act:
            return conv + bn + [ArgSpec(name: "bias", type: .bool, defaultValue: .bool(false)),
                                ArgSpec(name: "act", type: .string, defaultValue: .string("relu"))]
        case .batchnorm:
            return [ArgSpec(name: "in", type: .int, defaultValue: nil)] + bn
        case .activation:
            return [ArgSpec(name: "function", type: .string, defaultValue: nil, required: true)]
        case .leaky_relu:
            return [ArgSpec(name: "negative_slope", type: .float, defaultValue: .float(0.01))]
        case .relu, .relu6, .sigmoid, .tanh, .silu, .hardswish, .hardsigmoid, .identity, .global_avg_pool, .flatten, .softmax:
            return []
        case .max_pool2d, .avg_pool2d:
            var a = [ArgSpec(name: "kernel", type: .pair, defaultValue: nil, required: true),
                     ArgSpec(name: "stride", type: .pair, defaultValue: nil),
                     ArgSpec(name: "padding", type: .pair, defaultValue: .int(0)),
                     ArgSpec(name: "ceil_mode", type: .bool, defaultValue: .bool(false))]
            a.append(self == .max_pool2d ? ArgSpec(name: "dilation", type: .pair, defaultValue: .int(1))
                                         : ArgSpec(name: "count_include_pad", type: .bool, defaultValue: .bool(true)))
            return a
        case .adaptive_avg_pool2d:
            return [ArgSpec(name: "size", type: .pair, defaultValue: nil, required: true)]
        case .linear:
            return [ArgSpec(name: "out", type: .int, defaultValue: nil, required: true),
                    ArgSpec(name: "in", type: .int, defaultValue: nil),
                    ArgSpec(name: "bias", type: .bool, defaultValue: .bool(true))]
        case .dropout:
            return [ArgSpec(name: "p", type: .float, defaultValue: .float(0.5))]
        case .stochastic_depth:
            return [ArgSpec(name: "p", type: .float, defaultValue: nil, required: true)]
        case .add, .concat, .multiply:
            return [ArgSpec(name: "inputs", type: .references, defaultValue: nil, required: true)]
        case .sequential:
            return [ArgSpec(name: "layers", type: .items, defaultValue: nil, required: true)]
        case .block:
            return [ArgSpec(name: "block", type: .blockName, defaultValue: nil, required: true)]
        }
    }

    /// The activation a bare activation kind stands for.
    var activationName: String? {
        switch self {
        case .relu, .relu6, .leaky_relu, .sigmoid, .tanh, .silu, .hardswish, .hardsigmoid, .identity: rawValue
        default: nil
        }
    }
}
