// The unit of the training plan: one graph node with a forward (training or eval mode) and a
// backward. The plan binds every pointer a layer touches before the first run (values and
// gradients in the arena, parameters and their gradients in flat stores), so forward and
// backward only compute.

import IR
import Kernels

/// Per-call settings shared by every layer of one forward or backward pass.
struct RunState: Sendable {
    /// Images in this batch (at most the plan's batch; the last batch of an epoch is smaller).
    var n: Int
    var threads: Int
    /// Training mode: BN batch statistics and running-stat updates, dropout and stochastic
    /// depth active. Eval mode: BN running statistics, dropout and stochastic depth identity.
    var training: Bool
    /// Counter-based random stream of this step (dropout masks): a function of the seed and
    /// the global step only, so a resumed run draws exactly what an uninterrupted run draws.
    var randomKey: UInt64
}

/// What a layer's backward needs kept from its forward; drives memory planning.
struct LayerNeeds {
    var inputs = false
    var output = false
    /// Extra floats per sample kept from forward to backward (masks, argmax indices).
    var auxPerSample = 0
}

/// Base class of the layers. Subclasses override `forward` and `backward`.
class TrainLayer: @unchecked Sendable {
    let node: Int
    let name: String
    /// Per-sample shapes of the inputs and the output ([C, H, W] or [F]).
    let inShapes: [TensorShape]
    let outShape: TensorShape
    /// Plan batch (maximum images per call).
    let batch: Int

    var x: [UnsafeMutablePointer<Float>] = []
    var y: UnsafeMutablePointer<Float>! = nil
    /// Gradient of each input, nil when that input needs none (the image, frozen branches).
    var dx: [UnsafeMutablePointer<Float>?] = []
    /// Whether the gradient of input k already holds another consumer's contribution.
    var accumulate: [Bool] = []
    var dy: UnsafeMutablePointer<Float>? = nil
    var aux: UnsafeMutablePointer<Float>? = nil
    /// Trainable parameters (weight, bias) and their gradients, BN running statistics.
    var params: [UnsafeMutablePointer<Float>] = []
    var grads: [UnsafeMutablePointer<Float>] = []
    var buffers: [UnsafeMutablePointer<Float>] = []
    /// Bumped by the plan when parameters change, so layers repack lazily.
    var weightsVersion = 0
    /// The plan's per-layer timer when MODELC_TRAIN_PROFILE is set (see `timed`).
    var profile: LayerProfile?

    init(node: Int, name: String, inShapes: [TensorShape], outShape: TensorShape, batch: Int) {
        self.node = node; self.name = name; self.inShapes = inShapes; self.outShape = outShape; self.batch = batch
    }

    var needs: LayerNeeds { LayerNeeds() }

    /// Called once all pointers are bound (builds indirection tables and the like).
    func bind() {}

    func forward(_ s: RunState) {}

    func backward(_ s: RunState) {}

    /// Runs `body`, adding its wall time to this layer's part `part` when profiling.
    @inline(__always)
    func timed(_ part: String, _ body: () -> Void) {
        if let p = profile { p.timePart("\(name.isEmpty ? "(\(node))" : name) \(part)", body) } else { body() }
    }

    // Helpers over the NHWC view: every tensor is pixels × channels; vectors have one pixel.
    var outChannels: Int { outShape.channels }
    var outPixels: Int { outShape.height * outShape.width }
    var outFloats: Int { outShape.elementCount ?? 0 }
    func inFloats(_ k: Int = 0) -> Int { inShapes[k].elementCount ?? 0 }
}

/// Σ over pixels of g[p, c] for c < channels, pixels `0..<pixels`, into `out[c]`
/// (bias gradients). Vectorized over 16 channels; blocks of channels split over threads.
func columnSums(_ g: UnsafePointer<Float>, pixels: Int, channels: Int, into out: UnsafeMutablePointer<Float>, threads: Int) {
    let gs = SendablePointer(g), os = SendableMutablePointer(out)
    let blocks = (channels + 15) / 16
    parallel(blocks, threads: threads, work: pixels * channels) { r in
        for blk in r {
            let c0 = blk * 16, lanes = min(16, channels - c0)
            var acc = SIMD16<Float>(repeating: 0)
            var p = gs.pointer + c0
            if lanes == 16 {
                for _ in 0..<pixels { acc += load16(p); p += channels }
            } else {
                for _ in 0..<pixels { acc += ldp(p, lanes); p += channels }
            }
            stp(acc, os.pointer + c0, lanes)
        }
    }
}

extension Conv2dShape {
    func withBatch(_ n: Int) -> Conv2dShape { var s = self; s.batch = n; return s }
}

extension Pool2dShape {
    func withBatch(_ n: Int) -> Pool2dShape { var s = self; s.batch = n; return s }
}
