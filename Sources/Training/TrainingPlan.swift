// The training plan: the spec's graph compiled for training at a fixed maximum batch and
// thread count. One layer per node (no fusion: backward needs the unfused intermediates),
// NHWC activations, trainable parameters, their gradients and the BN running statistics in
// flat stores (the optimizer is then one loop over a vector), and one arena planned for forward
// and backward together (MemoryPlan.swift).
//
// The same plan runs in eval mode (BN running statistics, dropout off), which is what the
// inference plan (BN folded, fused) must agree with after training.

import Foundation
import IR
import Kernels

public final class TrainingPlan: @unchecked Sendable {
    public let graph: Graph
    public let batch: Int
    public let threads: Int
    /// The node whose output the loss reads: the graph output, or the input of a final softmax
    /// (cross-entropy takes logits; softmax followed by log-loss is the same function).
    public let logitsNode: Int
    public let classes: Int
    /// Trainable parameters in state_dict order, and the BN running statistics.
    public let trainable: [ParameterInfo]
    public let statistics: [ParameterInfo]
    /// Arena floats after planning, and the sum of all its tensors without reuse.
    public let arenaFloats: Int
    public let naiveFloats: Int

    let layers: [TrainLayer]
    let parameters: FloatStorage
    let gradients: FloatStorage
    let buffers: FloatStorage
    private let arena: FloatStorage
    private let staging: FloatStorage
    private var offsets: [String: (trainable: Bool, offset: Int, count: Int)] = [:]
    private var version = 0
    /// Per-layer timing when MODELC_TRAIN_PROFILE is set (printed by `profileReport`).
    var profile: LayerProfile?
    private let logitsGradient: UnsafeMutablePointer<Float>
    private let logitsValue: UnsafeMutablePointer<Float>

    public var parameterCount: Int { parameters.count }

