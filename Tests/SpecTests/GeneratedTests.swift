import ModelcCLI
import Testing

/// `Generated/` must be exactly what the compiler prints today, so that every front-end or
/// optimizer change shows up as a reviewable diff. Refresh with `make generated`.
@Suite("Generated outputs")
struct GeneratedTests {
    @Test func generatedFilesAreFresh() {
        let stale = GeneratedArtifacts.stale(specsDirectory: Repo.path("Specs"), outputDirectory: Repo.path("Generated"))
        #expect(stale.isEmpty, "stale files under Generated/ (run `make generated`): \(stale.joined(separator: ", "))")
    }

    @Test func everyShippedSpecAndVariantIsGenerated() {
        let paths = Set(GeneratedArtifacts.render(specsDirectory: Repo.path("Specs")).map(\.path))
        for name in ["alexnet", "vgg16", "lenet5", "mnist_cnn", "mobilenet_v1", "mobilenet_v2",
                     "resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152",
                     "efficientnet-b0", "efficientnet-b7", "efficientnet-compound"] {
            #expect(paths.contains("summary/\(name).txt"), "missing summary/\(name).txt")
            #expect(paths.contains("plan/\(name).txt"), "missing plan/\(name).txt")
        }
    }
}
