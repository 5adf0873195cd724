/// Parameter values by state_dict key (float32, row-major, shapes as in `Graph.parameters`).
/// The runtime, the compiler's weight recipes and the file formats all meet here.
public struct Weights: Sendable {
    public var tensors: [String: [Float]]

    public init(_ tensors: [String: [Float]] = [:]) { self.tensors = tensors }

    public subscript(name: String) -> [Float]? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    /// Problems binding these weights to `graph`: every missing, unexpected and wrong-sized
    /// tensor, by name. Empty when the weights fit.
    public func mismatches(for graph: Graph, shapes: [String: [Int]] = [:]) -> [String] {
        var problems: [String] = []
        let params = graph.parameters
        let expected = Set(params.map(\.name))
        for p in params {
            guard let t = tensors[p.name] else {
                problems.append("missing tensor '\(p.name)' of shape \(p.shape)")
                continue
            }
            if let s = shapes[p.name], s != p.shape {
                problems.append("tensor '\(p.name)' has shape \(s); the spec expects \(p.shape)")
            } else if t.count != p.elementCount {
                problems.append("tensor '\(p.name)' has \(t.count) elements; the spec expects \(p.shape) (\(p.elementCount))")
            }
        }
        for name in tensors.keys.sorted() where !expected.contains(name) {
            problems.append("unexpected tensor '\(name)' (no layer of the spec has this parameter)")
        }
        return problems
    }
}
