// Helpers of the reference-interpreter and initializer tests (prefixed `Ref` to stay clear of
// other test files of this target).

import Foundation
import IR
import Runtime
import Spec
import Testing

enum RefRepo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func spec(_ name: String) -> String { root.appendingPathComponent("Specs/\(name).yaml").path }
}

struct RefFailure: Error, CustomStringConvertible {
    var description: String
}

/// Loads a shipped spec (or fails with its diagnostics).
func refLoadSpec(_ name: String, variant: String? = nil, sets: [String] = []) throws -> Graph {
    let (model, diagnostics) = SpecLoader.load(SpecRequest(path: RefRepo.spec(name), variant: variant, sets: sets.map { ($0, nil) }))
    guard let model else { throw RefFailure(description: diagnostics.map(\.description).joined()) }
    return model.graph
}

/// Loads spec text from memory.
func refLoadYAML(_ text: String) throws -> Graph {
    let (model, diagnostics) = SpecLoader.load(bytes: Array(text.utf8), request: SpecRequest(path: "test.yaml"))
    guard let model else { throw RefFailure(description: diagnostics.map(\.description).joined()) }
    return model.graph
}

/// Builds a graph by hand, inferring each node's shape (PyTorch's rules) as it goes.
struct RefGraphBuilder {
    var nodes: [Node]

    init(input: [Int]) {
        nodes = [Node(op: .input, inputs: [], name: "", shape: TensorShape(input))]
    }

    /// Appends `op` reading `inputs` (default: the previous node); returns its index.
    @discardableResult
    mutating func add(_ op: Op, _ inputs: [Int]? = nil, name: String = "") -> Int {
        let ins = inputs ?? [nodes.count - 1]
        let shape = try! inferShape(op, inputs: ins.map { nodes[$0].shape })
        nodes.append(Node(op: op, inputs: ins, name: name.isEmpty ? "n\(nodes.count)" : name, shape: shape))
        return nodes.count - 1
    }

    var graph: Graph { Graph(name: "test", nodes: nodes, output: nodes.count - 1) }
}

/// Deterministic values in [-1, 1).
func refRandom(_ count: Int, seed: UInt64) -> [Float] {
    var g = Initializer.Random(seed: seed)
    return (0..<count).map { _ in Float(2 * g.uniform() - 1) }
}

/// Runs a one-output graph and fails the test (instead of throwing) on an error.
func refRun(_ graph: Graph, _ weights: Weights = Weights(), _ input: [Float], batch: Int) throws -> [Float] {
    try ReferenceInterpreter.run(graph: graph, weights: weights, input: input, batch: batch)
}

/// Element-wise |a - b| <= tol * max(1, |b|), with a readable failure.
func refExpectClose(_ a: [Float], _ b: [Double], tol: Double = 1e-6, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "count \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    var worst = (index: -1, error: 0.0)
    for i in a.indices {
        let e = abs(Double(a[i]) - b[i]) / max(1, abs(b[i]))
        if !(e <= worst.error) { worst = (i, e) }
    }
    #expect(worst.error <= tol, "worst at \(worst.index): \(worst.index >= 0 ? a[worst.index] : 0) vs \(worst.index >= 0 ? b[worst.index] : 0)",
            sourceLocation: sourceLocation)
}