    public init(graph: Graph, batch: Int, threads: Int) throws(TrainingError) {
        guard batch >= 1, threads >= 1 else { throw TrainingError("batch and threads must be at least 1") }
        self.graph = graph; self.batch = batch; self.threads = threads
        let nodes = graph.nodes
        var logits = graph.output
        if case .softmax = nodes[logits].op, let first = nodes[logits].inputs.first { logits = first }
        logitsNode = logits
        let outShape = nodes[logits].shape
        guard outShape.rank == 1 || (outShape.rank == 3 && outShape.height == 1 && outShape.width == 1) else {
            throw TrainingError("training needs a model whose output is a vector of class scores; '\(graph.name)' outputs \(nodes[logits].shape)")
        }
        classes = outShape.channels
        guard classes >= 2 else { throw TrainingError("training needs at least 2 classes; '\(graph.name)' outputs \(outShape)") }

        // Parameters.
        var trainable: [ParameterInfo] = [], statistics: [ParameterInfo] = []
        var pCount = 0, bCount = 0
        for p in graph.parameters {
            if p.trainable {
                offsets[p.name] = (true, pCount, p.elementCount); pCount += p.elementCount; trainable.append(p)
            } else {
                offsets[p.name] = (false, bCount, p.elementCount); bCount += p.elementCount; statistics.append(p)
            }
        }
        self.trainable = trainable; self.statistics = statistics
        parameters = FloatStorage(count: pCount)
        gradients = FloatStorage(count: pCount)
        buffers = FloatStorage(count: bCount)

        // Layers.
        var layers: [TrainLayer] = []
        for i in 0...logits {
            let node = nodes[i]
            let ins = node.inputs.map { nodes[$0].shape }
            layers.append(try TrainingPlan.makeLayer(node, index: i, inShapes: ins, batch: batch))
        }
        self.layers = layers

        // Which nodes need a gradient, and who writes each gradient first.
        var needsGrad = [Bool](repeating: false, count: logits + 1)
        for i in 1...max(1, logits) where i <= logits {
            let hasParams = nodes[i].inputs.first.map { !nodes[i].parameters(inputShape: nodes[$0].shape).filter(\.trainable).isEmpty } ?? false
            needsGrad[i] = hasParams || nodes[i].inputs.contains { needsGrad[$0] }
        }
        let L = logits
        let lossTime = L + 1
        func backwardTime(_ i: Int) -> Int { 2 * L + 2 - i }

        var items: [ArenaItem] = []
        var valueItem = [Int](repeating: -1, count: L + 1), gradItem = valueItem, auxItem = valueItem
        var naive = 0
        for i in 0...L {
            let per = nodes[i].shape.elementCount ?? 0
            var end = i
            if i == L { end = lossTime }
            for j in (i + 1)...max(i + 1, L) where j <= L && nodes[j].inputs.contains(i) {
                end = max(end, j)
                if needsGrad[j] && layers[j].needs.inputs { end = max(end, backwardTime(j)) }
            }
            if needsGrad[i] && layers[i].needs.output { end = max(end, backwardTime(i)) }
            valueItem[i] = items.count
            items.append(ArenaItem(floats: per * batch, start: i, end: end))
            naive += per * batch
            if needsGrad[i] {
                let lastConsumer = (i + 1...max(i + 1, L)).last { $0 <= L && nodes[$0].inputs.contains(i) }
                let start = i == L ? lossTime : backwardTime(lastConsumer ?? L)
                gradItem[i] = items.count
                items.append(ArenaItem(floats: per * batch, start: start, end: backwardTime(i)))
                naive += per * batch
            }
            let aux = layers[i].needs.auxPerSample
            if aux > 0 {
                auxItem[i] = items.count
                items.append(ArenaItem(floats: aux * batch, start: i, end: backwardTime(i)))
                naive += aux * batch
            }
        }
        let (placement, total) = ArenaPlanner.place(items)
        // Refuse plans that cannot be allocated rather than crash in the allocator.
        let bytes = Double(total) * 4
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes <= memory * 0.75 else {
            throw TrainingError("training '\(graph.name)' at batch \(batch) needs a \(Int(bytes / 1e9)) GB arena, more than this machine's memory allows; lower --batch")
        }
        arenaFloats = total
        naiveFloats = naive
        arena = FloatStorage(count: total)
        staging = FloatStorage(count: (nodes[0].shape.elementCount ?? 0) * batch)
        let base = arena.pointer
        func at(_ item: Int) -> UnsafeMutablePointer<Float>? { item >= 0 ? base + placement[item] : nil }

        // Bind.
        var seen = [Bool](repeating: false, count: L + 1)
        for i in 0...L {
            let layer = layers[i]
            layer.y = at(valueItem[i])
            layer.dy = at(gradItem[i])
            layer.aux = at(auxItem[i])
            layer.x = nodes[i].inputs.compactMap { at(valueItem[$0]) }
            if let input = layer as? InputLayer { input.staging = staging.pointer }
        }
        for i in stride(from: L, through: 1, by: -1) {
            let layer = layers[i]
            layer.dx = []
            layer.accumulate = []
            for j in nodes[i].inputs {
                if needsGrad[i] && needsGrad[j] {
                    layer.dx.append(at(gradItem[j]))
                    layer.accumulate.append(seen[j])
                    seen[j] = true
                } else {
                    layer.dx.append(nil)
                    layer.accumulate.append(false)
                }
            }
            if !needsGrad[i] { layer.dy = nil }
        }
        for (i, layer) in layers.enumerated() where i > 0 {
            let node = nodes[i]
            for p in node.parameters(inputShape: nodes[node.inputs[0]].shape) {
                guard let o = offsets[p.name] else { continue }
                if o.trainable {
                    layer.params.append(parameters.pointer + o.offset)
                    layer.grads.append(gradients.pointer + o.offset)
                } else {
                    layer.buffers.append(buffers.pointer + o.offset)
                }
            }
            layer.bind()
        }
        if getenv("MODELC_TRAIN_PROFILE") != nil {
            let p = LayerProfile(count: L + 1)
            profile = p
            for l in layers { l.profile = p }
        }
        logitsValue = at(valueItem[L]) ?? base
        logitsGradient = at(gradItem[L]) ?? base
    }

