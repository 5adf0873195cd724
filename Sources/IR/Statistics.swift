/// What `modelc summary` reports: per-layer rows and totals under torchvision's conventions
/// (see Specs/README.md, "Counting"): params are trainable tensors, BN running statistics are
/// buffers, MACs count conv and linear weights only, FLOPs = 2 x MACs.
public struct GraphStatistics: Sendable {
    public struct Row: Sendable {
        public var name: String
        public var kind: String
        public var outputShape: TensorShape
        public var params: Int
        public var buffers: Int
        public var macs: Int
    }

    public var rows: [Row]
    public var params: Int
    public var buffers: Int
    public var macs: Int
    public var flops: Int { macs &* 2 }
    /// Float32 bytes of trainable parameters plus buffers: what a checkpoint holds.
    public var parameterBytes: Int { (params &+ buffers) &* 4 }
    /// Float32 bytes of every layer output at batch 1, the input excluded: the memory an
    /// unplanned interpreter would need (the compiler's arena is reported against it).
    public var activationBytes: Int
    /// Weighted layers (conv, linear) on the longest input-to-output path.
    public var depth: Int

    public init(_ graph: Graph) {
        var rows: [Row] = []
        var activations = 0
        var longest = [Int](repeating: 0, count: graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() where i > 0 {
            let inputShape = graph.nodes[node.inputs[0]].shape
            let ps = node.parameters(inputShape: inputShape)
            let trainable = ps.filter(\.trainable).reduce(0) { $0 &+ $1.elementCount }
            let buffers = ps.filter { !$0.trainable }.reduce(0) { $0 &+ $1.elementCount }
            rows.append(Row(name: node.name, kind: node.op.kindName, outputShape: node.shape, params: trainable,
                            buffers: buffers, macs: node.macs(inputShape: inputShape)))
            activations &+= (node.shape.elementCount ?? 0) &* 4
            longest[i] = (node.inputs.map { longest[$0] }.max() ?? 0) + (node.op.isWeighted ? 1 : 0)
        }
        self.rows = rows
        self.params = rows.reduce(0) { $0 &+ $1.params }
        self.buffers = rows.reduce(0) { $0 &+ $1.buffers }
        self.macs = rows.reduce(0) { $0 &+ $1.macs }
        self.activationBytes = activations
        self.depth = graph.nodes.isEmpty ? 0 : longest[graph.output]
    }
}
