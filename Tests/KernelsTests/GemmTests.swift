import Kernels
import Testing

/// Reference GEMM on row-major arrays with the same epilogue order.
func referenceGemm(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, bias: [Float]?, residual: [Float]?,
                   _ act: Activation) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n {
        var acc = 0.0
        for kk in 0..<k { acc += Double(a[i * k + kk]) * Double(b[kk * n + j]) }
        if let bias { acc += Double(bias[j]) }
        if let residual { acc += Double(residual[i * n + j]) }
        c[i * n + j] = Float(Reference.activate(acc, act))
    } }
    return c
}

func optimizedGemm(_ a: [Float], _ w: PackedWeights, m: Int, residual: [Float]?, _ act: Activation,
                   threads: Int = 1, lda: Int? = nil) -> [Float] {
    let mat = w.matrix
    let k = mat.k, n = mat.n
    return a.withUnsafeBufferPointer { ap in
        (residual ?? []).withUnsafeBufferPointer { rp in
            let ap = SendablePointer(ap.baseAddress!)
            let rp = residual == nil ? nil : SendablePointer(rp.baseAddress!)
            return runSplit(m, threads: threads, outputCount: m * n) { r, c in
                gemm(a: ap.pointer, lda: lda ?? k, weights: mat, c: c, ldc: n, rows: r,
                     epilogue: Epilogue(activation: act, residual: rp?.pointer, residualStride: n))
            }
        }
    }
}

@Suite struct GemmTests {
    /// Every M remainder 1...2*MR+1 against every N remainder 1...2*NR+1.
    @Test(arguments: [1, 3, 16, 37])
    func remainders(k: Int) {
        var rng = SplitMix64(seed: UInt64(k))
        for n in 1...(2 * gemmNR + 1) {
            let b = rng.array(k * n), bias = rng.array(n)
            let w = PackedWeights.matrix(b, k: k, n: n, bias: bias)
            for m in 1...(2 * gemmMR + 1) {
                let a = rng.array(m * k)
                let ref = referenceGemm(a, b, m: m, n: n, k: k, bias: bias, residual: nil, .none)
                let got = optimizedGemm(a, w, m: m, residual: nil, .none)
                let err = relativeError(got, ref)
                #expect(err <= 1e-5, "m=\(m) n=\(n) k=\(k) err=\(err)")
                if err > 1e-5 { return }
            }
        }
    }

