import Compiler
import Diagnostics
import Foundation

/// `modelc compile SPEC`: the execution plan as text.
func compileCommand(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["variant"], repeatableFlags: ["set", "disable"])
    let disabled = Set((parsed.repeated["disable"] ?? []).map(\.value))
    for d in disabled where !CompileOptions.passNames.contains(d) {
        throw UsageError("--disable names unknown pass '\(d)'; passes are \(CompileOptions.passNames.joined(separator: ", "))\(didYouMean(d, CompileOptions.passNames))")
    }
    guard let model = try loadModel(cl, parsed: parsed) else { return 1 }
    print(compile(model.graph, options: CompileOptions(disabled: disabled)).text, terminator: "")
    return 0
}

