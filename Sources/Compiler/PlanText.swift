import IR

extension ExecutionPlan {
    /// The plan as text (`modelc compile`, and `Generated/plan/`): every step with its kernel,
    /// inputs, output buffer and arena offset, fused epilogue; then what each pass did and what
    /// it refused, and the arena against the naive sum. Offsets are in floats per sample.
    public var text: String {
        var out = "plan \(name): input \(inputShape) nchw -> output \(outputShape) \(buffers[output].layout.rawValue)\n"
        out += "passes: " + passes.joined(separator: ", ") + "\n"
        out += "arena: \(bytes(arenaFloats)) per sample (naive, one buffer per tensor: \(bytes(naiveFloats)); "
        out += String(format: "%.1f%%", naiveFloats == 0 ? 0 : 100 * Double(arenaFloats) / Double(naiveFloats)) + ")\n\n"

        func ref(_ b: Int) -> String { "%\(b)" }
        var rows: [[String]] = [["#", "step", "kernel", "reads", "writes", "shape", "@offset", "epilogue"]]
        for (i, s) in steps.enumerated() {
            var epilogue: [String] = []
            if let gate = s.gate { epilogue.append("weights×gate(\(ref(gate)))") }
            if let pw = s.pointwise {
                var stage = [pw.name]
                if let bn = pw.weights.batchNorm { stage.append("bn(\(bn.name))") }
                if pw.weights.bias != nil { stage.append("bias") }
                if let a = pw.activation { stage.append(a.name) }
                epilogue.append("[" + stage.joined(separator: " ") + "] →")
            }
            if let bn = s.weights.batchNorm, case .conv = s.kind { epilogue.append("bn(\(bn.name))") }
            if s.weights.bias != nil { epilogue.append("bias") }
            if let r = s.residual { epilogue.append("+\(ref(r))") }
            if let a = s.activation { epilogue.append(a.name) }
            if case .squeezeExcitation(let se) = s.kind {
                epilogue.append("gate=\(se.gateActivation?.name ?? "identity")(\(se.fc2)(\(se.fc1Activation?.name ?? "identity")(\(se.fc1)(avgpool))))")
            }
            if case .linear = s.kind, let f = buffers[s.inputs[0]].flattenedNHWC { epilogue.append("columns permuted from nhwc \(f)") }
            let o = buffers[s.output]
            rows.append(["\(i)", s.name.isEmpty ? "-" : s.name, s.kind.kernelName, s.inputs.map(ref).joined(separator: ","),
                         ref(s.output) + (o.storage != s.output && s.inputs.contains(where: { buffers[$0].storage == o.storage }) || s.residual.map { buffers[$0].storage == o.storage } == true ? " (in place)" : ""),
                         "\(o.shape) \(o.layout.rawValue)", "@\(o.offset)", epilogue.isEmpty ? "-" : epilogue.joined(separator: " ")])
        }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        for r in rows {
            var line = ""
            for (i, c) in r.enumerated() {
                line += i == 0 ? String(repeating: " ", count: widths[i] - c.count) + c : c + String(repeating: " ", count: widths[i] - c.count)
                if i < r.count - 1 { line += "  " }
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        out += "\n%\(input) is the input, %\(output) the output.\n"
        for pass in passes {
            guard let entries = applied[pass], !entries.isEmpty else { continue }
            out += "\n\(pass): \(entries.count)\n"
            for e in entries { out += "  \(e)\n" }
        }
        if !rejected.isEmpty {
            out += "\nnot fused: \(rejected.count)\n"
            for r in rejected { out += "  \(r)\n" }
        }
        return out
    }
}

private func bytes(_ floats: Int) -> String {
    let b = Double(floats * 4)
    if b >= 1_048_576 { return String(format: "%.2f MiB", b / 1_048_576) }
    return String(format: "%.1f KiB", b / 1024)
}

import Foundation
