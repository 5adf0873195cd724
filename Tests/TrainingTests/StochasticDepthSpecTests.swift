import IR
import Testing

/// `stochastic_depth` from the spec language: it lowers onto the IR op the training plan
/// differentiates (row mode, each sample's branch kept with probability 1 - p and scaled).
@Suite struct StochasticDepthSpecTests {
    static let spec = """
    input: {channels: 2, height: 6, width: 6}
    blocks:
      branch:
        layers:
          - {conv2d: 2, kernel: 3, padding: 1}
          - tanh
          - {stochastic_depth: 0.5, name: stochastic_depth}
        residual: {shortcut: identity}
    layers:
      - {branch}
      - flatten
      - {linear: 4}
    """

    @Test func residualBranchWithStochasticDepthHasCorrectGradients() throws {
        let g = try graph(Self.spec)
        #expect(g.nodes.contains { if case .stochasticDepth(let p) = $0.op { return p == 0.5 && $0.name == "0.stochastic_depth" }; return false })
        try expectGradients(Self.spec, batch: 6)
    }
}