    static func makeLayer(_ node: Node, index i: Int, inShapes: [TensorShape], batch: Int) throws(TrainingError) -> TrainLayer {
        let s = node.shape
        switch node.op {
        case .input: return InputLayer(node: i, name: node.name, inShapes: [], outShape: s, batch: batch)
        case .conv2d(let c): return ConvLayer(node: i, name: node.name, conv: c, inShape: inShapes[0], outShape: s, batch: batch)
        case .linear(let l): return LinearLayer(node: i, name: node.name, linear: l, inShape: inShapes[0], outShape: s, batch: batch)
        case .batchNorm(let b): return BatchNormLayer(node: i, name: node.name, bn: b, shape: s, batch: batch)
        case .activation(let a): return ActivationLayer(node: i, name: node.name, activation: a, shape: s, batch: batch)
        case .pool2d(let p): return PoolLayer(node: i, name: node.name, pool: p, adaptive: false, inShape: inShapes[0], outShape: s, batch: batch)
        case .adaptiveAvgPool2d: return PoolLayer(node: i, name: node.name, pool: nil, adaptive: true, inShape: inShapes[0], outShape: s, batch: batch)
        case .flatten: return FlattenLayer(node: i, name: node.name, inShapes: inShapes, outShape: s, batch: batch)
        case .dropout(let p): return DropoutLayer(node: i, name: node.name, p: p, shape: s, batch: batch)
        case .stochasticDepth(let p): return StochasticDepthLayer(node: i, name: node.name, p: p, shape: s, batch: batch)
        case .softmax: return SoftmaxLayer(node: i, name: node.name, inShapes: inShapes, outShape: s, batch: batch)
        case .add: return AddLayer(node: i, name: node.name, inShapes: inShapes, outShape: s, batch: batch)
        case .concat: return ConcatLayer(node: i, name: node.name, inShapes: inShapes, outShape: s, batch: batch)
        case .multiply:
            guard inShapes.count == 2 else { throw TrainingError("node '\(node.name)': multiply expects 2 inputs") }
            return MultiplyLayer(node: i, name: node.name, inShapes: inShapes, outShape: s, batch: batch)
        }
    }

    // MARK: Weights

    /// Loads every parameter and BN statistic of the graph (validated by the caller with
    /// `Weights.mismatches`).
    public func load(_ weights: Weights) throws(TrainingError) {
        let problems = weights.mismatches(for: graph)
        guard problems.isEmpty else { throw TrainingError(problems.joined(separator: "; ")) }
        for (name, o) in offsets {
            guard let values = weights[name], values.count == o.count else { continue }
            (o.trainable ? parameters : buffers).assign(values, at: o.offset)
        }
        parametersChanged()
    }

    /// Every parameter and BN statistic by state_dict name.
    public func weights() -> Weights {
        var w = Weights()
        for (name, o) in offsets {
            let store = o.trainable ? parameters : buffers
            w[name] = Array(UnsafeBufferPointer(start: store.pointer + o.offset, count: o.count))
        }
        return w
    }

    /// Call after changing parameters in place (optimizer step): layers repack lazily.
    func parametersChanged() {
        version += 1
        for l in layers { l.weightsVersion = version }
    }

    /// Flat views for the optimizer.
    var parameterPointer: UnsafeMutablePointer<Float> { parameters.pointer }
    var gradientPointer: UnsafeMutablePointer<Float> { gradients.pointer }

    public var flatParameters: [Float] { parameters.array }
    public var flatGradients: [Float] { gradients.array }
    public var flatStatistics: [Float] { buffers.array }

    func setFlat(parameters p: [Float], statistics b: [Float]) {
        parameters.assign(p)
        buffers.assign(b)
        parametersChanged()
    }

    // MARK: Running

    /// Forward of `n` images (NCHW floats, n × C × H × W). Returns the logits ([n, classes]).
    @discardableResult
    public func forward(_ images: UnsafePointer<Float>, n: Int, training: Bool, randomKey: UInt64 = 0) -> UnsafePointer<Float> {
        staging.pointer.update(from: images, count: n * (graph.inputShape.elementCount ?? 0))
        let s = RunState(n: n, threads: threads, training: training, randomKey: randomKey)
        if profile != nil && training {
            for (i, layer) in layers.enumerated() { profile?.time(i, backward: false) { layer.forward(s) } }
        } else {
            for layer in layers { layer.forward(s) }
        }
        return UnsafePointer(logitsValue)
    }

    /// Convenience for tests: forward on an array, logits as an array.
    public func forward(_ images: [Float], n: Int, training: Bool, randomKey: UInt64 = 0) -> [Float] {
        images.withUnsafeBufferPointer { b in
            let out = forward(b.baseAddress!, n: n, training: training, randomKey: randomKey)
            return Array(UnsafeBufferPointer(start: out, count: n * classes))
        }
    }

