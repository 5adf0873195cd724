import Compiler
import Diagnostics
import Foundation
import IR
import Runtime
import Spec
import TensorIO

// `modelc init` and `modelc run`: random torchvision-style weights to a checkpoint, and
// inference on an .npy batch with the compiled plan (or, with --reference, the naive
// interpreter the plan is checked against).

/// `modelc init SPEC -o OUT.safetensors [--seed N]`.
func initCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "output", "seed"], repeatableFlags: ["set"])
    guard let out = parsed.values["output"]?.value else { throw UsageError("init needs an output file: -o OUT.safetensors") }
    let seed = try parsed.seed()
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let weights = Initializer.torchvision(graph: model.graph, seed: seed)
    var metadata = ["format": "pt", "modelc.spec": model.name, "modelc.seed": String(seed), "modelc.initializer": "torchvision"]
    if let v = model.variant { metadata["modelc.variant"] = v }
    do {
        try WeightFiles.write(weights, graph: model.graph, metadata: metadata, to: out)
    } catch {
        writeStderr("\(error)\n")
        return 1
    }
    let params = model.graph.parameters
    let floats = params.reduce(0) { $0 + $1.elementCount }
    writeStderr("modelc: wrote \(out): \(params.count) tensors, \(grouped(floats)) floats (\(model.name)\(model.variant.map { " variant \($0)" } ?? ""), seed \(seed))\n")
    return 0
}

/// `modelc run SPEC --input X.npy --output Y.npy [--weights W] [--batch N] [--threads T] [--reference]`.
func runCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "weights", "seed", "input", "output", "batch", "threads"],
                                     repeatableFlags: ["set", "disable"], switchFlags: ["reference"])
    guard let inputPath = parsed.values["input"]?.value else { throw UsageError("run needs an input file: --input X.npy") }
    guard let outputPath = parsed.values["output"]?.value else { throw UsageError("run needs an output file: --output Y.npy") }
    let requestedBatch = try parsed.int("batch", range: 1...1 << 20)
    let threads = try parsed.threads()
    let seed = try parsed.seed()
    if parsed.values["weights"] != nil && parsed.values["seed"] != nil {
        throw UsageError("--seed chooses random weights; it cannot be combined with --weights")
    }
    let reference = parsed.switches.contains("reference")
    let options = try parsed.compileOptions()
    if reference && !options.disabled.isEmpty { throw UsageError("--disable applies to the compiled plan; --reference runs the graph unoptimized") }
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let graph = model.graph

    // The input: [N, C, H, W] (or [C, H, W] for one image) matching the spec's input.
    let input: HostTensor
    do {
        input = try NPY.read(path: inputPath)
    } catch {
        writeStderr("\(error)\n")
        return 1
    }
    let sample = graph.inputShape.dims
    let batch: Int
    if input.shape == sample {
        batch = 1
    } else if input.shape.count == sample.count + 1, Array(input.shape.dropFirst()) == sample {
        batch = input.shape[0]
    } else {
        writeStderr("\(inputPath): error: expected an array of shape [N, \(sample.map(String.init).joined(separator: ", "))] (or \(WeightFiles.render(sample)) for one sample) for spec '\(model.name)', found \(WeightFiles.render(input.shape))\n")
        return 1
    }
    guard batch >= 1 else {
        writeStderr("\(inputPath): error: expected at least one sample, found a batch of 0 (shape \(WeightFiles.render(input.shape)))\n")
        return 1
    }
    if let b = requestedBatch, b != batch {
        writeStderr("\(inputPath): error: --batch is \(b) but the file holds \(batch) sample\(batch == 1 ? "" : "s") (shape \(WeightFiles.render(input.shape)))\n")
        return 1
    }

    guard let weights = modelWeights(parsed, graph: graph, seed: seed) else { return 1 }

    let clock = ContinuousClock()
    var output: [Float]
    var summary: String
    if reference {
        let start = clock.now
        do {
            output = try ReferenceInterpreter.run(graph: graph, weights: weights, input: input.data, batch: batch)
        } catch {
            writeStderr("modelc: error: reference interpreter: \(error)\n")
            return 1
        }
        let elapsed = clock.now - start
        summary = "reference interpreter, \(milliseconds(elapsed)) ms"
    } else {
        let plan = compile(graph, options: options)
        let start = clock.now
        guard let compiled = instantiate(plan, weights: weights, batch: batch, threads: threads) else { return 1 }
        let prepared = clock.now - start
        guard compiled.inputCount == input.data.count else {
            writeStderr("modelc: error: internal: the plan expects \(compiled.inputCount) input floats, the file holds \(input.data.count)\n")
            return 1
        }
        var result = [Float](repeating: 0, count: compiled.outputCount)
        let elapsed = clock.measure {
            input.data.withUnsafeBufferPointer { i in
                result.withUnsafeMutableBufferPointer { o in
                    if let ib = i.baseAddress, let ob = o.baseAddress { compiled.run(input: ib, output: ob) }
                }
            }
        }
        output = result
        summary = "\(threads) thread\(threads == 1 ? "" : "s"), \(milliseconds(elapsed)) ms (instantiation \(milliseconds(prepared)) ms, arena \(mebibytes(compiled.arenaBytes)) MiB)"
    }

    let outShape = [batch] + graph.outputShape.dims
    let nonFinite = output.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    do {
        try NPY.write(HostTensor(shape: outShape, data: output), to: outputPath)
    } catch {
        writeStderr("\(error)\n")
        return 1
    }
    writeStderr("modelc: \(model.name)\(model.variant.map { " variant \($0)" } ?? ""): batch \(batch), \(summary); wrote \(outputPath) \(WeightFiles.render(outShape))\n")
    if nonFinite > 0 {
        writeStderr("modelc: warning: \(nonFinite) output value\(nonFinite == 1 ? " is" : "s are") not finite (NaN or infinity)\n")
    }
    return 0
}

