import Diagnostics
import Foundation
import Spec
import YAML

/// Entry point of the `modelc` executable. Returns the exit status: 0 success, 1 errors in the
/// user's files, 2 usage errors.
public func modelcMain(_ args: [String]) -> Int32 {
    let cl = CommandLineSource(args)
    guard let command = args.first else {
        FileHandle.standardError.write(Data(usage.utf8))
        return 2
    }
    // `modelc COMMAND --help` and `modelc help COMMAND`: that command's part of the usage.
    let helpFor: String? = commands.contains(command) && command != "help" && args.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" })
        ? command : (command == "help" && args.count > 1 ? args[1] : nil)
    if let name = helpFor {
        guard let text = commandUsage(name) else {
            FileHandle.standardError.write(Data("modelc: error: unknown command '\(name)'\(didYouMean(name, commands))\n(see 'modelc help')\n".utf8))
            return 2
        }
        print(text, terminator: "")
        return 0
    }
    do throws(UsageError) {
        switch command {
        case "check": return try check(cl)
        case "summary": return try summary(cl)
        case "compile": return try compileCommand(cl)
        case "init": return try initCommand(cl)
        case "run": return try runCommand(cl)
        case "bench": return try benchCommand(cl)
        case "train": return try trainCommand(cl)
        case "eval": return try evalCommand(cl)
        case "generate": return try generate(cl)
        case "help", "--help", "-h":
            print(usage, terminator: "")
            return 0
        case "--version", "version":
            print("modelc \(modelcVersion)")
            return 0
        default:
            throw UsageError("unknown command '\(command)'\(didYouMean(command, commands))")
        }
    } catch {
        let color = Terminal.stderrIsColorTTY
        let prefix = color ? "\u{1B}[1mmodelc: \u{1B}[1;31merror:\u{1B}[0m " : "modelc: error: "
        FileHandle.standardError.write(Data((prefix + error.description + "\n(see 'modelc help')\n").utf8))
        return 2
    }
}

/// The usage entry of one command (its synopsis lines from `usage`) followed by the shared
/// options section; nil for an unknown command.
func commandUsage(_ name: String) -> String? {
    let lines = usage.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(name) ") || $0 == "  \(name)" }) else { return nil }
    var entry = [lines[start]]
    var i = start + 1
    while i < lines.count, lines[i].hasPrefix("      ") { entry.append(lines[i]); i += 1 }
    let options = lines.firstIndex(of: "options:").map { lines[$0...].joined(separator: "\n") } ?? ""
    return "usage: modelc" + entry.joined(separator: "\n").dropFirst(1) + "\n\n" + options
}

public let modelcVersion = "0.1.0"
let commands = ["check", "summary", "compile", "init", "run", "bench", "train", "eval", "generate", "help"]

