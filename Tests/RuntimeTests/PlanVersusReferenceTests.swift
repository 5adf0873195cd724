import Compiler
import Foundation
import IR
import Runtime
import Spec
import Testing

/// A shipped spec at a resolution small enough for a debug build, with seeded weights whose BN
/// statistics are randomized (so folding is really exercised).
struct SmallModel: Sendable, CustomTestStringConvertible {
    var spec: String
    var variant: String?
    var sets: [String]
    var testDescription: String { spec + (variant.map { " " + $0 } ?? "") + (sets.isEmpty ? "" : " " + sets.joined(separator: " ")) }
}

enum PlanFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ m: SmallModel) throws -> Graph {
        let request = SpecRequest(path: root.appendingPathComponent("Specs/\(m.spec).yaml").path, variant: m.variant, sets: m.sets.map { ($0, nil) })
        let (model, diagnostics) = SpecLoader.load(request)
        guard let model else { throw PlanTestFailure(text: diagnostics.map(\.description).joined()) }
        return model.graph
    }

    static func weights(_ graph: Graph, seed: UInt64 = 7) -> Weights {
        var w = Initializer.torchvision(graph: graph, seed: seed)
        Initializer.randomizeBatchNormStatistics(&w, graph: graph, seed: seed &+ 1)
        return w
    }

    static func input(_ graph: Graph, batch: Int, seed: UInt64 = 11) -> [Float] {
        var state = seed
        let n = batch * (graph.inputShape.elementCount ?? 0)
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    /// max |a - b| / max |b|.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = b.map { abs(Double($0)) }.max() ?? 0
        let diff = zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
        return scale == 0 ? diff : diff / scale
    }

    /// Every shipped spec and variant at a reduced resolution.
    static let everySpec: [SmallModel] = {
        var all: [SmallModel] = [
            SmallModel(spec: "lenet5", variant: nil, sets: []),
            SmallModel(spec: "mnist_cnn", variant: nil, sets: []),
            SmallModel(spec: "alexnet", variant: nil, sets: ["resolution=63"]),
            SmallModel(spec: "vgg16", variant: nil, sets: ["resolution=32"]),
            SmallModel(spec: "mobilenet_v1", variant: nil, sets: ["resolution=32"]),
            SmallModel(spec: "mobilenet_v2", variant: nil, sets: ["resolution=32"]),
        ]
        for v in ["18", "34", "50", "101", "152"] { all.append(SmallModel(spec: "resnet", variant: v, sets: ["resolution=32"])) }
        for v in ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"] { all.append(SmallModel(spec: "efficientnet", variant: v, sets: ["resolution=32"])) }
        return all
    }()
}

struct PlanTestFailure: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}

@Suite("Optimized plan against the reference interpreter")
struct PlanVersusReferenceTests {
    /// The acceptance check: every shipped spec and variant, optimized plan vs naive reference.
    @Test(arguments: PlanFixtures.everySpec)
    func optimizedMatchesReference(_ m: SmallModel) throws {
        let graph = try PlanFixtures.load(m)
        let weights = PlanFixtures.weights(graph)
        let batch = 2
        let x = PlanFixtures.input(graph, batch: batch)
        let expected = try ReferenceInterpreter.run(graph: graph, weights: weights, input: x, batch: batch)
        // Every fusion on, including fuse-pointwise-depthwise (by default only for expansions
        // of 1 MiB and more, which these small images do not have).
        let model = try CompiledModel(plan: compile(graph, options: CompileOptions(minimumFusedExpansionBytes: 0)), weights: weights,
                                      batch: batch, threads: 2)
        let actual = model.run(x)
        #expect(actual.count == expected.count)
        let finite = actual.allSatisfy { $0.isFinite }
        #expect(finite)
        let err = PlanFixtures.relativeError(actual, expected)
        #expect(err <= 1e-4, "max relative error \(err)")
    }

