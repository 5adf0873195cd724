// Seeded torchvision-style initialization: determinism, distributions, BN defaults, and the
// platform-independent generator underneath.

import Foundation
import IR
import Runtime
import Testing

/// Mean and (population) standard deviation in Double.
func refMoments(_ v: [Float]) -> (mean: Double, std: Double) {
    let n = Double(v.count)
    let mean = v.reduce(0.0) { $0 + Double($1) } / n
    let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot())
}

func refBits(_ w: Weights) -> [String: [UInt32]] { w.tensors.mapValues { $0.map(\.bitPattern) } }

@Suite("Initializer")
struct InitializerTests {
    /// A graph with one of each parameterized layer kind, big enough for statistics.
    static func sampleGraph() -> Graph {
        var b = RefGraphBuilder(input: [64, 8, 8])
        b.add(.conv2d(Conv2D(outChannels: 512, kernel: Size2(square: 3), padding: Padding(symmetric: Size2(square: 1)))), name: "features.conv")
        b.add(.batchNorm(BatchNorm()), name: "features.bn")
        b.add(.conv2d(Conv2D(outChannels: 256, kernel: Size2(square: 3), groups: 4, bias: false)), name: "features.grouped")
        b.add(.conv2d(Conv2D(outChannels: 256, kernel: Size2(square: 3), groups: 256, bias: false)), name: "features.depthwise")
        b.add(.adaptiveAvgPool2d(outputHeight: 1, outputWidth: 1))
        b.add(.flatten)
        b.add(.linear(Linear(outFeatures: 1000)), name: "classifier")
        return b.graph
    }

