// The GEMM-shaped kernels of training against plain loops in Double: shapes with ragged tiles
// and reduction tails, accumulate on and off, and 1 vs 2 threads bit for bit.

import Foundation
import Testing
@testable import Training

/// Σ_k A[i, k] B[j, k] in Double.
func referenceDot(m: Int, n: Int, k: Int, _ a: [Float], _ b: [Float]) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[j * k + p]) }
            c[i * n + j] = s
        }
    }
    return c
}

@Suite struct TrainingKernelTests {
    @Test(arguments: [(1, 1, 1), (7, 5, 17), (13, 9, 1030), (6, 4, 2048), (64, 10, 128), (3, 130, 40)])
    func dotGemmMatchesPlainSums(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = randomFloats(m * k, seed: 1), b = randomFloats(n * k, seed: 2), c0 = randomFloats(m * n, seed: 3)
        let ref = referenceDot(m: m, n: n, k: k, a, b)
        var outs: [[Float]] = []
        for threads in [1, 2] {
            for accumulate in [false, true] {
                var c = c0
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            dotGemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k,
                                    c: cp.baseAddress!, ldc: n, accumulate: accumulate, threads: threads)
                        }
                    }
                }
                var worst = 0.0
                for i in 0..<(m * n) {
                    let want = ref[i] + (accumulate ? Double(c0[i]) : 0)
                    worst = max(worst, abs(Double(c[i]) - want) / max(1, abs(want)))
                }
                #expect(worst < 1e-5 * Double(max(1, k)).squareRoot(), "m \(m) n \(n) k \(k) accumulate \(accumulate) threads \(threads): \(worst)")
                outs.append(c)
            }
        }
        #expect(outs[0] == outs[2] && outs[1] == outs[3], "thread count changed the result")
    }
}
