import Diagnostics

/// One operation of the model, with its module path (the torchvision-style name its parameters
/// live under) and where in the spec it came from.
public struct Node: Sendable {
    public var op: Op
    public var inputs: [Int]
    /// Module path: `layer1.0.conv1`. Parameters are `name + "." + suffix`.
    public var name: String
    public var shape: TensorShape
    /// The spec item the node was lowered from, for diagnostics.
    public var source: SourceRange?
    /// Context for diagnostics on this node: the block instantiation chain, command-line values.
    public var notes: [Note]

    public init(op: Op, inputs: [Int], name: String, shape: TensorShape, source: SourceRange? = nil, notes: [Note] = []) {
        self.op = op; self.inputs = inputs; self.name = name; self.shape = shape
        self.source = source; self.notes = notes
    }
}

/// A model as a DAG in topological order: node 0 is the input, `output` the result.
public struct Graph: Sendable {
    public var name: String
    public var nodes: [Node]
    public var output: Int
    /// Kind of every container module by path ("layer1" → "sequential", "layer1.0" →
    /// "bottleneck"), so that summaries can collapse to stages or blocks.
    public var modules: [String: String]

    public init(name: String, nodes: [Node], output: Int, modules: [String: String] = [:]) {
        self.name = name; self.nodes = nodes; self.output = output; self.modules = modules
    }

    public var inputShape: TensorShape { nodes[0].shape }
    public var outputShape: TensorShape { nodes[output].shape }

    /// Re-runs shape inference over every node: the invariant each compiler pass must keep.
    public func validate() throws(ShapeError) {
        for (i, node) in nodes.enumerated() where i > 0 {
            for j in node.inputs where j >= i || j < 0 {
                throw ShapeError(.invalidValue, "node \(i) (\(node.name)) reads node \(j), which is not before it")
            }
            let shape = try inferShape(node.op, inputs: node.inputs.map { nodes[$0].shape })
            guard shape == node.shape else {
                throw ShapeError(.shapeMismatch, "node \(i) (\(node.name)) records \(node.shape) but infers \(shape)")
            }
        }
    }
}

/// A learned tensor (or a BN running statistic) of a node.
public struct ParameterInfo: Sendable, Equatable {
    /// Full state_dict key, e.g. `layer1.0.bn1.running_var`.
    public var name: String
    public var shape: [Int]
    /// False for BN running mean and variance (buffers, not trained by gradient).
    public var trainable: Bool

    public var elementCount: Int { shape.reduce(1, *) }
}

extension Node {
    /// The parameters this node owns, in torchvision's order (weight, bias, running_mean, running_var).
    public func parameters(inputShape: TensorShape) -> [ParameterInfo] {
        func p(_ suffix: String, _ shape: [Int], trainable: Bool = true) -> ParameterInfo {
            ParameterInfo(name: name.isEmpty ? suffix : name + "." + suffix, shape: shape, trainable: trainable)
        }
        switch op {
        case .conv2d(let c):
            var ps = [p("weight", [c.outChannels, inputShape.channels / max(c.groups, 1), c.kernel.h, c.kernel.w])]
            if c.bias { ps.append(p("bias", [c.outChannels])) }
            return ps
        case .linear(let l):
            var ps = [p("weight", [l.outFeatures, inputShape.channels])]
            if l.bias { ps.append(p("bias", [l.outFeatures])) }
            return ps
        case .batchNorm:
            let c = inputShape.channels
            return [p("weight", [c]), p("bias", [c]), p("running_mean", [c], trainable: false),
                    p("running_var", [c], trainable: false)]
        case .input, .activation, .pool2d, .adaptiveAvgPool2d, .flatten, .dropout, .stochasticDepth, .softmax, .add, .concat, .multiply:
            return []
        }
    }

    /// Multiply-accumulates of conv and linear weights (torchvision's "GFLOPS" column convention).
    public func macs(inputShape: TensorShape) -> Int {
        switch op {
        case .conv2d(let c):
            let perOutput = inputShape.channels / max(c.groups, 1) * c.kernel.h * c.kernel.w
            return (shape.elementCount ?? 0) &* perOutput
        case .linear(let l):
            return l.outFeatures &* inputShape.channels
        default:
            return 0
        }
    }
}

extension Graph {
    /// All parameters in node order: the state_dict key list.
    public var parameters: [ParameterInfo] {
        nodes.flatMap { node in node.inputs.first.map { node.parameters(inputShape: nodes[$0].shape) } ?? [] }
    }
}
