// Pooling, NHWC, vectorized over channels (SIMD16 lanes = 16 channels of one pixel).
//
// Window arithmetic follows PyTorch exactly (aten/src/ATen/native/Pool.h and the CPU kernels):
// - output size: floor or ceil of (in + padBefore + padAfter - dilation*(k-1) - 1) / stride + 1,
//   and with ceil_mode the last window must start inside the input or the leading padding;
// - max pool ignores padding; avg pool's divisor counts padding (count_include_pad, default)
//   but never the part of a ceil-mode window beyond the trailing padding;
// - adaptive avg pool: window [floor(i*in/out), ceil((i+1)*in/out)).
// Work items are output pixels (batch folded in), so a runtime splits `0..<outputPixels`.

/// Geometry of a 2D max/avg pool (PyTorch semantics; asymmetric padding allowed).
public struct Pool2dShape: Sendable, Hashable {
    public var batch: Int
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    /// Max pool only (PyTorch avg pool has no dilation).
    public var dilationH: Int
    public var dilationW: Int
    public var ceilMode: Bool
    /// Avg pool only.
    public var countIncludePad: Bool

    public init(batch: Int = 1, channels: Int, inHeight: Int, inWidth: Int, kernelH: Int, kernelW: Int,
                strideH: Int, strideW: Int, padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0,
                padRight: Int = 0, dilationH: Int = 1, dilationW: Int = 1, ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        self.batch = batch; self.channels = channels; self.inHeight = inHeight; self.inWidth = inWidth
        self.kernelH = kernelH; self.kernelW = kernelW; self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW
        self.ceilMode = ceilMode; self.countIncludePad = countIncludePad
    }

    /// PyTorch's pooling_output_shape_pad_lr.
    static func outSize(_ input: Int, _ k: Int, _ padL: Int, _ padR: Int, _ stride: Int, _ dil: Int, _ ceil: Bool) -> Int {
        let num = input + padL + padR - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0)
        var out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1
        if ceil && (out - 1) * stride >= input + padL { out -= 1 }
        return out
    }

    public var outHeight: Int { Pool2dShape.outSize(inHeight, kernelH, padTop, padBottom, strideH, dilationH, ceilMode) }
    public var outWidth: Int { Pool2dShape.outSize(inWidth, kernelW, padLeft, padRight, strideW, dilationW, ceilMode) }
    public var outputPixels: Int { batch * outHeight * outWidth }
}

/// Max pool of output pixels `pixels`. Input/output NHWC with pixel strides (default C).
public func maxPool2d(shape s: Pool2dShape, input: UnsafePointer<Float>, inputPixelStride: Int? = nil,
                      output: UnsafeMutablePointer<Float>, outputPixelStride: Int? = nil, pixels: Range<Int>) {
    let c = s.channels, inStride = inputPixelStride ?? c, outStride = outputPixelStride ?? c
    let oh = s.outHeight, ow = s.outWidth
    for p in pixels {
        let ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
        let y0 = oy * s.strideH - s.padTop, x0 = ox * s.strideW - s.padLeft
        let base = input + n * s.inHeight * s.inWidth * inStride
        let out = output + p * outStride
        var ch = 0
        while ch < c {
            let lanes = min(16, c - ch)
            var m = SIMD16<Float>(repeating: -.infinity)
            for ky in 0..<s.kernelH {
                let iy = y0 + ky * s.dilationH
                if iy < 0 || iy >= s.inHeight { continue }
                for kx in 0..<s.kernelW {
                    let ix = x0 + kx * s.dilationW
                    if ix < 0 || ix >= s.inWidth { continue }
                    let x = base + (iy * s.inWidth + ix) * inStride + ch
                    m = max16(m, lanes == 16 ? load16(x) : loadPartial(x, lanes))
                }
            }
            if lanes == 16 { store16(m, out + ch) } else { storePartial(m, out + ch, lanes) }
            ch += 16
        }
    }
}

