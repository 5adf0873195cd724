// Seeded, platform-independent weight initialization in the style of torchvision's model
// constructors, for tests and benchmarks that have no trained weights.
//
// Determinism: every tensor gets its own SplitMix64 stream, seeded from (seed, state_dict key),
// so a tensor's values depend only on the seed, its key and its size: not on the order of the
// nodes, on other layers, or on the input resolution. The generator uses integer arithmetic
// and IEEE +, -, *, / and sqrt only (all correctly rounded); the logarithm of the normal
// generator is computed here rather than by the platform's libm, whose last bits differ between
// glibc and Darwin. Same seed → bit-identical weights on every platform.

import IR

public enum Initializer {
    /// Weights for every parameter of `graph`, as torchvision initializes its models:
    /// - conv weight: Kaiming normal, mode fan_out, ReLU gain: N(0, 2 / fan_out) with
    ///   fan_out = out_channels * kh * kw (PyTorch's fan_out of an `[O, I/g, kh, kw]` tensor;
    ///   groups do not enter it);
    /// - conv bias: 0;
    /// - batch norm: weight 1, bias 0, running_mean 0, running_var 1;
    /// - linear weight: U(-1/sqrt(in), 1/sqrt(in)), PyTorch's default `nn.Linear` init (what
    ///   torchvision's ResNet and AlexNet keep; VGG and MobileNetV2 use N(0, 0.01) instead, which
    ///   has a similar scale for their 1000-way classifiers). One rule for every model here;
    /// - linear bias: 0 (as VGG, MobileNet and EfficientNet set it; PyTorch's default would be
    ///   uniform like the weight).
    public static func torchvision(graph: Graph, seed: UInt64) -> Weights {
        var weights = Weights()
        for node in graph.nodes {
            guard let first = node.inputs.first, graph.nodes.indices.contains(first) else { continue }
            let params = node.parameters(inputShape: graph.nodes[first].shape)
            switch node.op {
            case .conv2d(let c):
                let w = params[0]
                let fanOut = c.outChannels * c.kernel.h * c.kernel.w
                let std = (2.0 / Double(fanOut)).squareRoot()
                weights[w.name] = normal(count: w.elementCount, std: std, stream(seed, w.name))
                if c.bias { weights[params[1].name] = zeros(params[1].elementCount) }
            case .linear(let l):
                let w = params[0]
                let bound = 1 / Double(max(w.shape[1], 1)).squareRoot()
                weights[w.name] = uniform(count: w.elementCount, from: -bound, to: bound, stream(seed, w.name))
                if l.bias { weights[params[1].name] = zeros(params[1].elementCount) }
            case .batchNorm:
                let c = params[0].elementCount
                weights[params[0].name] = [Float](repeating: 1, count: c)
                weights[params[1].name] = zeros(c)
                weights[params[2].name] = zeros(c)
                weights[params[3].name] = [Float](repeating: 1, count: c)
            case .input, .activation, .pool2d, .adaptiveAvgPool2d, .flatten, .dropout, .stochasticDepth, .softmax,
                 .add, .concat, .multiply:
                break
            }
        }
        return weights
    }

    /// Replaces the batch norm tensors of `graph` in `w` by non-trivial values, so that tests
    /// exercise BN folding with statistics that matter: running_mean ~ N(0, 0.1²),
    /// running_var ~ U(0.5, 1.5), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1²) (0.1 is the standard
    /// deviation). Other tensors are left alone. Deterministic like `torchvision`, with streams
    /// independent of the ones that made the other weights.
    public static func randomizeBatchNormStatistics(_ w: inout Weights, graph: Graph, seed: UInt64) {
        for node in graph.nodes {
            guard case .batchNorm = node.op, let first = node.inputs.first, graph.nodes.indices.contains(first) else { continue }
            let params = node.parameters(inputShape: graph.nodes[first].shape)
            let c = params[0].elementCount
            let salt = ".bn_statistics"
            w[params[0].name] = uniform(count: c, from: 0.5, to: 1.5, stream(seed, params[0].name + salt))
            w[params[1].name] = normal(count: c, std: 0.1, stream(seed, params[1].name + salt))
            w[params[2].name] = normal(count: c, std: 0.1, stream(seed, params[2].name + salt))
            w[params[3].name] = uniform(count: c, from: 0.5, to: 1.5, stream(seed, params[3].name + salt))
        }
    }

