// Weight prepacking.
//
// The GEMM microkernels read B (weights) as panels of `gemmNR` (32) output columns: for each
// reduction index k, 32 consecutive floats, so each k step is two aligned SIMD16 loads. Weights
// arrive in PyTorch layout (linear [out, in], conv OIHW) and are rearranged once, at plan time,
// into such panels. The last panel of a group is 16 wide when at most 16 columns remain (the
// microkernel then runs its 1-vector variant), otherwise 32 wide with zero padding. Bias is
// copied into a zero-padded array with the same panel geometry so the epilogue never needs a
// partial load.
//
// Conv reduction order is k = tap * Cin_per_group + ci with tap = ky * kW + kx, matching the
// indirection buffer (one pointer per tap to Cin contiguous NHWC channels).

/// Column width of a packed panel (two SIMD16 vectors).
public let gemmNR = 32
/// Rows of the register tile.
public let gemmMR = 8

/// A raw view of packed GEMM weights that a kernel call receives. Valid while the owning
/// `PackedWeights` is alive.
public struct PackedMatrix: @unchecked Sendable {
    /// Start of the panels: group g, panel p begins at `data + (g * panels + p) * k * 32`.
    public let data: UnsafePointer<Float>
    /// Zero-padded bias: group g, panel p has 32 entries at `bias + (g * panels + p) * 32`.
    public let bias: UnsafePointer<Float>
    /// Reduction length per group (in features, or kH * kW * Cin/groups).
    public let k: Int
    /// Output columns per group (out features, or Cout/groups).
    public let n: Int
    public let groups: Int

    /// Panels per group.
    @inline(__always) public var panels: Int { (n + gemmNR - 1) / gemmNR }

    /// Packed panel `p` of group `g`.
    @inline(__always)
    func panel(_ g: Int, _ p: Int) -> UnsafePointer<Float> { data + (g * panels + p) * k * gemmNR }

    @inline(__always)
    func panelBias(_ g: Int, _ p: Int) -> UnsafePointer<Float> { bias + (g * panels + p) * gemmNR }

    /// Valid columns in panel `p` (32 except possibly the last).
    @inline(__always)
    func columns(_ p: Int) -> Int { min(gemmNR, n - p * gemmNR) }
}

/// Owner of packed GEMM/conv weights (64-byte aligned). Keep it alive as long as any
/// `PackedMatrix` view of it is used.
public final class PackedWeights: @unchecked Sendable {
    public let matrix: PackedMatrix
    private let storage: UnsafeMutableRawPointer

    /// Packs B given elementwise: `element(g, k, n)` is B[k][n] of group g.
    /// Runs once at plan time, so the closure cost does not matter.
    public init(k: Int, n: Int, groups: Int = 1, bias: UnsafePointer<Float>?,
                element: (Int, Int, Int) -> Float) {
        precondition(k >= 1 && n >= 1 && groups >= 1)
        let panels = (n + gemmNR - 1) / gemmNR
        let dataCount = groups * panels * k * gemmNR
        let biasCount = groups * panels * gemmNR
        storage = UnsafeMutableRawPointer.allocate(byteCount: (dataCount + biasCount) * 4, alignment: 64)
        let data = storage.bindMemory(to: Float.self, capacity: dataCount + biasCount)
        data.initialize(repeating: 0, count: dataCount + biasCount)
        let b = data + dataCount
        for g in 0..<groups {
            for p in 0..<panels {
                let cols = min(gemmNR, n - p * gemmNR)
                let width = cols <= 16 ? 16 : gemmNR
                let dst = data + (g * panels + p) * k * gemmNR
                for kk in 0..<k {
                    for j in 0..<cols { dst[kk * width + j] = element(g, kk, p * gemmNR + j) }
                }
                if let bias {
                    for j in 0..<cols { b[(g * panels + p) * gemmNR + j] = bias[g * n + p * gemmNR + j] }
                }
            }
        }
        matrix = PackedMatrix(data: UnsafePointer(data), bias: UnsafePointer(b), k: k, n: n, groups: groups)
    }

    /// A copy of `source` (panels and bias) with its own storage: the destination of
    /// `scalePackedRows`.
    public init(copying source: PackedMatrix) {
        let count = source.groups * source.panels * (source.k + 1) * gemmNR
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
        let data = storage.bindMemory(to: Float.self, capacity: count)
        let dataCount = source.groups * source.panels * source.k * gemmNR
        data.initialize(from: source.data, count: dataCount)
        (data + dataCount).initialize(from: source.bias, count: count - dataCount)
        matrix = PackedMatrix(data: UnsafePointer(data), bias: UnsafePointer(data + dataCount), k: source.k, n: source.n, groups: source.groups)
    }