    /// Results are identical run to run and do not depend on the thread count.
    @Test func deterministicAcrossRunsAndThreads() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "efficientnet", variant: "b0", sets: ["resolution=32"]))
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 3)
        let plan = compile(graph)
        let one = try CompiledModel(plan: plan, weights: weights, batch: 3, threads: 1).run(x)
        let two = try CompiledModel(plan: plan, weights: weights, batch: 3, threads: 2)
        #expect(two.run(x) == one)
        #expect(two.run(x) == one)
    }

    /// Gates folded into conv weights are per image: at resolution 44 the first folded conv has
    /// 22x22 = 484 pixels per image, not a multiple of the 8-row tile, so tiles and thread
    /// chunks straddle images. Batch 3 matches the reference and 1 vs 2 threads bit for bit.
    @Test func gatedWeightsPerImage() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "efficientnet", variant: "b0", sets: ["resolution=44"]))
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 3)
        let plan = compile(graph)
        #expect(plan.steps.contains { $0.gate != nil && plan.buffers[$0.output].shape.height * plan.buffers[$0.output].shape.width % 8 != 0 })
        let expected = try ReferenceInterpreter.run(graph: graph, weights: weights, input: x, batch: 3)
        let one = try CompiledModel(plan: plan, weights: weights, batch: 3, threads: 1).run(x)
        let two = try CompiledModel(plan: plan, weights: weights, batch: 3, threads: 2).run(x)
        #expect(one == two)
        #expect(PlanFixtures.relativeError(two, expected) <= 1e-4)
    }

    /// The fused pointwise + depthwise step changes where the expansion lives, not a single
    /// value: MobileNetV2 and EfficientNet-B0 at 64x64 with every expansion fused equal the plan
    /// without the pass bit for bit, at 1 and 2 threads.
    @Test(arguments: [SmallModel(spec: "mobilenet_v2", variant: nil, sets: ["resolution=64"]),
                      SmallModel(spec: "efficientnet", variant: "b0", sets: ["resolution=64"])])
    func fusedPointwiseDepthwiseIsBitExact(_ m: SmallModel) throws {
        let graph = try PlanFixtures.load(m)
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 2)
        let fused = compile(graph, options: CompileOptions(minimumFusedExpansionBytes: 0))
        let unfused = compile(graph, options: CompileOptions(disabled: [FusePointwiseDepthwise.name]))
        #expect(fused.steps.contains { $0.pointwise != nil })
        #expect(!unfused.steps.contains { $0.pointwise != nil })
        let reference = try CompiledModel(plan: unfused, weights: weights, batch: 2, threads: 1).run(x)
        for threads in [1, 2] {
            #expect(try CompiledModel(plan: fused, weights: weights, batch: 2, threads: threads).run(x) == reference)
        }
    }

    /// `profile` (modelc bench --profile) runs the same steps as `run`, the first one also
    /// reading the caller's input in place, and times each step once.
    @Test func profileComputesWhatRunComputes() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "mobilenet_v2", variant: nil, sets: ["resolution=32"]))
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 2)
        let plan = compile(graph)
        let model = try CompiledModel(plan: plan, weights: weights, batch: 2, threads: 2)
        let viaRun = model.run(x)
        var viaProfile = [Float](repeating: .nan, count: model.outputCount)
        let times = x.withUnsafeBufferPointer { xp in
            viaProfile.withUnsafeMutableBufferPointer { model.profile(input: xp.baseAddress!, output: $0.baseAddress!) }
        }
        #expect(viaProfile == viaRun)
        #expect(times.count == plan.steps.count)
        #expect(times.allSatisfy { $0 >= 0 })
    }

    /// A batch of 3 gives each sample what a batch of 1 gives it.
    @Test func batchOfThreeEqualsThreeBatchesOfOne() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "resnet", variant: "18", sets: ["resolution=32"]))
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 3)
        let plan = compile(graph)
        let all = try CompiledModel(plan: plan, weights: weights, batch: 3, threads: 2).run(x)
        let single = try CompiledModel(plan: plan, weights: weights, batch: 1, threads: 2)
        let per = graph.inputShape.elementCount ?? 0, outPer = all.count / 3
        for n in 0..<3 {
            let y = single.run(Array(x[(n * per)..<((n + 1) * per)]))
            #expect(PlanFixtures.relativeError(y, Array(all[(n * outPer)..<((n + 1) * outPer)])) <= 1e-5)
        }
    }
}

