import Foundation
import IR
import Runtime
import Spec
import Training

/// Paths of the repository, found from this file so tests run from any working directory.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static let fixture = path("Tests/TrainingTests/Fixtures/mnist-small")
}

struct SpecFailure: Error, CustomStringConvertible { var description: String }

/// The graph of a spec written inline.
func graph(_ yaml: String, sets: [String] = []) throws -> Graph {
    let request = SpecRequest(path: "inline.yaml", sets: sets.map { ($0, nil) })
    let (model, diags) = SpecLoader.load(bytes: Array(yaml.utf8), request: request)
    guard let model else { throw SpecFailure(description: diags.map(\.description).joined(separator: "\n")) }
    return model.graph
}

func specGraph(_ name: String, variant: String? = nil, sets: [String] = []) throws -> Graph {
    let request = SpecRequest(path: Repo.path("Specs/\(name).yaml"), variant: variant, sets: sets.map { ($0, nil) })
    let (model, diags) = SpecLoader.load(request)
    guard let model else { throw SpecFailure(description: diags.map(\.description).joined(separator: "\n")) }
    return model.graph
}

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Float(Double(z >> 11) * 0x1p-53 * 2 - 1)
    }
}

/// Random weights with non-trivial BN parameters and statistics, and non-zero biases.
func randomWeights(_ g: Graph, seed: UInt64) -> Weights {
    var w = Initializer.torchvision(graph: g, seed: seed)
    Initializer.randomizeBatchNormStatistics(&w, graph: g, seed: seed &+ 1)
    for p in g.parameters where p.name.hasSuffix(".bias") || p.name == "bias" {
        w[p.name] = randomFloats(p.elementCount, seed: seed &+ UInt64(p.name.count)).map { $0 * 0.1 }
    }
    return w
}