/// The weights for a run: the `--weights` file bound to the graph (problems printed), or
/// torchvision-style random initialization from `seed`.
func modelWeights(_ parsed: ParsedArguments, graph: Graph, seed: UInt64) -> Weights? {
    if let path = parsed.values["weights"]?.value {
        return WeightFiles.load(path: path, graph: graph)
    }
    return Initializer.torchvision(graph: graph, seed: seed)
}

/// The plan instantiated for `batch`, or nil with the reason printed (the arena would not fit
/// in memory, or the runtime refused the weights).
func instantiate(_ plan: ExecutionPlan, weights: Weights, batch: Int, threads: Int) -> CompiledModel? {
    let (bytes, overflow) = plan.arenaFloats.multipliedReportingOverflow(by: batch * 4)
    let memory = ProcessInfo.processInfo.physicalMemory
    if overflow || UInt64(bytes) > memory {
        writeStderr("modelc: error: a batch of \(batch) needs a \(overflow ? "huge" : mebibytes(bytes) + " MiB") activation arena; this machine has \(mebibytes(Int(clamping: memory))) MiB of memory\n")
        return nil
    }
    do {
        return try CompiledModel(plan: plan, weights: weights, batch: batch, threads: threads)
    } catch {
        writeStderr("modelc: error: \(error)\n")
        return nil
    }
}

/// Threads used when `--threads` is not given: every core, up to 16.
var defaultThreads: Int { min(max(1, ProcessInfo.processInfo.activeProcessorCount), 16) }

extension ParsedArguments {
    func seed() throws(UsageError) -> UInt64 {
        guard let v = values["seed"]?.value else { return 0 }
        guard let s = UInt64(v) else { throw UsageError("--seed expects a non-negative integer; found '\(v)'") }
        return s
    }

    /// `--disable PASS`... (as for `modelc compile`), to bisect a wrong result to a pass.
    func compileOptions() throws(UsageError) -> CompileOptions {
        let disabled = Set((repeated["disable"] ?? []).map(\.value))
        for d in disabled where !CompileOptions.passNames.contains(d) {
            throw UsageError("--disable names unknown pass '\(d)'; passes are \(CompileOptions.passNames.joined(separator: ", "))\(didYouMean(d, CompileOptions.passNames))")
        }
        return CompileOptions(disabled: disabled)
    }

    func threads() throws(UsageError) -> Int {
        try int("threads", range: 1...256) ?? defaultThreads
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func milliseconds(_ d: Duration) -> String {
    String(format: "%.3f", seconds(d) * 1000)
}

func mebibytes(_ bytes: Int) -> String {
    String(format: "%.2f", Double(bytes) / 1_048_576)
}
