import IR

/// Fuses a 1x1 expansion conv into the depthwise conv that reads it (the first half of an
/// inverted residual block, MobileNetV2/EfficientNet), so the expanded tensor never goes to
/// memory:
///
///     depthwise(act(conv1x1(x)))  →  per band of output rows: conv1x1 of the input rows the
///                                    band needs, into a per-thread L2-sized buffer, then the
///                                    depthwise conv of the band from that buffer
///
/// The arithmetic is the same as unfused (each expanded value by the same GEMM, each output by
/// the same taps in the same order), so the results are bit-identical; what changes is that the
/// expansion (4.8 MB for EfficientNet-B0's first one) is neither written nor read back.
///
/// Matches a depthwise conv without residual or gate whose input is an ungrouped 1x1 stride-1
/// unpadded conv without residual or gate, read by nothing else, when the expansion is at least
/// `CompileOptions.minimumFusedExpansionBytes` per image (default: one core's L2; smaller
/// expansions stay in cache anyway, and each thread's first band recomputes a few rows).
public enum FusePointwiseDepthwise: Pass {
    public static let name = "fuse-pointwise-depthwise"
    /// One core's L2 (1 MiB on Zen 4).
    public static let defaultMinimumBytes = 1 << 20

    public static func run(_ g: inout PlanGraph) {
        let consumers = g.consumers()
        for j in g.nodes.indices where !g.nodes[j].removed {
            guard case .conv2d(let dw) = g.nodes[j].op, g.nodes[j].pointwise == nil, let i = g.nodes[j].inputs.first,
                  case .conv2d(let pw) = g.nodes[i].op, !g.nodes[i].removed else { continue }
            let expanded = g.nodes[i].shape
            guard dw.groups > 1, dw.groups == expanded.channels, dw.outChannels == expanded.channels,
                  pw.kernel == Size2(square: 1), pw.stride == Size2(square: 1), pw.padding == .zero, pw.groups == 1 else { continue }
            guard g.nodes[j].residual == nil, g.nodes[j].gate == nil, g.nodes[i].residual == nil, g.nodes[i].gate == nil,
                  g.nodes[i].pointwise == nil, consumers[i] == [j], i != g.output else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: its output is read elsewhere or carries a residual")
                continue
            }
            let bytes = (expanded.elementCount ?? 0) * 4
            guard bytes >= g.minimumFusedExpansionBytes else {
                g.rejected.append("\(name): \(g.label(i)) stays a separate step: its output \(expanded) is \(bytes / 1024) KiB per image, "
                                  + "under \(g.minimumFusedExpansionBytes / 1024) KiB")
                continue
            }
            g.nodes[j].pointwise = .init(name: g.nodes[i].name, conv: pw, foldedBatchNorm: g.nodes[i].foldedBatchNorm,
                                         activation: g.nodes[i].activation, inputChannels: g.nodes[g.nodes[i].inputs[0]].shape.channels)
            g.nodes[j].inputs = [g.nodes[i].inputs[0]]
            g.nodes[i].removed = true
            g.log(name, "\(g.label(i)) into \(g.label(j)) (the \(expanded) expansion, \(bytes / 1024) KiB per image, is never stored)")
        }
    }
}
