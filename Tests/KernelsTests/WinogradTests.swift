import Kernels
import Testing

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) against the Double-accumulating reference conv.
struct WinogradCase: CustomTestStringConvertible, Sendable {
    var conv: ConvCase
    var tile: Int
    var blockTiles: Int? = nil
    var testDescription: String { "F(\(tile)x\(tile)) \(conv.testDescription)" + (blockTiles.map { " block \($0)" } ?? "") }
}

let winogradShapes: [ConvCase] = [
    conv(1, 16, 32, 8, 8, k: 3, p: 1),                             // whole tiles
    conv(1, 17, 33, 7, 9, k: 3, p: 1, .relu),                      // partial tiles at right and bottom
    conv(3, 5, 7, 11, 6, k: 3, p: 1, .silu, res: true),            // batch 3, tiny channels
    conv(1, 33, 40, 9, 7, k: 3, p: 0, .relu6),                     // no padding
    conv(1, 48, 20, 6, 13, k: 3, pad: (0, 1, 2, 0), .hardswish, res: true), // asymmetric padding
    conv(3, 64, 64, 5, 5, k: 3, p: 1, .relu, res: true),
    conv(1, 20, 17, 3, 3, k: 3, p: 1, .sigmoid),                   // one tile, mostly padding
    conv(1, 9, 16, 1, 1, k: 3, p: 1, .tanh),                       // 1x1 spatial
    conv(1, 16, 48, 4, 5, k: 3, p: 2, .leakyRelu(0.1)),            // output larger than input
    conv(2, 24, 31, 10, 10, k: 3, p: 1, .hardsigmoid),
]

let winogradCases: [WinogradCase] = winogradShapes.flatMap { [WinogradCase(conv: $0, tile: 2), WinogradCase(conv: $0, tile: 4)] }
    + [WinogradCase(conv: winogradShapes[2], tile: 4, blockTiles: 8), WinogradCase(conv: winogradShapes[9], tile: 2, blockTiles: 16)]

/// Runs the Winograd kernel on NCHW data over the given tile split and returns NCHW output.
func winogradConv(_ c: WinogradCase, x: [Float], weight: [Float], bias: [Float], residual: [Float]?,
                  threads: Int = 1, cuts: [Int]? = nil, splitPanels: Bool = false) -> [Float] {
    let s = c.conv.shape
    let inSp = s.inHeight * s.inWidth, outSp = s.outHeight * s.outWidth
    let xh = toNHWC(x, batch: s.batch, channels: s.inChannels, spatial: inSp)
    let rh = residual.map { toNHWC($0, batch: s.batch, channels: s.outChannels, spatial: outSp) } ?? []
    let outCount = s.batch * s.outChannels * outSp
    let w = WinogradWeights(weight, outChannels: s.outChannels, inChannels: s.inChannels, bias: bias, tile: c.tile)
    let tiles = winogradTiles(s, tile: c.tile)
    let slots = max(threads, (cuts?.count ?? 0) + 1)
    let scratch = WinogradScratch(shape: s, tile: c.tile, slots: slots, blockTiles: c.blockTiles)
    let y: [Float] = xh.withUnsafeBufferPointer { xp in rh.withUnsafeBufferPointer { rp in
        let xs = SendablePointer(xp.baseAddress!)
        let res = residual == nil ? nil : SendablePointer(rp.baseAddress!)
        let act = c.conv.activation, mat = w.matrix, block = scratch.blockTiles
        nonisolated(unsafe) let sc = scratch
        return withExtendedLifetime((w, scratch)) {
            if let cuts {
                var piece = 0
                return runPieces(tiles, cuts: cuts, outputCount: outCount) { r, out in
                    winogradConv3x3(shape: s, input: xs.pointer, weights: mat, output: out, tiles: r, blockTiles: block,
                                    scratch: sc.slot(piece), epilogue: Epilogue(activation: act, residual: res?.pointer, residualStride: s.outChannels))
                    piece += 1
                }
            }
            let panels = mat.u.panels
            if splitPanels {
                return runSplit(threads, threads: threads, outputCount: outCount) { r, out in
                    for slot in r {
                        winogradConv3x3(shape: s, input: xs.pointer, weights: mat, output: out, tiles: 0..<tiles,
                                        panels: chunk(panels, parts: threads, index: slot), blockTiles: block, scratch: sc.slot(slot),
                                        epilogue: Epilogue(activation: act, residual: res?.pointer, residualStride: s.outChannels))
                    }
                }
            }
            return runSplit(threads, threads: threads, outputCount: outCount) { r, out in
                for slot in r {
                    winogradConv3x3(shape: s, input: xs.pointer, weights: mat, output: out,
                                    tiles: chunk(tiles, parts: threads, index: slot), blockTiles: block, scratch: sc.slot(slot),
                                    epilogue: Epilogue(activation: act, residual: res?.pointer, residualStride: s.outChannels))
                }
            }
        }
    } }
    return toNCHW(y, batch: s.batch, channels: s.outChannels, spatial: outSp)
}

@Suite struct WinogradTests {
    @Test(arguments: winogradCases)
    func matchesReference(_ c: WinogradCase) {
        let (x, w, b, r) = convData(c.conv, seed: 5)
        let ref = Reference.conv2d(x, c.conv.shape, weight: w, bias: b, residual: r, activation: c.conv.activation)
        let got = winogradConv(c, x: x, weight: w, bias: b, residual: r)
        let err = relativeError(got, ref)
        // Inputs and weights uniform in [-1, 1). Measured: F(2x2) 1.4e-7...7.2e-7, F(4x4) 4.8e-7...3.6e-6
        // (the direct igemm: ~1e-7).
        #expect(err <= (c.tile == 4 ? 1e-5 : 2e-6), "error \(err)")
    }

    @Test(arguments: [winogradCases[3], winogradCases[4], winogradCases[5], winogradCases[10], winogradCases[11], winogradCases[18], winogradCases[19]])
    func threadSplitsAreBitExact(_ c: WinogradCase) {
        let (x, w, b, r) = convData(c.conv, seed: 6)
        let one = winogradConv(c, x: x, weight: w, bias: b, residual: r, threads: 1)
        let two = winogradConv(c, x: x, weight: w, bias: b, residual: r, threads: 2)
        let odd = winogradConv(c, x: x, weight: w, bias: b, residual: r, cuts: [1, 2, 5, 9, 13])
        #expect(one == two)
        #expect(one == odd)
        // Output channels split instead of tiles (what a runtime does with few tiles).
        if c.conv.shape.outChannels > gemmNR {
            let panels = winogradConv(c, x: x, weight: w, bias: b, residual: r, threads: 2, splitPanels: true)
            #expect(one == panels)
        }
    }
}
