// NHWC convolution (groups >= 1) on top of the GEMM microkernels.
//
// - 1x1, stride 1, no padding: the activation already is the A matrix (row = pixel, row
//   stride = pixel stride), so it goes straight to `gemm`.
// - Everything else: indirect GEMM. An indirection buffer holds, for every output pixel and
//   kernel tap, a pointer to the input pixel the tap reads (channel 0), or to a zero vector for
//   padding taps. It is built once per (input pointer, shape) at plan time, so a steady-state
//   run allocates nothing and never materializes an im2col matrix.
// - Grouped: per group, the same indirection buffer with an input channel offset of g * Cg
//   (zero-vector pointers are left alone) and output/residual column offset g * Cout_g, using
//   the group's packed weights. Strided views make this free.
//
// The unit of work is the output pixel (batch folded in: pixel = (n * outH + oy) * outW + ox),
// so a runtime splits `0..<shape.outputPixels` over threads; results do not depend on the split.

/// Geometry of a 2D convolution (PyTorch semantics; asymmetric padding allowed).
public struct Conv2dShape: Sendable, Hashable {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var dilationH: Int
    public var dilationW: Int
    public var groups: Int

    public init(batch: Int = 1, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1) {
        self.batch = batch; self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.outChannels = outChannels; self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW; self.groups = groups
    }

    public var outHeight: Int { (inHeight + padTop + padBottom - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    public var outWidth: Int { (inWidth + padLeft + padRight - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    /// Work items of `conv2d`: batch * outHeight * outWidth.
    public var outputPixels: Int { batch * outHeight * outWidth }
    public var taps: Int { kernelH * kernelW }
    public var inChannelsPerGroup: Int { inChannels / groups }
    public var outChannelsPerGroup: Int { outChannels / groups }
    /// True when the conv is a plain GEMM on the activation (no indirection buffer needed).
    public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }
    /// Multiply-adds * 2.
    public var flops: Double {
        2.0 * Double(outputPixels) * Double(outChannels) * Double(inChannelsPerGroup * taps)
    }
}

/// Raw view of an indirection buffer, passed to `conv2d`.
public struct ConvIndirection: @unchecked Sendable {
    /// `outputPixels * taps` pointers; pixel p, tap t at index `p * taps + t`.
    public let pointers: UnsafePointer<UnsafePointer<Float>>
    /// The zero vector padding taps point at (at least Cin/groups floats).
    public let zero: UnsafePointer<Float>
    /// The input tensor the pointers were built for.
    public let input: UnsafePointer<Float>
}

/// Owner of an indirection buffer for one (input pointer, shape, input pixel stride).
public final class ConvIndirectionBuffer: @unchecked Sendable {
    public let shape: Conv2dShape
    public let view: ConvIndirection
    private let pointers: UnsafeMutablePointer<UnsafePointer<Float>>
    private let zero: UnsafeMutablePointer<Float>

    /// Builds the buffer. `inputPixelStride` (default `inChannels`) is the float distance between
    /// consecutive input pixels, which lets the input be a channel slice of a wider tensor.
    public init(shape s: Conv2dShape, input: UnsafePointer<Float>, inputPixelStride: Int? = nil) {
        let stride = inputPixelStride ?? s.inChannels
        shape = s
        let zeroCount = max(16, s.inChannelsPerGroup)
        zero = .allocate(capacity: zeroCount)
        zero.initialize(repeating: 0, count: zeroCount)
        let z = UnsafePointer(zero)
        let oh = s.outHeight, ow = s.outWidth, taps = s.taps
        pointers = .allocate(capacity: max(1, s.outputPixels * taps))
        var idx = 0
        for n in 0..<s.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<s.kernelH {
                        let iy = oy * s.strideH - s.padTop + ky * s.dilationH
                        for kx in 0..<s.kernelW {
                            let ix = ox * s.strideW - s.padLeft + kx * s.dilationW
                            if iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth {
                                pointers[idx] = input + ((n * s.inHeight + iy) * s.inWidth + ix) * stride
                            } else {
                                pointers[idx] = z
                            }
                            idx += 1
                        }
                    }
                }
            }
        }
        view = ConvIndirection(pointers: UnsafePointer(pointers), zero: z, input: input)
    }

    deinit {
        pointers.deallocate()
        zero.deallocate()
    }
}

/// NHWC convolution of output pixels `pixels` (a sub-range of `0..<shape.outputPixels`).
///
/// - input: NHWC, pixel stride `inputPixelStride` (default Cin). Unused when an indirection
///   buffer is given (it already holds the input pointers) except for pointwise convs.
/// - indirection: required unless `shape.isPointwise`; built for this very input tensor.
/// - weights: `PackedWeights.conv(...)` of this shape.
/// - output: NHWC, pixel stride `outputPixelStride` (default Cout), so a conv can write its
///   channels straight into a slice of a concat buffer.
/// - epilogue: bias comes from `weights`; the residual is NHWC with its own pixel stride.
/// - pixels: any split gives bit-identical output; splitting on multiples of `gemmMR`
///   (`parallelFor(..., alignment: gemmMR)`) avoids ragged row tiles inside a range.
/// - panels: the 32-wide output-channel panels to compute (default all; groups == 1 only).
///   Splitting panels over threads instead of pixels balances small images (7x7 = 49 pixels
///   are 6 full row tiles and a 1-row one) and gives each thread half the weights to read.
public func conv2d(shape s: Conv2dShape, input: UnsafePointer<Float>, inputPixelStride: Int? = nil,
                   indirection: ConvIndirection?, weights: PackedMatrix,
                   output: UnsafeMutablePointer<Float>, outputPixelStride: Int? = nil,
                   pixels: Range<Int>, panels: Range<Int>? = nil, epilogue: Epilogue = Epilogue()) {
    let cg = s.inChannelsPerGroup, ng = s.outChannelsPerGroup
    precondition(weights.groups == s.groups && weights.n == ng && weights.k == cg * s.taps,
                 "packed weights do not match the conv shape")
    precondition(panels == nil || s.groups == 1, "a panel range needs an ungrouped conv")
    let inStride = inputPixelStride ?? s.inChannels
    let outStride = outputPixelStride ?? s.outChannels
    for g in 0..<s.groups {
        var e = epilogue
        e.residual = epilogue.residual.map { $0 + g * ng }
        if s.isPointwise {
            gemm(a: input + g * cg, lda: inStride, weights: weights, group: g,
                 c: output + g * ng, ldc: outStride, rows: pixels, panels: panels, epilogue: e)
        } else {
            guard let ind = indirection else { preconditionFailure("conv2d needs an indirection buffer") }
            igemm(indirection: ind.pointers, taps: s.taps, offset: g * cg, zero: ind.zero, weights: weights,
                  group: g, c: output + g * ng, ldc: outStride, rows: pixels, panels: panels, epilogue: e)
        }
    }
}