    // MARK: - Tensors

    static func zeros(_ count: Int) -> [Float] { [Float](repeating: 0, count: count) }

    /// `count` values N(0, std²), rounded to Float.
    static func normal(count: Int, std: Double, _ generator: Random) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            var g = generator
            var i = 0
            while i < count {
                let (a, b) = g.normalPair()
                p[i] = Float(std * a)
                if i + 1 < count { p[i + 1] = Float(std * b) }
                i += 2
            }
        }
        return values
    }

    /// `count` values U(lo, hi), rounded to Float.
    static func uniform(count: Int, from lo: Double, to hi: Double, _ generator: Random) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            var g = generator
            let width = hi - lo
            var i = 0
            while i < count {
                p[i] = Float(lo + width * g.uniform())
                i += 1
            }
        }
        return values
    }

    /// The generator of one tensor: seeded from the model seed and the tensor's key.
    static func stream(_ seed: UInt64, _ key: String) -> Random {
        Random(seed: seed ^ Random.mix(fnv1a(key)))
    }

    /// 64-bit FNV-1a of the UTF-8 bytes.
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in s.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    // MARK: - Generator

    /// SplitMix64 (Steele, Lea & Flood, 2014): a 64-bit counter through a bijective mixer.
    /// Integer-only, hence the same stream everywhere. (Seed 0 yields 0xE220A8397B1DCDAF,
    /// 0x6E789E6AA1B965F4, 0x06C45D188009454F, ...)
    public struct Random: RandomNumberGenerator, Sendable {
        public var state: UInt64

        public init(seed: UInt64) { state = seed }

        public mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            return Random.mix(state)
        }

        /// The SplitMix64 output function (a bijection of UInt64).
        static func mix(_ x: UInt64) -> UInt64 {
            var z = x
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }

        /// Uniform in [0, 1) on the grid of 2^-52: the top 52 bits of one output as the mantissa
        /// of a number in [1, 2), minus 1 (exact).
        public mutating func uniform() -> Double {
            Double(bitPattern: 0x3ff0_0000_0000_0000 | (next() >> 12)) - 1
        }

        /// Two independent N(0, 1) values: Marsaglia's polar form of the Box-Muller transform
        /// (no sine or cosine; the logarithm is `Random.log`).
        public mutating func normalPair() -> (Double, Double) {
            while true {
                let u = 2 * uniform() - 1, v = 2 * uniform() - 1
                let s = u * u + v * v
                if s >= 1 || s == 0 { continue }
                let m = (-2 * Random.log(s) / s).squareRoot()
                return (u * m, v * m)
            }
        }

        /// Natural logarithm of a positive, finite, normal Double with +, -, *, / only (error
        /// within 3 ulp), so that it is the same function on every platform.
        /// x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f), f = (m - 1) / (m + 1),
        /// |f| < 0.172, summed as the odd series 2 (f + f³/3 + ... + f²³/23), the next term
        /// being below 2^-56 of the sum.
        public static func log(_ x: Double) -> Double {
            precondition(x >= Double.leastNormalMagnitude && x < Double.infinity, "Random.log expects a positive normal number")
            let bits = x.bitPattern
            var e = Double(bits >> 52) - 1023
            var m = Double(bitPattern: (bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)  // [1, 2)
            if m >= 1.4142135623730951 {
                m *= 0.5
                e += 1
            }
            let f = (m - 1) / (m + 1)
            let f2 = f * f
            // 1/3, 1/5, ..., 1/23 as Double literals (each the nearest Double to the fraction).
            var series = 0.043478260869565216
            series = 0.047619047619047616 + f2 * series
            series = 0.05263157894736842 + f2 * series
            series = 0.058823529411764705 + f2 * series
            series = 0.06666666666666667 + f2 * series
            series = 0.07692307692307693 + f2 * series
            series = 0.09090909090909091 + f2 * series
            series = 0.1111111111111111 + f2 * series
            series = 0.14285714285714285 + f2 * series
            series = 0.2 + f2 * series
            series = 0.3333333333333333 + f2 * series
            let logM = 2 * (f + f * f2 * series)
            // ln 2 split so that e * ln2Hi is exact for |e| < 2^20.
            let ln2Hi = 0.693147180369123816490, ln2Lo = 1.90821492927058770002e-10
            return e * ln2Hi + (logM + e * ln2Lo)
        }
    }
}