let usage = """
usage: modelc <command> [options]

commands:
  check SPEC [--variant V] [--set name=value]...
      validate a spec: every error in one run; exit 0 when valid, 1 otherwise
  summary SPEC [--variant V] [--set name=value]... [--format text|json] [--max-depth N]
      per-layer output shapes, params and MACs, with totals (torchvision's counting)
  compile SPEC [--variant V] [--set name=value]... [--disable PASS]...
      the optimized execution plan as text: steps, kernels, arena offsets, fusions
  init SPEC [--variant V] [--set name=value]... -o OUT.safetensors [--seed N]
      random weights initialized as torchvision does, saved with the spec's state_dict names
  run SPEC [--variant V] [--set name=value]... [--weights W.safetensors | --seed N]
      --input X.npy --output Y.npy [--batch N] [--threads T] [--reference | --disable PASS...]
      inference on a float32 [N, C, H, W] batch; --reference uses the naive interpreter
  bench SPEC [--variant V] [--set name=value]... [--batch N] [--threads T] [--runs R]
      [--warmup W] [--format text|json] [--profile] [--weights W.safetensors | --seed N] [--disable PASS]...
      latency (median, p90), images/s, GFLOP/s and % of peak; --profile adds a per-step table
  train SPEC [--variant V] [--set name=value]... --data DIR --epochs N --out RUNDIR [--batch 64]
      [--lr 0.003] [--optimizer sgd|adam|adamw] [--momentum M] [--nesterov] [--weight-decay WD]
      [--schedule constant|step:EPOCHS[:GAMMA]|cosine[:MIN]] [--warmup STEPS] [--label-smoothing E]
      [--seed N] [--threads 2] [--limit-train N] [--limit-test N] [--checkpoint-every STEPS]
      [--weights INITIAL.safetensors] | --resume RUNDIR
      train on an MNIST-format data set; settings may also sit in the spec's train: section
      (flags override); checkpoints, metrics.jsonl, last/best.safetensors in RUNDIR
  eval SPEC [--variant V] [--set name=value]... --weights W.safetensors --data DIR
      [--format text|json] [--batch N] [--threads T] [--split test|train] [--limit-test N]
      loss and accuracy of the compiled inference plan on the data set
  generate [--check] [--specs DIR] [--out DIR]
      rewrite (or, with --check, verify) the Generated/ outputs of every shipped spec
  help
      this text

options:
  --variant V        a row of the spec's variants table (e.g. resnet 18/34/50/101/152)
  --set name=value   override a spec parameter (width=0.5, resolution=160, layers=[2,2,2,2])
  --format F         text (default) or json
  --max-depth N      collapse summary rows to N path components (1: stages, 2: blocks)
  --weights W        a safetensors state_dict (torchvision's names; F32/F16/BF16/F64)
  --seed N           seed of the random weights (and bench input) without --weights (default 0)
  --batch N          images per run (run: must match the input file); --threads T: default all cores

exit status: 0 success, 1 errors in the spec or other input files, 2 usage errors.
The spec language is documented in Specs/README.md.

"""

enum Terminal {
    static var stderrIsColorTTY: Bool {
        isatty(2) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }
}

/// Parses the common spec flags and loads the model, printing diagnostics to stderr.
func loadModel(_ cl: CommandLineSource, parsed: ParsedArguments) throws(UsageError) -> LoadedModel? {
    guard parsed.positionals.count == 1 else {
        throw UsageError(parsed.positionals.isEmpty ? "expected a spec file" : "expected one spec file; found \(parsed.positionals.count) arguments")
    }
    var request = SpecRequest(path: parsed.positionals[0].value)
    if let v = parsed.values["variant"] {
        request.variant = v.value
        request.variantRange = cl.range(of: v.index, skip: v.skip)
    }
    request.sets = (parsed.repeated["set"] ?? []).map { ($0.value, cl.range(of: $0.index, skip: $0.skip)) }
    let (model, diagnostics) = SpecLoader.load(request)
    if !diagnostics.isEmpty {
        let text = DiagnosticRenderer(color: Terminal.stderrIsColorTTY).render(diagnostics)
        FileHandle.standardError.write(Data(text.utf8))
    }
    return model
}

func check(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant"], repeatableFlags: ["set"])
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let stats = IRStatistics(model)
    print("\(parsed.positionals[0].value): ok: \(stats)")
    return 0
}

func summary(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant", "format", "max-depth"], repeatableFlags: ["set"])
    let format = parsed.values["format"]?.value ?? "text"
    guard format == "text" || format == "json" else { throw UsageError("--format expects text or json; found '\(format)'") }
    let depth = try parsed.int("max-depth", range: 1...64)
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    let report = SummaryReport(model: model, maxDepth: depth)
    print(format == "json" ? report.json().rendered() : report.text(), terminator: format == "json" ? "\n" : "")
    return 0
}

/// One line for `check`: "50 layers, 25,557,032 params, output [1000]".
func IRStatistics(_ model: LoadedModel) -> String {
    let r = SummaryReport(model: model)
    return "\(model.name)\(model.variant.map { " variant \($0)" } ?? ""): \(r.stats.rows.count) layers, \(grouped(r.stats.params)) params, output \(model.graph.outputShape)"
}
