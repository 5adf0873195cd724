// libFuzzer harness for the spec front end: YAML (libyaml events, aliases, merge keys, limits),
// spec structure, expressions, block elaboration, shape inference, diagnostics rendering and
// graph statistics. Not a SwiftPM target: `Tests/Fuzz/run.sh` compiles it with swiftc directly.
//
// Contract under test: any byte sequence ends in diagnostics (or a model), never a trap, a hang
// or unbounded allocation.
import Diagnostics
import IR
import Spec
#if canImport(Glibc)
import Glibc
#endif

/// Keeps the rendered output observable so the optimizer cannot drop the work.
nonisolated(unsafe) var sink = 0

/// `FUZZ_SPEC_VERBOSE=1 fuzz-spec FILE` prints what the loader made of FILE (for triage).
let verbose = getenv("FUZZ_SPEC_VERBOSE").map { String(cString: $0) == "1" } ?? false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let (model, diagnostics) = SpecLoader.load(bytes: bytes, request: SpecRequest(path: "fuzz.yaml"))

    // Rendering quotes source lines and draws carets: ranges past a line end, on lines that do
    // not exist, or inside multi-byte characters must not trap.
    let renderer = DiagnosticRenderer(color: false)
    var rendered = 0
    for d in diagnostics {
        rendered &+= renderer.render(d).utf8.count
    }
    rendered &+= renderer.render(diagnostics).utf8.count
    let all = DiagnosticRenderer(color: true).render(diagnostics)
    rendered &+= all.utf8.count
    if verbose { print(renderer.render(diagnostics), terminator: "") }

    if let model {
        // A loaded model must be internally consistent (inferred shapes re-check), and the
        // statistics `modelc summary` prints must not overflow or index out of range.
        do {
            try model.graph.validate()
        } catch {
            // The loader promised a shape-checked graph: an inconsistency is a bug, make it loud.
            fatalError("loaded model fails Graph.validate(): \(error.message)")
        }
        let stats = GraphStatistics(model.graph)
        rendered &+= stats.rows.count &+ stats.params &+ stats.flops &+ stats.depth
        rendered &+= model.graph.parameters.count
        if verbose {
            print("loaded '\(model.name)': \(model.graph.nodes.count) nodes, output \(model.graph.outputShape), \(stats.params) params, \(stats.macs) MACs")
        }
    }
    sink &+= rendered
    return 0
}
