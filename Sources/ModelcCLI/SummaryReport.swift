import IR
import Spec

/// `modelc summary`: the per-layer table and totals, as text or JSON.
public struct SummaryReport {
    public let model: LoadedModel
    public let stats: GraphStatistics
    /// Collapse rows to this many path components (stages = 1, blocks = 2); nil = every layer.
    public let maxDepth: Int?

    public init(model: LoadedModel, maxDepth: Int? = nil) {
        self.model = model
        self.stats = GraphStatistics(model.graph)
        self.maxDepth = maxDepth
    }

    /// Rows after collapsing: a group takes its path prefix, its container kind, its last
    /// layer's output shape and the sums of its params and MACs.
    public var rows: [GraphStatistics.Row] {
        guard let depth = maxDepth else { return stats.rows }
        var out: [GraphStatistics.Row] = []
        var lastIsGroup = false
        for row in stats.rows {
            let parts = row.name.split(separator: ".")
            let key = parts.prefix(depth).joined(separator: ".")
            let isGroup = parts.count > depth
            defer { lastIsGroup = isGroup }
            if isGroup, lastIsGroup, let last = out.last, last.name == key {
                out[out.count - 1].outputShape = row.outputShape
                out[out.count - 1].params += row.params
                out[out.count - 1].buffers += row.buffers
                out[out.count - 1].macs += row.macs
            } else {
                var r = row
                r.name = key
                if isGroup { r.kind = model.graph.modules[key] ?? "group" }
                out.append(r)
            }
        }
        return out
    }

    public var title: String {
        model.name + (model.variant.map { " (variant \($0))" } ?? "")
    }

    public func text() -> String {
        let rows = self.rows
        let header = ["layer", "kind", "output", "params", "MACs"]
        var table: [[String]] = [header]
        for r in rows {
            table.append([r.name, r.kind, r.outputShape.description,
                          r.params == 0 ? "-" : grouped(r.params), r.macs == 0 ? "-" : grouped(r.macs)])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in table { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        var out = "\(title): input \(model.graph.inputShape) -> output \(model.graph.outputShape)\n"
        if !model.parameters.isEmpty {
            out += "parameters: " + model.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        out += "\n"
        for (n, row) in table.enumerated() {
            var line = ""
            for (i, c) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[i] - c.count)
                line += i >= 3 ? pad + c : c + pad
                if i < row.count - 1 { line += "  " }
            }
            out += line.trimmingTrailingSpaces() + "\n"
            if n == 0 { out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n" }
        }
        out += "\n"
        let facts: [(String, String)] = [
            ("layers", "\(stats.rows.count)"),
            ("params (trainable)", "\(grouped(stats.params))  (\(mib(stats.params * 4)) as float32)"),
            ("BN buffers", "\(grouped(stats.buffers))  (running mean and variance)"),
            ("MACs", "\(grouped(stats.macs))  (\(giga(stats.macs)) G; conv and linear weights only)"),
            ("FLOPs", "\(grouped(stats.flops))  (2 x MACs)"),
            ("parameter bytes", "\(grouped(stats.parameterBytes))  (\(mib(stats.parameterBytes)), params + buffers as float32)"),
            ("activation bytes", "\(grouped(stats.activationBytes))  (\(mib(stats.activationBytes)), all layer outputs at batch 1)"),
            ("depth", "\(stats.depth)  (conv and linear layers on the longest path)"),
        ]
        let w = facts.map(\.0.count).max() ?? 0
        for (k, v) in facts { out += k + String(repeating: " ", count: w - k.count) + "  " + v + "\n" }
        return out
    }

    public func json() -> JSON {
        func shape(_ s: TensorShape) -> JSON { .array(s.dims.map(JSON.int)) }
        return .object([
            ("name", .string(model.name)),
            ("variant", model.variant.map(JSON.string) ?? .null),
            ("input_shape", shape(model.graph.inputShape)),
            ("output_shape", shape(model.graph.outputShape)),
            ("params", .int(stats.params)),
            ("buffers", .int(stats.buffers)),
            ("macs", .int(stats.macs)),
            ("flops", .int(stats.flops)),
            ("param_bytes", .int(stats.parameterBytes)),
            ("activation_bytes", .int(stats.activationBytes)),
            ("depth", .int(stats.depth)),
            ("layers", .array(rows.map { r in
                .object([("name", .string(r.name)), ("kind", .string(r.kind)), ("output_shape", shape(r.outputShape)),
                         ("params", .int(r.params)), ("buffers", .int(r.buffers)), ("macs", .int(r.macs))])
            })),
        ])
    }
}

/// 25557032 → "25,557,032".
func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

func mib(_ bytes: Int) -> String {
    let m = Double(bytes) / 1_048_576
    return m >= 100 ? "\(Int(m.rounded())) MiB" : String(format: "%.1f MiB", m)
}

func giga(_ n: Int) -> String { String(format: "%.2f", Double(n) / 1e9) }

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

import Foundation
