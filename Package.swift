// swift-tools-version:6.0
//
// modelc: a compiler for CNN architectures written as YAML.
//
// The folders are the pipeline; every arrow is a one-way dependency:
//   Diagnostics ← YAML ← Spec → IR ← Compiler ← Runtime ← Training ← ModelcCLI ← modelc
//   Kernels (raw-pointer compute) and TensorIO (safetensors, .npy) sit under Runtime.
// The runtime never imports the YAML parser.
//
// Hot code needs the host's vector ISA: without it Swift SIMD lowers FMA to a libm call
// (measured: 0.8 GFLOP/s instead of ~117 GFLOP/s a core). We therefore compile with
// `-Xcc -march=native` (which also sets the Swift target CPU). For a binary that runs on any
// x86-64 machine, build with `MODELC_PORTABLE=1 swift build -c release`.
import PackageDescription
import Foundation

let portable = ProcessInfo.processInfo.environment["MODELC_PORTABLE"] == "1"
let nativeCPU: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-Xcc", "-march=native"])]
let common: [SwiftSetting] = nativeCPU

let package = Package(
    name: "modelc",
    products: [
        .executable(name: "modelc", targets: ["modelc"]),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "Diagnostics", swiftSettings: common),
        .target(name: "YAML", dependencies: ["CYAML", "Diagnostics"], swiftSettings: common),
        .target(name: "IR", dependencies: ["Diagnostics"], swiftSettings: common),
        .target(name: "Spec", dependencies: ["YAML", "IR", "Diagnostics"], swiftSettings: common),
        .target(name: "Compiler", dependencies: ["IR"], swiftSettings: common),
        .target(name: "Kernels", swiftSettings: common + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "TensorIO", swiftSettings: common),
        .target(name: "Runtime", dependencies: ["Compiler", "IR", "Kernels", "TensorIO"], swiftSettings: common),
        .target(name: "Training", dependencies: ["IR", "Compiler", "Runtime", "Kernels", "TensorIO"],
                swiftSettings: common + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "ModelcCLI", dependencies: ["Spec", "IR", "Compiler", "Runtime", "Training", "TensorIO", "Diagnostics"], swiftSettings: common),
        .executableTarget(name: "modelc", dependencies: ["ModelcCLI"], swiftSettings: common),

        .testTarget(name: "YAMLTests", dependencies: ["YAML", "Diagnostics"], swiftSettings: common),
        .testTarget(name: "SpecTests", dependencies: ["Spec", "IR", "Diagnostics", "ModelcCLI"], exclude: ["Fixtures"], swiftSettings: common),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: common),
        .testTarget(name: "TensorIOTests", dependencies: ["TensorIO"], swiftSettings: common),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Runtime", "Compiler", "IR", "Spec", "Kernels", "TensorIO"], exclude: ["Fixtures"], swiftSettings: common),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Compiler", "IR", "Spec", "Kernels", "TensorIO"], swiftSettings: common),
        .testTarget(name: "CLITests", dependencies: ["ModelcCLI", "Runtime", "TensorIO", "IR", "Spec"], swiftSettings: common),
    ],
    swiftLanguageModes: [.v6]
)