    /// Packed weights scaled row by row (a squeeze-excitation gate folded into a 1x1 conv) give
    /// the GEMM of diag(s) · B, bias untouched, for 16- and 32-wide last panels.
    @Test(arguments: [1, 10, 20, 32, 45, 70])
    func scaledRows(n: Int) {
        var rng = SplitMix64(seed: UInt64(100 + n))
        let m = 13, k = 23
        let a = rng.array(m * k), b = rng.array(k * n), bias = rng.array(n), s = rng.array(k)
        let w = PackedWeights.matrix(b, k: k, n: n, bias: bias)
        let scaled = PackedWeights(copying: w.matrix)
        s.withUnsafeBufferPointer { scalePackedRows(w.matrix, by: $0.baseAddress!, into: scaled) }
        var sb = b
        for kk in 0..<k { for j in 0..<n { sb[kk * n + j] *= s[kk] } }
        let ref = referenceGemm(a, sb, m: m, n: n, k: k, bias: bias, residual: nil, .relu)
        #expect(relativeError(optimizedGemm(a, scaled, m: m, residual: nil, .relu), ref) <= 1e-5)
        // The source is unchanged.
        #expect(relativeError(optimizedGemm(a, w, m: m, residual: nil, .none),
                              referenceGemm(a, b, m: m, n: n, k: k, bias: bias, residual: nil, .none)) <= 1e-5)
    }

    /// Bias, residual and every activation on each tile width: n=21 and 56 end in a 24-wide
    /// tile (partial and full), n=24 is one, n=45 ends in a 16-wide tile.
    @Test(arguments: allActivations, [21, 24, 45, 56])
    func epilogue(_ act: Activation, n: Int) {
        var rng = SplitMix64(seed: UInt64(7 + n))
        let m = 19, k = 29
        let a = rng.array(m * k), b = rng.array(k * n), bias = rng.array(n), res = rng.array(m * n)
        let w = PackedWeights.matrix(b, k: k, n: n, bias: bias)
        let ref = referenceGemm(a, b, m: m, n: n, k: k, bias: bias, residual: res, act)
        #expect(relativeError(optimizedGemm(a, w, m: m, residual: res, act), ref) <= 1e-5)
    }

    @Test func largeKAndStridedA() {
        var rng = SplitMix64(seed: 11)
        let m = 21, n = 70, k = 700, lda = 703
        var a = rng.array(m * lda)
        let b = rng.array(k * n)
        let w = PackedWeights.matrix(b, k: k, n: n)
        let dense = (0..<m).flatMap { i in a[(i * lda)..<(i * lda + k)] }
        let ref = referenceGemm(Array(dense), b, m: m, n: n, k: k, bias: nil, residual: nil, .relu)
        #expect(relativeError(optimizedGemm(a, w, m: m, residual: nil, .relu, lda: lda), ref) <= 1e-4)
        a[0] = a[0] // silence "never mutated"
    }

    @Test func threadSplitsAreBitExact() {
        var rng = SplitMix64(seed: 5)
        let m = 53, n = 77, k = 41
        let a = rng.array(m * k), res = rng.array(m * n)
        let w = PackedWeights.matrix(rng.array(k * n), k: k, n: n, bias: rng.array(n))
        let one = optimizedGemm(a, w, m: m, residual: res, .silu, threads: 1)
        let two = optimizedGemm(a, w, m: m, residual: res, .silu, threads: 2)
        #expect(one == two)
        let mat = w.matrix
        let odd = a.withUnsafeBufferPointer { ap in res.withUnsafeBufferPointer { rp in
            runPieces(m, cuts: [3, 4, 13, 30], outputCount: m * n) { r, c in
                gemm(a: ap.baseAddress!, lda: k, weights: mat, c: c, ldc: n, rows: r,
                     epilogue: Epilogue(activation: .silu, residual: rp.baseAddress!, residualStride: n))
            }
        } }
        #expect(one == odd)
        // Splitting columns (panels) instead of rows.
        let byPanels = a.withUnsafeBufferPointer { ap in res.withUnsafeBufferPointer { rp in
            runPieces(mat.panels, cuts: [1, 2], outputCount: m * n) { r, c in
                gemm(a: ap.baseAddress!, lda: k, weights: mat, c: c, ldc: n, rows: 0..<m, panels: r,
                     epilogue: Epilogue(activation: .silu, residual: rp.baseAddress!, residualStride: n))
            }
        } }
        #expect(one == byPanels)
    }

    @Test(arguments: [1, 3])
    func linearLayer(batch: Int) {
        var rng = SplitMix64(seed: 99)
        let inF = 37, outF = 50
        let x = rng.array(batch * inF), wt = rng.array(outF * inF), bias = rng.array(outF)
        let w = PackedWeights.linear(wt, outFeatures: outF, inFeatures: inF, bias: bias)
        let ref = Reference.linear(x, batch: batch, inFeatures: inF, weight: wt, outFeatures: outF, bias: bias, activation: .hardswish)
        let mat = w.matrix
        let got = x.withUnsafeBufferPointer { xp in
            runPieces(batch, cuts: [], outputCount: batch * outF) { r, y in
                linear(input: xp.baseAddress!, weights: mat, output: y, rows: r, epilogue: Epilogue(activation: .hardswish))
            }
        }
        #expect(relativeError(got, ref) <= 1e-5)
    }
}
