import Foundation
import Kernels
import Testing

@Suite struct ActivationTests {
    /// Dense sweep over [-20, 20] plus extremes; per-value relative error (floor 1e-30).
    @Test(arguments: allActivations)
    func vectorActivationMatchesReference(_ act: Activation) {
        var xs: [Float] = stride(from: -20.0, through: 20.0, by: 0.003).map { Float($0) }
        xs += [0, -0.0, 1e-8, -1e-8, 1e-3, -1e-3, 0.39999, 0.40001, -0.4, 50, -50, 88, -88, 100, -100, 3, -3]
        let out = xs.map { activate($0, act) }
        var worst = 0.0
        for (x, y) in zip(xs, out) {
            let r = Reference.activate(Double(x), act)
            let err = abs(Double(y) - r) / max(abs(r), 1e-6)
            worst = max(worst, err)
        }
        #expect(worst <= 1e-5, "\(act): worst relative error \(worst)")
    }

    @Test func expAccuracy() {
        var worst = 0.0
        for x in stride(from: -87.0, through: 88.0, by: 0.01) {
            let y = exp16(SIMD16<Float>(repeating: Float(x)))[0]
            let r = Foundation.exp(Double(Float(x)))
            worst = max(worst, abs(Double(y) - r) / r)
        }
        #expect(worst < 4e-7, "exp16 worst relative error \(worst)")
        #expect(exp16(SIMD16<Float>(repeating: -100))[0] == 0)
        #expect(exp16(SIMD16<Float>(repeating: 0))[0] == 1)
    }
}
