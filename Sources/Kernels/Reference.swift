// Reference kernels: the "truth" that optimized kernels (and a reference interpreter) are
// checked against. NCHW (PyTorch layout), plain obvious loops, Double accumulation, arrays in
// and out. Deliberately unoptimized: the only goal is to be evidently correct.

import Foundation

public enum Reference {
    /// Activation of one value in Double (PyTorch definitions).
    public static func activate(_ x: Double, _ act: Activation) -> Double {
        switch act {
        case .none: return x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        case .leakyRelu(let slope): return x >= 0 ? x : Double(slope) * x
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .tanh: return Foundation.tanh(x)
        case .silu: return x / (1 + Foundation.exp(-x))
        case .hardswish: return x * min(max(x + 3, 0), 6) / 6
        case .hardsigmoid: return min(max(x + 3, 0), 6) / 6
        }
    }

    public static func activation(_ x: [Float], _ act: Activation) -> [Float] {
        x.map { Float(activate(Double($0), act)) }
    }

    /// conv2d, NCHW input `[N, Cin, H, W]`, weight OIHW `[Cout, Cin/groups, kH, kW]`, optional
    /// bias `[Cout]`, optional residual `[N, Cout, outH, outW]` added before the activation.
    public static func conv2d(_ x: [Float], _ s: Conv2dShape, weight: [Float], bias: [Float]? = nil,
                              residual: [Float]? = nil, activation: Activation = .none) -> [Float] {
        let oh = s.outHeight, ow = s.outWidth
        let cg = s.inChannels / s.groups, ng = s.outChannels / s.groups
        var y = [Float](repeating: 0, count: s.batch * s.outChannels * oh * ow)
        for n in 0..<s.batch {
            for co in 0..<s.outChannels {
                let g = co / ng
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc = 0.0
                        for ci in 0..<cg {
                            let cin = g * cg + ci
                            for ky in 0..<s.kernelH {
                                let iy = oy * s.strideH - s.padTop + ky * s.dilationH
                                if iy < 0 || iy >= s.inHeight { continue }
                                for kx in 0..<s.kernelW {
                                    let ix = ox * s.strideW - s.padLeft + kx * s.dilationW
                                    if ix < 0 || ix >= s.inWidth { continue }
                                    let xv = x[((n * s.inChannels + cin) * s.inHeight + iy) * s.inWidth + ix]
                                    let wv = weight[((co * cg + ci) * s.kernelH + ky) * s.kernelW + kx]
                                    acc += Double(xv) * Double(wv)
                                }
                            }
                        }
                        let o = ((n * s.outChannels + co) * oh + oy) * ow + ox
                        if let bias { acc += Double(bias[co]) }
                        if let residual { acc += Double(residual[o]) }
                        y[o] = Float(activate(acc, activation))
                    }
                }
            }
        }
        return y
    }

    /// y[b, o] = act(sum_i x[b, i] * W[o, i] + bias[o] (+ residual[b, o])).
    public static func linear(_ x: [Float], batch: Int, inFeatures: Int, weight: [Float], outFeatures: Int,
                              bias: [Float]? = nil, residual: [Float]? = nil, activation: Activation = .none) -> [Float] {
        var y = [Float](repeating: 0, count: batch * outFeatures)
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var acc = 0.0
                for i in 0..<inFeatures { acc += Double(x[b * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                if let bias { acc += Double(bias[o]) }
                if let residual { acc += Double(residual[b * outFeatures + o]) }
                y[b * outFeatures + o] = Float(activate(acc, activation))
            }
        }
        return y
    }

    /// Inference batch norm on `[N, C, H*W]`: (x - mean) / sqrt(var + eps) * gamma + beta.
    public static func batchNorm(_ x: [Float], batch: Int, channels: Int, spatial: Int, gamma: [Float], beta: [Float],
                                 mean: [Float], variance: [Float], epsilon: Float = 1e-5) -> [Float] {
        var y = x
        for n in 0..<batch {
            for c in 0..<channels {
                let inv = 1 / (Double(variance[c]) + Double(epsilon)).squareRoot()
                for i in 0..<spatial {
                    let idx = (n * channels + c) * spatial + i
                    y[idx] = Float((Double(x[idx]) - Double(mean[c])) * inv * Double(gamma[c]) + Double(beta[c]))
                }
            }
        }
        return y
    }

    /// Max pool, NCHW `[N, C, H, W]`; padding never wins (acts as -inf).
    public static func maxPool2d(_ x: [Float], _ s: Pool2dShape) -> [Float] {
        let oh = s.outHeight, ow = s.outWidth
        var y = [Float](repeating: 0, count: s.batch * s.channels * oh * ow)
        for nc in 0..<(s.batch * s.channels) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var m = -Float.infinity
                    for ky in 0..<s.kernelH {
                        let iy = oy * s.strideH - s.padTop + ky * s.dilationH
                        for kx in 0..<s.kernelW {
                            let ix = ox * s.strideW - s.padLeft + kx * s.dilationW
                            if iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth {
                                m = max(m, x[(nc * s.inHeight + iy) * s.inWidth + ix])
                            }
                        }
                    }
                    y[(nc * oh + oy) * ow + ox] = m
                }
            }
        }
        return y
    }

    /// Average pool, NCHW, PyTorch avg_pool2d semantics (see Pool.swift).
    public static func avgPool2d(_ x: [Float], _ s: Pool2dShape) -> [Float] {
        let oh = s.outHeight, ow = s.outWidth
        var y = [Float](repeating: 0, count: s.batch * s.channels * oh * ow)
        for nc in 0..<(s.batch * s.channels) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let hs = oy * s.strideH - s.padTop, ws = ox * s.strideW - s.padLeft
                    let he = min(hs + s.kernelH, s.inHeight + s.padBottom), we = min(ws + s.kernelW, s.inWidth + s.padRight)
                    let poolSize = (he - hs) * (we - ws)
                    var sum = 0.0, count = 0
                    for iy in max(hs, 0)..<max(max(hs, 0), min(he, s.inHeight)) {
                        for ix in max(ws, 0)..<max(max(ws, 0), min(we, s.inWidth)) {
                            sum += Double(x[(nc * s.inHeight + iy) * s.inWidth + ix])
                            count += 1
                        }
                    }
                    y[(nc * oh + oy) * ow + ox] = Float(sum / Double(s.countIncludePad ? poolSize : count))
                }
            }
        }
        return y
    }

    /// Adaptive average pool, NCHW: window [floor(i*H/out), ceil((i+1)*H/out)).
    public static func adaptiveAvgPool2d(_ x: [Float], batch: Int, channels: Int, height: Int, width: Int,
                                         outHeight oh: Int, outWidth ow: Int) -> [Float] {
        var y = [Float](repeating: 0, count: batch * channels * oh * ow)
        for nc in 0..<(batch * channels) {
            for oy in 0..<oh {
                let y0 = oy * height / oh, y1 = ((oy + 1) * height + oh - 1) / oh
                for ox in 0..<ow {
                    let x0 = ox * width / ow, x1 = ((ox + 1) * width + ow - 1) / ow
                    var sum = 0.0
                    for iy in y0..<y1 { for ix in x0..<x1 { sum += Double(x[(nc * height + iy) * width + ix]) } }
                    y[(nc * oh + oy) * ow + ox] = Float(sum / Double((y1 - y0) * (x1 - x0)))
                }
            }
        }
        return y
    }

    /// Elementwise a + b then activation.
    public static func add(_ a: [Float], _ b: [Float], activation: Activation = .none) -> [Float] {
        zip(a, b).map { Float(activate(Double($0) + Double($1), activation)) }
    }

    /// Concatenation along channels of NCHW tensors `[N, C_i, H, W]`.
    public static func concatChannels(_ xs: [[Float]], channels: [Int], batch: Int, spatial: Int) -> [Float] {
        var y: [Float] = []
        for n in 0..<batch {
            for (x, c) in zip(xs, channels) {
                y += x[(n * c * spatial)..<((n + 1) * c * spatial)]
            }
        }
        return y
    }

    /// y[n, c, h, w] = x[n, c, h, w] * g[n, c].
    public static func channelMultiply(_ x: [Float], gate: [Float], batch: Int, channels: Int, spatial: Int) -> [Float] {
        var y = x
        for n in 0..<batch {
            for c in 0..<channels {
                for i in 0..<spatial { y[(n * channels + c) * spatial + i] *= gate[n * channels + c] }
            }
        }
        return y
    }

    /// Softmax over the last axis of `rows x length`.
    public static func softmax(_ x: [Float], rows: Int, length: Int) -> [Float] {
        var y = x
        for r in 0..<rows {
            let row = x[(r * length)..<((r + 1) * length)]
            let m = Double(row.max()!)
            let e = row.map { Foundation.exp(Double($0) - m) }
            let s = e.reduce(0, +)
            for i in 0..<length { y[r * length + i] = Float(e[i] / s) }
        }
        return y
    }
}
