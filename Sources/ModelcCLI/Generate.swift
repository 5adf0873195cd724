import Compiler
import Foundation
import Spec

/// The compiler's text outputs for every shipped spec and variant, kept under `Generated/` so
/// that every change to the front end or the optimizer shows up as a reviewable diff
/// (tinygrad's "process replay" idea). `modelc generate` rewrites them; `--check` and the test
/// suite fail when one is stale.
public enum GeneratedArtifacts {
    /// Every artifact: relative path under Generated/ → expected contents.
    public static func render(specsDirectory: String) -> [(path: String, contents: String)] {
        var out: [(String, String)] = []
        let files = (try? FileManager.default.contentsOfDirectory(atPath: specsDirectory)) ?? []
        for file in files.filter({ $0.hasSuffix(".yaml") }).sorted() {
            let specPath = specsDirectory + "/" + file
            let stem = String(file.dropLast(5))
            let variants = SpecLoader.variants(ofSpecAt: specPath)?.all ?? []
            for variant in variants.isEmpty ? [nil] : variants.map(Optional.some) {
                let name = stem + (variant.map { "-\($0)" } ?? "")
                let (model, diagnostics) = SpecLoader.load(SpecRequest(path: specPath, variant: variant))
                let failure = "error: the spec does not load\n" + diagnostics.map(\.description).joined()
                out.append(("summary/\(name).txt", model.map { SummaryReport(model: $0).text() } ?? failure))
                out.append(("plan/\(name).txt", model.map { compile($0.graph).text } ?? failure))
            }
        }
        return out
    }

    /// Paths under `outputDirectory` that are missing, stale, or no longer produced.
    public static func stale(specsDirectory: String, outputDirectory: String) -> [String] {
        let expected = render(specsDirectory: specsDirectory)
        var problems: [String] = []
        for (path, contents) in expected {
            let existing = try? String(contentsOfFile: outputDirectory + "/" + path, encoding: .utf8)
            if existing != contents { problems.append(path) }
        }
        let produced = Set(expected.map(\.path))
        for dir in Set(expected.map { $0.path.split(separator: "/").first.map(String.init) ?? "" }) {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory + "/" + dir)) ?? []
            for f in files where !produced.contains(dir + "/" + f) { problems.append(dir + "/" + f + " (no longer produced)") }
        }
        return problems.sorted()
    }
}

func generate(_ cl: CommandLineSource) throws(UsageError) -> Int32 {
    let parsed = try ParsedArguments(cl, from: 1, valueFlags: ["specs", "out"], switchFlags: ["check"])
    guard parsed.positionals.isEmpty else { throw UsageError("generate takes no positional arguments") }
    let specs = parsed.values["specs"]?.value ?? "Specs"
    let out = parsed.values["out"]?.value ?? "Generated"
    if parsed.switches.contains("check") {
        let stale = GeneratedArtifacts.stale(specsDirectory: specs, outputDirectory: out)
        for s in stale { FileHandle.standardError.write(Data("stale: \(out)/\(s)\n".utf8)) }
        if !stale.isEmpty { FileHandle.standardError.write(Data("run 'make generated' to refresh them\n".utf8)) }
        return stale.isEmpty ? 0 : 1
    }
    let artifacts = GeneratedArtifacts.render(specsDirectory: specs)
    let fm = FileManager.default
    for dir in Set(artifacts.map { ($0.path as NSString).deletingLastPathComponent }) {
        let full = out + "/" + dir
        // Remove outputs of specs or variants that no longer exist.
        for f in (try? fm.contentsOfDirectory(atPath: full)) ?? [] where !artifacts.contains(where: { $0.path == dir + "/" + f }) {
            try? fm.removeItem(atPath: full + "/" + f)
        }
        do { try fm.createDirectory(atPath: full, withIntermediateDirectories: true) }
        catch { FileHandle.standardError.write(Data("modelc: error: cannot create \(full): \(error.localizedDescription)\n".utf8)); return 1 }
    }
    for (path, contents) in artifacts {
        do { try Data(contents.utf8).write(to: URL(fileURLWithPath: out + "/" + path), options: .atomic) }
        catch { FileHandle.standardError.write(Data("modelc: error: cannot write \(out)/\(path): \(error.localizedDescription)\n".utf8)); return 1 }
    }
    print("wrote \(artifacts.count) files under \(out)/")
    return 0
}
