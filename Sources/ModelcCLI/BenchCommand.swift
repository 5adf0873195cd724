import Compiler
import Foundation
import IR
import Runtime

/// Measured single-core FMA peak of the target machine (Zen 4, AVX-512: 2 x 16-lane FMA per
/// cycle at ~3.7 GHz = 117 GFLOP/s); `bench` reports its figure against this times the threads.
let peakGFLOPsPerCore = 117.0

/// `modelc bench SPEC [--batch N] [--threads T] [--runs R] [--warmup W] [--format text|json]
/// [--profile] [--weights W]`: latency of the compiled plan on a seeded random input.
func benchCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "batch", "threads", "runs", "warmup", "format", "weights", "seed"],
                                     repeatableFlags: ["set", "disable"], switchFlags: ["profile"])
    let format = parsed.values["format"]?.value ?? "text"
    guard format == "text" || format == "json" else { throw UsageError("--format expects text or json; found '\(format)'") }
    let batch = try parsed.int("batch", range: 1...1 << 16) ?? 1
    let threads = try parsed.threads()
    let runs = try parsed.int("runs", range: 1...1_000_000) ?? 30
    let warmup = try parsed.int("warmup", range: 0...1_000_000) ?? 3
    let seed = try parsed.seed()
    if parsed.values["weights"] != nil && parsed.values["seed"] != nil {
        throw UsageError("--seed chooses random weights; it cannot be combined with --weights")
    }
    let profile = parsed.switches.contains("profile")
    let options = try parsed.compileOptions()
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let graph = model.graph
    guard let weights = modelWeights(parsed, graph: graph, seed: seed) else { return 1 }

    let plan = compile(graph, options: options)
    guard let compiled = instantiate(plan, weights: weights, batch: batch, threads: threads) else { return 1 }
    var generator = Initializer.Random(seed: seed ^ 0x5EED_1A9A_7000_0001)
    let input = (0..<compiled.inputCount).map { _ in Float(2 * generator.uniform() - 1) }
    var output = [Float](repeating: 0, count: compiled.outputCount)

    let clock = ContinuousClock()
    var times: [Double] = []
    var stepTimes: [[Double]] = []
    input.withUnsafeBufferPointer { i in
        output.withUnsafeMutableBufferPointer { o in
            guard let ib = i.baseAddress, let ob = o.baseAddress else { return }
            for _ in 0..<warmup { compiled.run(input: ib, output: ob) }
            for _ in 0..<runs {
                let d = clock.measure { compiled.run(input: ib, output: ob) }
                times.append(seconds(d))
            }
            if profile {
                // Per-step times from separate runs (the clock reads between steps are not in
                // the latency figures above).
                for _ in 0..<runs { stepTimes.append(compiled.profile(input: ib, output: ob)) }
            }
        }
    }

    let stats = GraphStatistics(graph)
    let sorted = times.sorted()
    let median = percentile(sorted, 0.5), p90 = percentile(sorted, 0.9)
    let flops = 2 * Double(stats.macs) * Double(batch)
    let gflops = median > 0 ? flops / median / 1e9 : 0
    let peak = peakGFLOPsPerCore * Double(threads)
    let report = BenchReport(model: model.name, variant: model.variant, batch: batch, threads: threads, runs: runs, warmup: warmup,
                             medianMs: median * 1000, p90Ms: p90 * 1000, minMs: (sorted.first ?? 0) * 1000,
                             imagesPerSecond: median > 0 ? Double(batch) / median : 0, gflops: gflops, peakGFLOPs: peak,
                             macs: stats.macs, arenaBytes: compiled.arenaBytes, weights: parsed.values["weights"]?.value,
                             seed: seed, disabled: options.disabled.sorted(), steps: profile ? stepRows(plan, batch: batch, samples: stepTimes) : nil)
    print(format == "json" ? report.json().rendered() : report.text(), terminator: format == "json" ? "\n" : "")
    let nonFinite = output.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    if nonFinite > 0 {
        writeStderr("modelc: warning: \(nonFinite) output value\(nonFinite == 1 ? " is" : "s are") not finite (NaN or infinity)\n")
    }
    return 0
}

/// Nearest-rank percentile of sorted values (p in 0...1).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Multiply-accumulates of one plan step at batch 1, conv and linear weights only, counted like
/// `GraphStatistics` (a fused squeeze-excitation's two small layers are left out: its time goes
/// to pooling and gating, and a GFLOP/s figure for it would mislead).
func stepMACs(_ step: Step, in plan: ExecutionPlan) -> Int {
    let out = plan.buffers[step.output].shape
    let inChannels = step.inputs.first.map { plan.buffers[$0].shape.channels } ?? 0
    switch step.kind {
    case .conv(let c, _):
        if let pw = step.pointwise {
            // The 1x1 expansion over the input pixels, then the depthwise taps.
            let input = step.inputs.first.map { plan.buffers[$0].shape } ?? out
            return input.height * input.width * pw.inputChannels * pw.conv.outChannels + (out.elementCount ?? 0) * c.kernel.h * c.kernel.w
        }
        return (out.elementCount ?? 0) * (inChannels / max(c.groups, 1)) * c.kernel.h * c.kernel.w
    case .linear(let l):
        return l.outFeatures * inChannels
    default:
        return 0
    }
}

struct StepRow {
    var index: Int
    var name: String
    var kernel: String
    var seconds: Double
    var macs: Int
}

