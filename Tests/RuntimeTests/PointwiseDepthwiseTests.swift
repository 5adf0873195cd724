import Kernels
@testable import Runtime
import Testing

/// The fused pointwise + depthwise step against the two steps it replaces, bit for bit: the
/// band logic (clipping at the image edges, rows kept from the previous band, bands that cross
/// thread chunks and images) must not change a single value.
@Suite("Fused pointwise + depthwise")
struct PointwiseDepthwiseTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kernel: Int, stride: Int, pad: Int, dilation = 1
        var height: Int, width: Int, inChannels: Int, expanded: Int
        var batch: Int, bandBytes: Int
        var testDescription: String {
            "\(kernel)x\(kernel)/\(stride) pad \(pad) dil \(dilation), \(height)x\(width)x\(inChannels)->\(expanded), batch \(batch), band \(bandBytes) B"
        }
    }

    static let cases: [Case] = [
        Case(kernel: 3, stride: 1, pad: 1, height: 13, width: 11, inChannels: 5, expanded: 24, batch: 2, bandBytes: 1),
        Case(kernel: 3, stride: 2, pad: 1, height: 14, width: 9, inChannels: 8, expanded: 40, batch: 3, bandBytes: 1),
        Case(kernel: 5, stride: 2, pad: 2, height: 17, width: 15, inChannels: 16, expanded: 33, batch: 2, bandBytes: 7 * 15 * 33 * 4),
        Case(kernel: 5, stride: 1, pad: 2, height: 12, width: 20, inChannels: 7, expanded: 64, batch: 1, bandBytes: 9 * 20 * 64 * 4),
        Case(kernel: 3, stride: 1, pad: 2, dilation: 2, height: 10, width: 10, inChannels: 4, expanded: 17, batch: 2, bandBytes: 1),
        Case(kernel: 3, stride: 1, pad: 0, height: 9, width: 8, inChannels: 3, expanded: 16, batch: 2, bandBytes: 1 << 20),
    ]

    @Test(arguments: cases, [1, 2])
    func matchesTwoSteps(_ c: Case, threads: Int) {
        var rng = TestRNG(seed: UInt64(c.height * 131 + c.expanded))
        let x = rng.floats(c.batch * c.height * c.width * c.inChannels)
        let pwW = rng.floats(c.expanded * c.inChannels, scale: 0.5), pwB = rng.floats(c.expanded)
        let dwW = rng.floats(c.expanded * c.kernel * c.kernel, scale: 0.5), dwB = rng.floats(c.expanded)
        let pw = pwW.withUnsafeBufferPointer { w in pwB.withUnsafeBufferPointer { b in
            PackedWeights.conv(w.baseAddress!, outChannels: c.expanded, inChannelsPerGroup: c.inChannels, kernelH: 1, kernelW: 1, bias: b.baseAddress!) } }
        let dw = dwW.withUnsafeBufferPointer { w in dwB.withUnsafeBufferPointer { b in
            PackedDepthwiseWeights(w.baseAddress!, channels: c.expanded, kernelH: c.kernel, kernelW: c.kernel, bias: b.baseAddress!) } }
        let shape = Conv2dShape(batch: c.batch, inChannels: c.expanded, inHeight: c.height, inWidth: c.width, outChannels: c.expanded,
                                kernelH: c.kernel, kernelW: c.kernel, strideH: c.stride, strideW: c.stride,
                                padTop: c.pad, padLeft: c.pad, padBottom: c.pad, padRight: c.pad,
                                dilationH: c.dilation, dilationW: c.dilation, groups: c.expanded)
        let pixels = c.batch * c.height * c.width
        // Unfused: the expansion as a whole tensor, then the depthwise conv.
        var expanded = [Float](repeating: 0, count: pixels * c.expanded)
        var expected = [Float](repeating: 0, count: shape.outputPixels * c.expanded)
        x.withUnsafeBufferPointer { xp in
            expanded.withUnsafeMutableBufferPointer { e in
                gemm(a: xp.baseAddress!, lda: c.inChannels, weights: pw.matrix, c: e.baseAddress!, ldc: c.expanded, rows: 0..<pixels,
                     epilogue: Epilogue(activation: .silu))
            }
        }
        expanded.withUnsafeBufferPointer { e in
            expected.withUnsafeMutableBufferPointer { y in
                depthwiseConv2d(shape: shape, input: e.baseAddress!, weights: dw.packed, output: y.baseAddress!,
                                pixels: 0..<shape.outputPixels, epilogue: Epilogue(activation: .relu6))
            }
        }
        // Fused.
        var actual = [Float](repeating: .nan, count: expected.count)
        x.withUnsafeBufferPointer { xp in
            actual.withUnsafeMutableBufferPointer { y in
                let step = PointwiseDepthwiseStep(shape: shape, inputChannels: c.inChannels, input: xp.baseAddress!, pointwise: pw,
                                                  pointwiseActivation: .silu, depthwise: dw, output: y.baseAddress!,
                                                  epilogue: Epilogue(activation: .relu6), threads: threads, bandBytes: c.bandBytes)
                step.run(threads: threads)
                #expect(step.bandRows >= 1 && step.bandRows <= shape.outHeight)
            }
        }
        #expect(actual == expected)
    }
}

/// The runtime's own SplitMix64 (`Initializer.Random`), with test floats in [-scale, scale).
typealias TestRNG = Initializer.Random

extension Initializer.Random {
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) * scale }
    }
}