@Suite("Every compiler pass, with and without")
struct PassToggleTests {
    static let cases: [(SmallModel, String)] = {
        let models = [SmallModel(spec: "resnet", variant: "18", sets: ["resolution=32"]),
                      SmallModel(spec: "efficientnet", variant: "b0", sets: ["resolution=32"]),
                      SmallModel(spec: "mobilenet_v2", variant: nil, sets: ["resolution=32"]),
                      SmallModel(spec: "mnist_cnn", variant: nil, sets: [])]
        return models.flatMap { m in CompileOptions.passNames.map { (m, $0) } + [(m, "all")] }
    }()

    /// Disabling one pass (or all of them) changes the plan but not the result.
    @Test(arguments: cases)
    func resultIndependentOfPass(_ m: SmallModel, _ pass: String) throws {
        let graph = try PlanFixtures.load(m)
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 2)
        let expected = try ReferenceInterpreter.run(graph: graph, weights: weights, input: x, batch: 2)
        let disabled: Set<String> = pass == "all" ? Set(CompileOptions.passNames) : [pass]
        let with = compile(graph, options: CompileOptions(minimumFusedExpansionBytes: 0))
        let without = compile(graph, options: CompileOptions(disabled: disabled, minimumFusedExpansionBytes: 0))
        #expect(!without.passes.contains(pass))
        let a = try CompiledModel(plan: with, weights: weights, batch: 2, threads: 2).run(x)
        let b = try CompiledModel(plan: without, weights: weights, batch: 2, threads: 2).run(x)
        #expect(PlanFixtures.relativeError(a, expected) <= 1e-4)
        #expect(PlanFixtures.relativeError(b, expected) <= 1e-4)
    }
}

@Suite("Winograd convolutions over whole networks")
struct WinogradPlanTests {
    /// At resolution 64 ResNet's first stage is 16x16 (F(4x4)) and its second 8x8 (F(2x2)); VGG at
    /// 48 runs F(4x4) at 48, 24 and 12 and F(2x2) at 6. The plan with Winograd stays within the
    /// plan-vs-reference bound, and so does the one without it.
    @Test(arguments: [SmallModel(spec: "resnet", variant: "18", sets: ["resolution=64"]),
                      SmallModel(spec: "resnet", variant: "50", sets: ["resolution=64"]),
                      SmallModel(spec: "vgg16", variant: nil, sets: ["resolution=48"])])
    func withAndWithoutWinograd(_ m: SmallModel) throws {
        let graph = try PlanFixtures.load(m)
        let weights = PlanFixtures.weights(graph)
        let x = PlanFixtures.input(graph, batch: 1)
        let expected = try ReferenceInterpreter.run(graph: graph, weights: weights, input: x, batch: 1)
        let with = compile(graph)
        let without = compile(graph, options: CompileOptions(disabled: ["winograd"]))
        let kernels = with.steps.map(\.kind.kernelName)
        #expect(kernels.contains("winograd 3 F(4x4)") && kernels.contains("winograd 3 F(2x2)"))
        #expect(!without.steps.contains { $0.kind.kernelName.hasPrefix("winograd") })
        let a = try CompiledModel(plan: with, weights: weights, batch: 1, threads: 2).run(x)
        let b = try CompiledModel(plan: without, weights: weights, batch: 1, threads: 2).run(x)
        let errWith = PlanFixtures.relativeError(a, expected), errWithout = PlanFixtures.relativeError(b, expected)
        print("winograd \(m.testDescription): relative error \(errWith) with, \(errWithout) without")
        #expect(errWith <= 1e-4 && errWithout <= 1e-4, "with \(errWith), without \(errWithout)")
        let one = try CompiledModel(plan: with, weights: weights, batch: 1, threads: 1).run(x)
        #expect(one == a)
    }
}