/// One row per step with its median time over the profiled runs, slowest first.
func stepRows(_ plan: ExecutionPlan, batch: Int, samples: [[Double]]) -> [StepRow] {
    var rows: [StepRow] = []
    for (i, s) in plan.steps.enumerated() {
        let t = percentile(samples.compactMap { i < $0.count ? $0[i] : nil }.sorted(), 0.5)
        rows.append(StepRow(index: i, name: s.name.isEmpty ? "-" : s.name, kernel: s.kind.kernelName, seconds: t, macs: stepMACs(s, in: plan) * batch))
    }
    return rows.sorted { $0.seconds != $1.seconds ? $0.seconds > $1.seconds : $0.index < $1.index }
}

struct BenchReport {
    var model: String
    var variant: String?
    var batch: Int, threads: Int, runs: Int, warmup: Int
    var medianMs: Double, p90Ms: Double, minMs: Double
    var imagesPerSecond: Double
    var gflops: Double
    var peakGFLOPs: Double
    var macs: Int
    var arenaBytes: Int
    var weights: String?
    var seed: UInt64
    var disabled: [String]
    var steps: [StepRow]?

    var percentOfPeak: Double { peakGFLOPs > 0 ? 100 * gflops / peakGFLOPs : 0 }

    func text() -> String {
        var out = "bench \(model)\(variant.map { " variant \($0)" } ?? ""): batch \(batch), \(threads) thread\(threads == 1 ? "" : "s"), \(runs) runs after \(warmup) warm-up\n"
        out += "weights: \(weights ?? "random (torchvision init, seed \(seed))")\n"
        if !disabled.isEmpty { out += "passes disabled: \(disabled.joined(separator: ", "))\n" }
        out += "\n"
        let rows: [(String, String)] = [
            ("median", String(format: "%.3f ms", medianMs)),
            ("p90", String(format: "%.3f ms", p90Ms)),
            ("min", String(format: "%.3f ms", minMs)),
            ("images/s", String(format: "%.1f", imagesPerSecond)),
            ("GFLOP/s", gflopsText(gflops) + "  (2 x \(grouped(macs)) MACs x batch \(batch) / median)"),
            ("% of peak", String(format: "%.1f%%  (peak %.0f GFLOP/s = %.0f per core x %d threads, Zen 4 AVX-512 FMA)", percentOfPeak, peakGFLOPs, peakGFLOPsPerCore, threads)),
            ("arena", String(format: "%.2f MiB", Double(arenaBytes) / 1_048_576)),
        ]
        for (k, v) in rows { out += k.padding(toLength: 11, withPad: " ", startingAt: 0) + v + "\n" }
        if let steps {
            let total = steps.reduce(0) { $0 + $1.seconds }
            let shown = steps.count > 25 ? "the 25 slowest of \(steps.count) steps" : "\(steps.count) steps"
            out += "\nprofile (\(shown), slowest first; median over \(runs) profiled run\(runs == 1 ? "" : "s"); sum \(String(format: "%.3f", total * 1000)) ms):\n"
            var table: [[String]] = [["#", "step", "kernel", "ms", "%", "GFLOP/s"]]
            for r in steps.prefix(25) {
                table.append(["\(r.index)", r.name, r.kernel, String(format: "%.3f", r.seconds * 1000),
                              String(format: "%.1f", total > 0 ? 100 * r.seconds / total : 0),
                              r.macs > 0 && r.seconds > 0 ? gflopsText(2 * Double(r.macs) / r.seconds / 1e9) : "-"])
            }
            if steps.count > 25 {
                let rest = steps.dropFirst(25).reduce(0) { $0 + $1.seconds }
                table.append(["", "(\(steps.count - 25) more)", "", String(format: "%.3f", rest * 1000),
                              String(format: "%.1f", total > 0 ? 100 * rest / total : 0), ""])
            }
            out += renderTable(table, rightAligned: [0, 3, 4, 5])
        }
        return out
    }

    func json() -> JSON {
        var pairs: [(String, JSON)] = [
            ("model", .string(model)),
            ("variant", variant.map(JSON.string) ?? .null),
            ("batch", .int(batch)),
            ("threads", .int(threads)),
            ("runs", .int(runs)),
            ("warmup", .int(warmup)),
            ("median_ms", .double(medianMs)),
            ("p90_ms", .double(p90Ms)),
            ("min_ms", .double(minMs)),
            ("images_per_second", .double(imagesPerSecond)),
            ("macs", .int(macs)),
            ("gflops", .double(gflops)),
            ("peak_gflops", .double(peakGFLOPs)),
            ("percent_of_peak", .double(percentOfPeak)),
            ("arena_bytes", .int(arenaBytes)),
            ("weights", weights.map(JSON.string) ?? .null),
            ("disabled_passes", .array(disabled.map(JSON.string))),
        ]
        if let steps {
            pairs.append(("profile", .array(steps.map { r in
                .object([("index", .int(r.index)), ("step", .string(r.name)), ("kernel", .string(r.kernel)),
                         ("ms", .double(r.seconds * 1000)), ("macs", .int(r.macs)),
                         ("gflops", r.macs > 0 && r.seconds > 0 ? .double(2 * Double(r.macs) / r.seconds / 1e9) : .null)])
            })))
        }
        return .object(pairs)
    }
}

func gflopsText(_ g: Double) -> String {
    String(format: g < 10 ? "%.2f" : "%.1f", g)
}

func renderTable(_ rows: [[String]], rightAligned: Set<Int>) -> String {
    var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in rows {
        var line = ""
        for (i, c) in r.enumerated() where i < widths.count {
            let pad = String(repeating: " ", count: widths[i] - c.count)
            line += rightAligned.contains(i) ? pad + c : c + pad
            if i < r.count - 1 { line += "  " }
        }
        while line.last == " " { line.removeLast() }
        out += line + "\n"
    }
    return out
}
