import Foundation
import IR
import Testing

/// The shipped specs' parameter names and shapes equal torchvision's state_dict keys, in order,
/// so that a torchvision checkpoint loads by name. Fixtures come from torchvision itself
/// (`Benchmarks/interop/dump_keys.py`).
@Suite("torchvision key lists")
struct KeyListTests {
    @Test(arguments: [("resnet18", "resnet", "18"), ("mobilenet_v2", "mobilenet_v2", nil), ("efficientnet_b0", "efficientnet", "b0")])
    func keysMatchTorchvision(_ fixture: String, _ spec: String, _ variant: String?) throws {
        let text = try String(contentsOfFile: Repo.path("Tests/SpecTests/Fixtures/keys/\(fixture).txt"), encoding: .utf8)
        let expected = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        let model = try loadShipped(spec, variant: variant)
        let actual = model.graph.parameters.map { "\($0.name) [\($0.shape.map(String.init).joined(separator: ", "))]" }
        #expect(actual.count == expected.count)
        let missing = Set(expected).subtracting(actual).sorted()
        let unexpected = Set(actual).subtracting(expected).sorted()
        #expect(missing.isEmpty, "missing: \(missing.prefix(10))")
        #expect(unexpected.isEmpty, "unexpected: \(unexpected.prefix(10))")
        if missing.isEmpty && unexpected.isEmpty {
            #expect(actual == expected, "same keys, different order")
        }
    }

    @Test func trainableFlagsSeparateBuffers() throws {
        let model = try loadShipped("resnet", variant: "18")
        for p in model.graph.parameters {
            #expect(p.trainable == !(p.name.hasSuffix("running_mean") || p.name.hasSuffix("running_var")))
        }
    }
}
