/// Places every buffer in one arena. Liveness: a storage lives from the step that writes it to
/// the last step that reads it (the graph input from the start, the output to the end).
/// In place: an elementwise step (activation, scale-shift, add, gates) writes into its first
/// input, and a conv with a fused residual into the residual, when that input dies at the step
/// (each output element depends only on the same element of that input, so the overwrite is
/// safe). Placement: greedy by size (largest first, lowest offset that collides with no
/// overlapping lifetime), as TFLite's arena planner; offsets aligned to 16 floats (64 bytes).
public enum PlanMemory {
    public static let name = "plan-memory"
    static let alignment = 16

    public static func run(_ plan: inout ExecutionPlan, inPlace: Bool = true) {
        let stepCount = plan.steps.count
        // The naive figure: every tensor in its own storage (views excepted).
        var distinct: [Int: Int] = [:]
        for b in plan.buffers { distinct[b.storage] = max(distinct[b.storage] ?? 0, b.floats) }
        plan.naiveFloats = distinct.values.reduce(0, +)
        // Storage lifetimes, with in-place merging decided in step order.
        func lastUse(_ storage: Int) -> Int {
            var last = -1
            for (s, step) in plan.steps.enumerated() {
                let reads = step.inputs + (step.residual.map { [$0] } ?? [])
                if reads.contains(where: { plan.buffers[$0].storage == storage }) { last = s }
            }
            if plan.buffers[plan.output].storage == storage { last = stepCount }
            return last
        }
        if inPlace {
            for (s, step) in plan.steps.enumerated() {
                let candidate: Int?
                switch step.kind {
                case .activation, .batchNorm, .add, .multiply, .channelGate, .squeezeExcitation: candidate = step.inputs.first
                case .conv: candidate = step.residual
                default: candidate = nil
                }
                guard let c = candidate, plan.buffers[c].floats == plan.buffers[step.output].floats,
                      plan.buffers[c].layout == plan.buffers[step.output].layout || plan.buffers[c].layout == .flat || plan.buffers[step.output].layout == .flat,
                      lastUse(plan.buffers[c].storage) == s,
                      !step.inputs.dropFirst().contains(where: { plan.buffers[$0].storage == plan.buffers[c].storage }) else { continue }
                if case .conv = step.kind, step.inputs.contains(where: { plan.buffers[$0].storage == plan.buffers[c].storage }) { continue }
                let old = plan.buffers[step.output].storage, new = plan.buffers[c].storage
                for b in plan.buffers.indices where plan.buffers[b].storage == old { plan.buffers[b].storage = new }
            }
        }
        // Lifetimes and sizes per storage.
        var first: [Int: Int] = [:], last: [Int: Int] = [:], size: [Int: Int] = [:]
        for (b, buffer) in plan.buffers.enumerated() {
            size[buffer.storage] = max(size[buffer.storage] ?? 0, buffer.floats)
            if b == plan.input { first[buffer.storage] = -1 }
        }
        for (s, step) in plan.steps.enumerated() {
            let st = plan.buffers[step.output].storage
            first[st] = min(first[st] ?? s, s)
        }
        for st in size.keys { last[st] = max(lastUse(st), first[st] ?? -1) }
        // Greedy by size.
        var placed: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var offsetOf: [Int: Int] = [:]
        let order = size.keys.sorted { (size[$0]!, -(first[$0] ?? -1), -$0) > (size[$1]!, -(first[$1] ?? -1), -$1) }
        for st in order {
            let sz = (size[st]! + alignment - 1) / alignment * alignment
            let f = first[st] ?? -1, l = last[st] ?? -1
            let overlapping = placed.filter { !($0.last < f || l < $0.first) }.sorted { $0.offset < $1.offset }
            var offset = 0
            for p in overlapping where p.offset < offset + sz {
                if p.offset + p.size > offset { offset = (p.offset + p.size + alignment - 1) / alignment * alignment }
            }
            placed.append((offset, sz, f, l))
            offsetOf[st] = offset
        }
        for b in plan.buffers.indices { plan.buffers[b].offset = offsetOf[plan.buffers[b].storage] ?? 0 }
        plan.arenaFloats = placed.map { $0.offset + $0.size }.max() ?? 0
    }
}