    @Test("SplitMix64 reproduces the published stream for seed 0") func splitMixVectors() {
        var g = Initializer.Random(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("the portable logarithm agrees with libm to 3 ulp") func portableLog() {
        var g = Initializer.Random(seed: 1)
        var xs: [Double] = [1, 2, 0.5, 1.4142135623730951, 1.414213562373095, 0x1p-60, 0.999999, 1.000001, 3, 10, 1e-300, 1e300]
        for _ in 0..<20_000 { xs.append(g.uniform() + 0x1p-53) }
        for _ in 0..<2000 { xs.append(Double(sign: .plus, exponent: Int(g.next() % 200) - 100, significand: 1 + g.uniform())) }
        for x in xs {
            let a = Initializer.Random.log(x), b = Foundation.log(x)
            #expect(abs(a - b) <= 3 * max(b.ulp, Double.leastNormalMagnitude), "log(\(x)) = \(a), libm \(b)")
        }
        #expect(Initializer.Random.log(1) == 0)
    }

    @Test("normal and uniform generators have the right moments") func generatorMoments() {
        var g = Initializer.Random(seed: 2)
        var normals: [Float] = [], uniforms: [Float] = []
        for _ in 0..<100_000 {
            let (a, b) = g.normalPair()
            normals += [Float(a), Float(b)]
            uniforms.append(Float(g.uniform()))
        }
        let n = refMoments(normals), u = refMoments(uniforms)
        #expect(abs(n.mean) < 0.01 && abs(n.std - 1) < 0.01)
        // Fourth moment of a standard normal is 3 (a uniform-sum approximation would miss it).
        let kurtosis = normals.reduce(0.0) { $0 + pow(Double($1), 4) } / Double(normals.count)
        #expect(abs(kurtosis - 3) < 0.1)
        #expect(abs(u.mean - 0.5) < 0.005 && abs(u.std - (1.0 / 12).squareRoot()) < 0.005)
        #expect(uniforms.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("golden values pin the stream on every platform") func golden() {
        let w = Initializer.torchvision(graph: Self.sampleGraph(), seed: 2024)
        let conv = w["features.conv.weight"]!, fc = w["classifier.weight"]!
        #expect(Array(conv.prefix(4)).map(\.bitPattern) == Self.goldenConv)
        #expect(Array(fc.prefix(4)).map(\.bitPattern) == Self.goldenLinear)
    }

    static let goldenConv: [UInt32] = [3162250603, 3159163630, 3155045798, 1006729337]
    static let goldenLinear: [UInt32] = [3114842672, 3154559034, 1007282191, 3147188072]

    @Test("same seed gives bit-identical weights; another seed different ones") func determinism() {
        let graph = Self.sampleGraph()
        let a = Initializer.torchvision(graph: graph, seed: 7), b = Initializer.torchvision(graph: graph, seed: 7)
        let c = Initializer.torchvision(graph: graph, seed: 8)
        #expect(refBits(a) == refBits(b))
        for key in ["features.conv.weight", "features.grouped.weight", "features.depthwise.weight", "classifier.weight"] {
            #expect(a[key]! != c[key]!, "\(key) did not change with the seed")
        }
        // Different tensors of one model get different streams.
        #expect(Array(a["features.grouped.weight"]!.prefix(100)) != Array(a["features.depthwise.weight"]!.prefix(100)))

        var sa = a, sb = a, sc = a
        Initializer.randomizeBatchNormStatistics(&sa, graph: graph, seed: 1)
        Initializer.randomizeBatchNormStatistics(&sb, graph: graph, seed: 1)
        Initializer.randomizeBatchNormStatistics(&sc, graph: graph, seed: 2)
        #expect(refBits(sa) == refBits(sb))
        #expect(sa["features.bn.running_var"]! != sc["features.bn.running_var"]!)
    }

    @Test("a tensor's values depend only on seed, key and size, not on the rest of the model") func keyedStreams() throws {
        let small = try refLoadYAML("""
            input: {channels: 3, height: 8, width: 8}
            layers:
              - {conv2d: 4, kernel: 3, name: stem}
              - global_avg_pool
              - flatten
              - {linear: 5, name: fc}
            """)
        let other = try refLoadYAML("""
            input: {channels: 3, height: 16, width: 16}
            layers:
              - {conv2d: 8, kernel: 1, name: extra}
              - {conv2d: 4, kernel: 3, name: stem, from: input}
              - {max_pool2d: 2}
              - global_avg_pool
              - flatten
              - {linear: 5, name: fc}
            """)
        let a = Initializer.torchvision(graph: small, seed: 99), b = Initializer.torchvision(graph: other, seed: 99)
        #expect(a["stem.weight"]! == b["stem.weight"]!)
        #expect(a["fc.weight"]! == b["fc.weight"]!)
    }

    @Test("conv weights are Kaiming normal with fan_out = out_channels * kh * kw (groups do not enter)") func kaiming() {
        let graph = Self.sampleGraph()
        let w = Initializer.torchvision(graph: graph, seed: 3)
        #expect(weightsFit(w, graph))
        // [512, 64, 3, 3]: 295k values; [256, 16, 3, 3] grouped; [256, 1, 3, 3] depthwise.
        for (key, fanOut) in [("features.conv.weight", 512 * 9), ("features.grouped.weight", 256 * 9), ("features.depthwise.weight", 256 * 9)] {
            let m = refMoments(w[key]!)
            let expected = (2.0 / Double(fanOut)).squareRoot()
            #expect(abs(m.std / expected - 1) < 0.05, "\(key): std \(m.std), expected \(expected)")
            #expect(abs(m.mean) < 0.1 * expected)
        }
        #expect(w["features.conv.bias"]!.allSatisfy { $0 == 0 })
    }

    @Test("batch norm defaults are exact; linear is U(-1/sqrt(in), 1/sqrt(in)) with zero bias") func defaults() {
        let w = Initializer.torchvision(graph: Self.sampleGraph(), seed: 4)
        #expect(w["features.bn.weight"]! == [Float](repeating: 1, count: 512))
        #expect(w["features.bn.bias"]! == [Float](repeating: 0, count: 512))
        #expect(w["features.bn.running_mean"]! == [Float](repeating: 0, count: 512))
        #expect(w["features.bn.running_var"]! == [Float](repeating: 1, count: 512))
        let fc = w["classifier.weight"]!
        #expect(fc.count == 1000 * 256)
        let bound = Float(1 / 256.0.squareRoot())
        #expect(fc.allSatisfy { abs($0) <= bound })
        let m = refMoments(fc)
        #expect(abs(m.std / (Double(bound) / 3.0.squareRoot()) - 1) < 0.02)
        #expect(fc.max()! > 0.99 * bound && fc.min()! < -0.99 * bound)
        #expect(w["classifier.bias"]! == [Float](repeating: 0, count: 1000))
    }

    @Test("randomized BN statistics: ranges, moments, and nothing else touched") func randomizedStatistics() {
        let graph = Self.sampleGraph()
        let base = Initializer.torchvision(graph: graph, seed: 5)
        var w = base
        Initializer.randomizeBatchNormStatistics(&w, graph: graph, seed: 6)
        #expect(weightsFit(w, graph))
        let gamma = w["features.bn.weight"]!, beta = w["features.bn.bias"]!
        let mean = w["features.bn.running_mean"]!, variance = w["features.bn.running_var"]!
        #expect(gamma.allSatisfy { $0 >= 0.5 && $0 <= 1.5 })
        #expect(variance.allSatisfy { $0 >= 0.5 && $0 <= 1.5 })
        #expect(abs(refMoments(variance).mean - 1) < 0.05 && abs(refMoments(gamma).mean - 1) < 0.05)
        for v in [beta, mean] {
            let m = refMoments(v)
            #expect(abs(m.mean) < 0.02 && abs(m.std - 0.1) < 0.015)
        }
        #expect(beta != mean && gamma != variance)
        for key in base.tensors.keys where !key.hasPrefix("features.bn.") {
            #expect(w[key]! == base[key]!, "\(key) changed")
        }
    }

    func weightsFit(_ w: Weights, _ graph: Graph) -> Bool { w.mismatches(for: graph).isEmpty }
}