    deinit { storage.deallocate() }

    /// Plain GEMM B given row-major `[k, n]`.
    public static func matrix(_ b: UnsafePointer<Float>, k: Int, n: Int, bias: UnsafePointer<Float>? = nil) -> PackedWeights {
        PackedWeights(k: k, n: n, bias: bias) { _, kk, j in b[kk * n + j] }
    }

    /// Linear layer weight in PyTorch layout `[out, in]` (y = x W^T + b).
    public static func linear(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int,
                              bias: UnsafePointer<Float>? = nil) -> PackedWeights {
        PackedWeights(k: inFeatures, n: outFeatures, bias: bias) { _, kk, j in weight[j * inFeatures + kk] }
    }

    /// Conv weight in PyTorch layout OIHW `[Cout, Cin/groups, kH, kW]`; bias `[Cout]`.
    public static func conv(_ weight: UnsafePointer<Float>, outChannels: Int, inChannelsPerGroup cg: Int,
                            kernelH: Int, kernelW: Int, groups: Int = 1,
                            bias: UnsafePointer<Float>? = nil) -> PackedWeights {
        precondition(outChannels % groups == 0)
        let ng = outChannels / groups
        return PackedWeights(k: kernelH * kernelW * cg, n: ng, groups: groups, bias: bias) { g, kk, j in
            let tap = kk / cg, ci = kk % cg
            let ky = tap / kernelW, kx = tap % kernelW
            let co = g * ng + j
            return weight[((co * cg + ci) * kernelH + ky) * kernelW + kx]
        }
    }
}

/// B' = diag(scale) · B on packed weights: row k of every panel of `source` (one group) times
/// `scale[k]`, written into `destination`, which must have the same geometry (made with
/// `PackedWeights(copying: source)`; its bias is left as is). A squeeze-excitation gate folded
/// into the following 1x1 conv scales that conv's weights this way, once per image.
public func scalePackedRows(_ source: PackedMatrix, by scale: UnsafePointer<Float>, into destination: PackedWeights) {
    let d = destination.matrix
    precondition(source.groups == 1 && d.groups == 1 && d.k == source.k && d.n == source.n)
    let out = UnsafeMutablePointer(mutating: d.data)
    for p in 0..<source.panels {
        let src = source.panel(0, p), dst = out + p * source.k * gemmNR
        if source.columns(p) <= 16 {
            for kk in 0..<source.k {
                store16(load16(src + kk * 16) * SIMD16<Float>(repeating: scale[kk]), dst + kk * 16)
            }
        } else {
            for kk in 0..<source.k {
                let s = SIMD16<Float>(repeating: scale[kk])
                store16(load16(src + kk * 32) * s, dst + kk * 32)
                store16(load16(src + kk * 32 + 16) * s, dst + kk * 32 + 16)
            }
        }
    }
}

/// Raw view of packed depthwise weights: `[kH * kW][C]` taps-major so each tap's weights for
/// 16 channels are one vector load; bias `[C]` (zeros when absent).
public struct PackedDepthwise: @unchecked Sendable {
    public let weights: UnsafePointer<Float>
    public let bias: UnsafePointer<Float>
    public let channels: Int
    public let kernelH: Int
    public let kernelW: Int
}

/// Owner of packed depthwise weights.
public final class PackedDepthwiseWeights: @unchecked Sendable {
    public let packed: PackedDepthwise
    private let storage: UnsafeMutablePointer<Float>

    /// `weight` is PyTorch OIHW `[C, 1, kH, kW]` (channel multiplier 1), `bias` is `[C]`.
    public init(_ weight: UnsafePointer<Float>, channels c: Int, kernelH: Int, kernelW: Int,
                bias: UnsafePointer<Float>? = nil) {
        let taps = kernelH * kernelW
        storage = .allocate(capacity: taps * c + c)
        for ch in 0..<c {
            for t in 0..<taps { storage[t * c + ch] = weight[ch * taps + t] }
            storage[taps * c + ch] = bias?[ch] ?? 0
        }
        packed = PackedDepthwise(weights: UnsafePointer(storage), bias: UnsafePointer(storage + taps * c),
                                 channels: c, kernelH: kernelH, kernelW: kernelW)
    }

    deinit { storage.deallocate() }
}
