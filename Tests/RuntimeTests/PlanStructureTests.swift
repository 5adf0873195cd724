import Compiler
import IR
import Testing

/// What the optimizer must achieve on the zoo, checked on the plan itself.
@Suite("Plan structure")
struct PlanStructureTests {
    /// ResNet-50: every BN folded, every conv fused with its activation, every residual add
    /// fused, and an arena far below the sum of all tensors.
    @Test func resnet50IsFullyFused() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "resnet", variant: "50", sets: []))
        let plan = compile(graph)
        var convs = 0
        for step in plan.steps {
            switch step.kind {
            case .batchNorm, .add, .activation: Issue.record("unfused step \(step.name) (\(step.kind.kernelName))")
            case .conv:
                convs += 1
                #expect(step.weights.batchNorm != nil, "\(step.name) has no folded BN")
            default: break
            }
        }
        #expect(convs == 53)
        #expect(plan.applied[FoldBatchNorm.name]?.count == 53)
        #expect(plan.applied[FuseResidualAdd.name]?.count == 16)
        #expect(plan.applied[FuseActivation.name]?.count == 49)
        #expect(plan.arenaFloats * 5 < plan.naiveFloats)
    }

    /// EfficientNet-B0: the 16 squeeze-excitation gates become one step each and SiLU is fused.
    @Test func efficientNetFusesSqueezeExcitationAndSiLU() throws {
        let graph = try PlanFixtures.load(SmallModel(spec: "efficientnet", variant: "b0", sets: []))
        let plan = compile(graph)
        let se = plan.steps.filter { if case .squeezeExcitation = $0.kind { return true }; return false }
        #expect(se.count == 16)
        // Down to 14x14 the gate scales the projection conv's weights (H*W > output channels);
        // at 7x7 it stays a multiply.
        let gated = plan.steps.filter { $0.gate != nil }
        #expect(gated.count == 11)
        #expect(plan.applied[FoldGateIntoWeights.name]?.count == 11)
        for step in gated {
            let gate = plan.steps.first { $0.output == step.gate }
            guard case .squeezeExcitation(let g)? = gate?.kind else { Issue.record("\(step.name): gate not written by an SE step"); continue }
            #expect(g.gateOnly)
            #expect(plan.buffers[step.inputs[0]].shape.height >= 14)
        }
        let standalone = plan.steps.filter { if case .activation = $0.kind { return true }; return false }
        #expect(standalone.isEmpty)
        // The three expansions of 1 MiB and more (112x112x96, 56x56x144 twice) are fused into
        // their depthwise convs and never stored.
        #expect(plan.steps.filter { $0.pointwise != nil }.map(\.name)
                == ["features.2.0.block.1.0", "features.2.1.block.1.0", "features.3.0.block.1.0"])
        #expect(plan.steps.contains { $0.activation == .silu })
    }

    /// Layout conversions only at the edges: the input (and before a flatten that feeds
    /// anything but a linear layer).
    @Test(arguments: ["alexnet", "vgg16", "mnist_cnn", "mobilenet_v2"])
    func layoutConversionsOnlyAtTheInput(_ spec: String) throws {
        let plan = compile(try PlanFixtures.load(SmallModel(spec: spec, variant: nil, sets: [])))
        let conversions = plan.steps.filter { if case .convertLayout = $0.kind { return true }; return false }
        #expect(conversions.count <= 1)
    }

    /// The memory plan never lets two tensors that are alive at the same step overlap.
    @Test(arguments: PlanFixtures.everySpec)
    func arenaHasNoOverlappingLiveTensors(_ m: SmallModel) throws {
        let plan = compile(try PlanFixtures.load(m))
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        first[plan.buffers[plan.input].storage] = -1
        for (s, step) in plan.steps.enumerated() {
            let st = plan.buffers[step.output].storage
            first[st] = min(first[st] ?? s, s)
            for b in step.inputs + (step.residual.map { [$0] } ?? []) + (step.gate.map { [$0] } ?? []) { last[plan.buffers[b].storage] = s }
        }
        last[plan.buffers[plan.output].storage] = plan.steps.count
        var extent: [Int: (Int, Int)] = [:]
        for b in plan.buffers { extent[b.storage] = (b.offset, max(extent[b.storage]?.1 ?? 0, b.floats)) }
        let storages = Array(extent.keys)
        for (i, a) in storages.enumerated() {
            for b in storages[(i + 1)...] {
                let la = (first[a] ?? -1, last[a] ?? first[a] ?? -1), lb = (first[b] ?? -1, last[b] ?? first[b] ?? -1)
                guard !(la.1 < lb.0 || lb.1 < la.0) else { continue }
                let (oa, sa) = extent[a]!, (ob, sb) = extent[b]!
                #expect(oa + sa <= ob || ob + sb <= oa, "storages \(a) and \(b) overlap while both alive")
            }
            #expect(extent[a]!.0 + extent[a]!.1 <= plan.arenaFloats)
        }
    }
}
