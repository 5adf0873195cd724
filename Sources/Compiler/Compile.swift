import IR

public struct CompileOptions: Sendable {
    /// Pass names to skip (tests run every graph with and without each pass).
    public var disabled: Set<String>
    /// fuse-pointwise-depthwise fuses only expansions of at least this many bytes per image
    /// (tests lower it to exercise the fusion on small images).
    public var minimumFusedExpansionBytes: Int
    public init(disabled: Set<String> = [], minimumFusedExpansionBytes: Int = FusePointwiseDepthwise.defaultMinimumBytes) {
        self.disabled = disabled
        self.minimumFusedExpansionBytes = minimumFusedExpansionBytes
    }

    /// Every pass that can be disabled, in pipeline order.
    public static let passNames = [EliminateIdentities.name, FoldBatchNorm.name, FuseResidualAdd.name,
                                   FuseActivation.name, FuseSqueezeExcitation.name, FoldGateIntoWeights.name, FusePointwiseDepthwise.name,
                                   "in-place", "winograd"]
}

/// The inference pipeline: graph rewrites, kernel and layout selection, memory planning.
/// Weight values are not needed: folds and permutations are recorded as recipes that the runtime
/// applies when it instantiates the plan, so the plan text is the same for any checkpoint.
public func compile(_ graph: Graph, options: CompileOptions = CompileOptions()) -> ExecutionPlan {
    var g = PlanGraph(graph)
    g.minimumFusedExpansionBytes = options.minimumFusedExpansionBytes
    let pipeline: [any Pass.Type] = [EliminateIdentities.self, FoldBatchNorm.self, FuseResidualAdd.self,
                                     FuseActivation.self, FuseSqueezeExcitation.self, FoldGateIntoWeights.self,
                                     FusePointwiseDepthwise.self]
    var ran: [String] = []
    for pass in pipeline where !options.disabled.contains(pass.name) {
        pass.run(&g)
        ran.append(pass.name)
    }
    let winograd = !options.disabled.contains("winograd")
    ran.append(SelectKernels.name + (winograd ? "" : " (no winograd)"))
    var plan = SelectKernels.run(g, passes: ran, winograd: winograd)
    PlanMemory.run(&plan, inPlace: !options.disabled.contains("in-place"))
    plan.passes.append(PlanMemory.name + (options.disabled.contains("in-place") ? " (no in-place)" : ""))
    return plan
}
