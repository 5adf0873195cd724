import IR

/// The graph the passes rewrite: IR nodes plus the fusions applied to them. A pass marks nodes
/// `removed` and redirects their consumers instead of renumbering, so node indices stay stable
/// and every pass is a small, local rewrite.
public struct PlanGraph: Sendable {
    public struct FoldedBatchNorm: Sendable, Equatable {
        /// Module path of the BN whose statistics are folded into this node's weights.
        public var name: String
        public var eps: Double
    }

    /// A squeeze-excitation gate fused into a `multiply`: gate = act2(fc2(act1(fc1(avgpool(x))))).
    public struct SqueezeExcitation: Sendable, Equatable {
        public var fc1: String
        public var fc1Conv: Conv2D
        public var fc1BatchNorm: FoldedBatchNorm?
        public var fc1Activation: Activation?
        public var fc2: String
        public var fc2Conv: Conv2D
        public var fc2BatchNorm: FoldedBatchNorm?
        public var gateActivation: Activation?
        /// Set by fold-gate-into-weights: the step writes only the gate [C, 1, 1] per image and
        /// the consumer conv scales its weights by it.
        public var gateOnly = false
    }

    /// A 1x1 conv computed inside the depthwise conv that reads it (fuse-pointwise-depthwise).
    public struct Pointwise: Sendable, Equatable {
        public var name: String
        public var conv: Conv2D
        public var foldedBatchNorm: FoldedBatchNorm?
        public var activation: Activation?
        public var inputChannels: Int
    }

    public struct Node: Sendable {
        public var op: Op
        public var inputs: [Int]
        public var name: String
        public var shape: TensorShape
        /// Epilogue fusions, applied in this order: + bias (folded BN), + residual, activation.
        public var foldedBatchNorm: FoldedBatchNorm?
        public var residual: Int?
        public var activation: Activation?
        public var squeezeExcitation: SqueezeExcitation?
        /// A 1x1 conv whose weight rows (input channels) are scaled per image by this node's
        /// output, a squeeze-excitation gate (fold-gate-into-weights).
        public var gate: Int?
        /// A depthwise conv that computes its input, a 1x1 conv of its (new) input, itself.
        public var pointwise: Pointwise?
        public var removed = false
    }

    public var name: String
    public var nodes: [Node]
    public var output: Int
    /// What each pass did ("fold-batchnorm: layer1.0.bn1 into layer1.0.conv1") and refused,
    /// with the reason. Shown by `modelc compile`.
    public var applied: [String: [String]] = [:]
    public var rejected: [String] = []
    /// See `CompileOptions.minimumFusedExpansionBytes`.
    public var minimumFusedExpansionBytes = FusePointwiseDepthwise.defaultMinimumBytes

    public init(_ graph: Graph) {
        name = graph.name
        output = graph.output
        nodes = graph.nodes.map { Node(op: $0.op, inputs: $0.inputs, name: $0.name, shape: $0.shape) }
    }

    /// Live consumers of each node (a fused residual counts as a use).
    public func consumers() -> [[Int]] {
        var c = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() where !n.removed {
            for j in n.inputs { c[j].append(i) }
            if let r = n.residual { c[r].append(i) }
            if let gt = n.gate { c[gt].append(i) }
        }
        return c
    }

    /// Removes node `i`, making its consumers read `replacement` instead.
    public mutating func bypass(_ i: Int, with replacement: Int) {
        nodes[i].removed = true
        for k in nodes.indices where !nodes[k].removed {
            nodes[k].inputs = nodes[k].inputs.map { $0 == i ? replacement : $0 }
            if nodes[k].residual == i { nodes[k].residual = replacement }
            if nodes[k].gate == i { nodes[k].gate = replacement }
        }
        if output == i { output = replacement }
    }

    mutating func log(_ pass: String, _ message: String) {
        applied[pass, default: []].append(message)
    }

    /// Display name of a node for logs.
    func label(_ i: Int) -> String {
        nodes[i].name.isEmpty ? "input" : nodes[i].name
    }
}

/// A compiler pass: one rewrite of the plan graph, in its own file, named as a verb.
public protocol Pass {
    /// The pass's name in `CompileOptions.disabled` and in the plan text.
    static var name: String { get }
    static func run(_ graph: inout PlanGraph)
}