/// Sums the clamped window rows [y0, y1) x cols [x0, x1) for all channels, 16 at a time, and
/// stores sum / divisor.
@inline(__always)
func averageWindow(_ base: UnsafePointer<Float>, inWidth: Int, stride: Int, y0: Int, y1: Int, x0: Int, x1: Int,
                   divisor: Float, channels c: Int, out: UnsafeMutablePointer<Float>) {
    var ch = 0
    while ch < c {
        let lanes = min(16, c - ch)
        var sum = SIMD16<Float>(repeating: 0)
        for iy in y0..<max(y0, y1) {
            for ix in x0..<max(x0, x1) {
                let x = base + (iy * inWidth + ix) * stride + ch
                sum += lanes == 16 ? load16(x) : loadPartial(x, lanes)
            }
        }
        let v = sum / SIMD16<Float>(repeating: divisor)
        if lanes == 16 { store16(v, out + ch) } else { storePartial(v, out + ch, lanes) }
        ch += 16
    }
}

/// Average pool of output pixels `pixels` (PyTorch avg_pool2d, no divisor_override).
public func avgPool2d(shape s: Pool2dShape, input: UnsafePointer<Float>, inputPixelStride: Int? = nil,
                      output: UnsafeMutablePointer<Float>, outputPixelStride: Int? = nil, pixels: Range<Int>) {
    let c = s.channels, inStride = inputPixelStride ?? c, outStride = outputPixelStride ?? c
    let oh = s.outHeight, ow = s.outWidth
    for p in pixels {
        let ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
        var y0 = oy * s.strideH - s.padTop, x0 = ox * s.strideW - s.padLeft
        var y1 = min(y0 + s.kernelH, s.inHeight + s.padBottom), x1 = min(x0 + s.kernelW, s.inWidth + s.padRight)
        let poolSize = (y1 - y0) * (x1 - x0)
        y0 = max(y0, 0); x0 = max(x0, 0)
        y1 = min(y1, s.inHeight); x1 = min(x1, s.inWidth)
        let divisor = s.countIncludePad ? poolSize : (y1 - y0) * (x1 - x0)
        averageWindow(input + n * s.inHeight * s.inWidth * inStride, inWidth: s.inWidth, stride: inStride,
                      y0: y0, y1: y1, x0: x0, x1: x1, divisor: Float(divisor), channels: c,
                      out: output + p * outStride)
    }
}

/// Adaptive average pool to `outHeight x outWidth` of output pixels `pixels`
/// (work items: batch * outHeight * outWidth).
public func adaptiveAvgPool2d(batch: Int, channels c: Int, inHeight: Int, inWidth: Int,
                              outHeight oh: Int, outWidth ow: Int,
                              input: UnsafePointer<Float>, inputPixelStride: Int? = nil,
                              output: UnsafeMutablePointer<Float>, outputPixelStride: Int? = nil,
                              pixels: Range<Int>) {
    let inStride = inputPixelStride ?? c, outStride = outputPixelStride ?? c
    for p in pixels {
        let ox = p % ow, oy = (p / ow) % oh, n = p / (ow * oh)
        let y0 = oy * inHeight / oh, y1 = ((oy + 1) * inHeight + oh - 1) / oh
        let x0 = ox * inWidth / ow, x1 = ((ox + 1) * inWidth + ow - 1) / ow
        averageWindow(input + n * inHeight * inWidth * inStride, inWidth: inWidth, stride: inStride,
                      y0: y0, y1: y1, x0: x0, x1: x1, divisor: Float((y1 - y0) * (x1 - x0)), channels: c,
                      out: output + p * outStride)
    }
}

/// Global average pool: `[N, H, W, C]` -> `[N, C]` for batch images `images`.
public func globalAvgPool(channels c: Int, height: Int, width: Int, input: UnsafePointer<Float>,
                          inputPixelStride: Int? = nil, output: UnsafeMutablePointer<Float>, images: Range<Int>) {
    adaptiveAvgPool2d(batch: images.upperBound, channels: c, inHeight: height, inWidth: width,
                      outHeight: 1, outWidth: 1, input: input, inputPixelStride: inputPixelStride,
                      output: output, outputPixelStride: c, pixels: images)
}
