import Foundation
import Spec

/// Paths of the repository, found from this file so tests run from any working directory.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static func spec(_ name: String) -> String { path("Specs/\(name).yaml") }
}

/// Loads a shipped spec or fails with its rendered diagnostics.
func loadShipped(_ name: String, variant: String? = nil, sets: [String] = []) throws -> LoadedModel {
    let (model, diagnostics) = SpecLoader.load(SpecRequest(path: Repo.spec(name), variant: variant, sets: sets.map { ($0, nil) }))
    guard let model else {
        throw LoadFailure(text: diagnostics.map(\.description).joined())
    }
    return model
}

struct LoadFailure: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}