    /// Loss of the last forward against `labels`, writing dLoss/dLogits for `backward`.
    func loss(labels: UnsafePointer<Int32>, n: Int, smoothing: Double) -> LossResult {
        softmaxCrossEntropy(logits: logitsValue, labels: labels, n: n, classes: classes, smoothing: smoothing,
                            gradient: logitsGradient)
    }

    /// Backward of the last forward (after `loss`): parameter gradients into the flat store.
    func backward(n: Int, randomKey: UInt64) {
        let s = RunState(n: n, threads: threads, training: true, randomKey: randomKey)
        for (i, layer) in layers.enumerated().reversed() where layer.dy != nil {
            if profile != nil { profile?.time(i, backward: true) { layer.backward(s) } } else { layer.backward(s) }
        }
    }

    /// Test hook: backward with a given dLoss/dLogits ([n, classes]).
    public func backward(logitGradient: [Float], n: Int) {
        logitsGradient.update(from: logitGradient, count: n * classes)
        backward(n: n, randomKey: 0)
    }

    /// Test hook: softmax cross-entropy of the last forward; fills the logit gradient.
    public func lossAndGradient(labels: [Int32], smoothing: Double = 0) -> (loss: Double, correct: Int) {
        let r = labels.withUnsafeBufferPointer { loss(labels: $0.baseAddress!, n: labels.count, smoothing: smoothing) }
        return (r.loss, r.correct)
    }

    /// Test hook: gradient of a parameter after `backward`.
    public func gradient(of name: String) -> [Float]? {
        guard let o = offsets[name], o.trainable else { return nil }
        return Array(UnsafeBufferPointer(start: gradients.pointer + o.offset, count: o.count))
    }
}

extension TrainingPlan {
    /// Test hook: restores BN running statistics (a training-mode forward updates them).
    public func setFlatStatistics(_ values: [Float]) { buffers.assign(values) }
}

/// Wall time per layer, forward and backward, and of named parts (a development aid:
/// `MODELC_TRAIN_PROFILE=1`). Each entry keeps its total and its fastest single call, which a
/// busy machine disturbs much less than the total.
final class LayerProfile {
    struct Entry { var total = 0.0, fastest = Double.infinity, calls = 0 }
    var forward: [Entry]
    var backward: [Entry]
    let clock = ContinuousClock()
    /// Named parts of layers (conv dW and dX, the optimizer, ...), in first-seen order.
    var parts: [(name: String, entry: Entry)] = []
    init(count: Int) { forward = .init(repeating: Entry(), count: count); backward = forward }

    private func add(_ e: inout Entry, _ t: Double) {
        e.total += t; e.fastest = min(e.fastest, t); e.calls += 1
    }

    func timePart(_ name: String, _ body: () -> Void) {
        let t = clock.measure(body).seconds
        if let i = parts.firstIndex(where: { $0.name == name }) { add(&parts[i].entry, t) } else {
            parts.append((name, Entry())); add(&parts[parts.count - 1].entry, t)
        }
    }

    func time(_ i: Int, backward isBackward: Bool, _ body: () -> Void) {
        let t = clock.measure(body).seconds
        if isBackward { add(&backward[i], t) } else { add(&forward[i], t) }
    }
}

extension TrainingPlan {
    /// Per-layer times so far (total seconds, fastest call in ms), or nil when profiling is off.
    public func profileReport() -> String? {
        guard let p = profile else { return nil }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func cell(_ e: LayerProfile.Entry) -> String {
            e.calls == 0 ? pad("", 22) : String(format: "%8.3f s %8.3f ms  ", e.total, e.fastest * 1000)
        }
        var lines = [pad("layer", 16) + pad("kind", 12) + "forward: total, fastest   backward: total, fastest"]
        for (i, l) in layers.enumerated() {
            lines.append(pad(l.name.isEmpty ? "(\(i))" : l.name, 16) + pad(graph.nodes[i].op.kindName, 12)
                         + cell(p.forward[i]) + "  " + cell(p.backward[i]))
        }
        lines.append(pad("total", 28) + String(format: "%8.3f s %14@%8.3f s", p.forward.reduce(0) { $0 + $1.total }, "" as NSString,
                                                p.backward.reduce(0) { $0 + $1.total }))
        for part in p.parts { lines.append(pad("  " + part.name, 28) + cell(part.entry)) }
        return lines.joined(separator: "\n")
    }
}
