import Diagnostics
import Foundation
import IR
import TensorIO

/// Binding a safetensors checkpoint to a spec's parameters (`modelc run/bench --weights`).
///
/// Every tensor whose name is a parameter of the graph is taken (F32, F16, BF16 and F64 are
/// converted to float32). BatchNorm's `num_batches_tracked` counters, which every torchvision
/// state_dict holds, are accepted and ignored when they are integer tensors of a BN layer of the
/// spec. Everything else that does not fit — missing tensors, unexpected tensors, shapes that
/// differ from the spec's (even when the element count agrees: `[64, 3, 7, 7]` is not
/// `[64, 7, 7, 3]`), non-float dtypes — is collected and reported all at once, by name.
enum WeightFiles {
    /// The outcome of binding: the weights, or every problem as a message without the
    /// `path: error: ` prefix.
    struct Binding {
        var weights: Weights?
        var problems: [String]
        /// What the file says it was made for, when `modelc init` wrote it ("lenet5", "resnet variant 18").
        var madeFor: String?
    }

    /// Reads `path` and binds it to `graph`. Throws only when the file itself is unreadable or
    /// malformed (a `TensorIOError`, which names the path and byte offset).
    static func bind(path: String, graph: Graph) throws -> Binding {
        let file = try SafeTensors.read(path: path)
        return try bind(file, graph: graph)
    }

    static func bind(_ file: SafeTensorsFile, graph: Graph) throws -> Binding {
        let params = graph.parameters
        let expected = Dictionary(params.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Module paths of the spec's batch norms: "<bn>.num_batches_tracked" belongs to them.
        var batchNorms = Set<String>()
        for node in graph.nodes {
            if case .batchNorm = node.op { batchNorms.insert(node.name) }
        }
        let floatTypes: Set<SafeTensorsDType> = [.f32, .f16, .bf16, .f64]
        let integerTypes: Set<SafeTensorsDType> = [.i64, .i32, .i16, .i8, .u8, .u16, .u32, .u64]

        var problems: [String] = []
        var tensors: [String: [Float]] = [:]
        var missing: [String] = []
        for p in params {
            guard file.contains(p.name) else {
                missing.append(p.name)
                problems.append("missing tensor '\(p.name)' of shape \(render(p.shape))")
                continue
            }
            let entry = try file.entry(named: p.name)
            var ok = true
            if !floatTypes.contains(entry.dtype) {
                problems.append("tensor '\(p.name)' has dtype \(entry.dtype.rawValue); expected a floating-point dtype (F32, F16, BF16 or F64)")
                ok = false
            }
            if entry.shape != p.shape {
                let same = entry.elementCount == p.elementCount ? " (same element count, different layout)" : ""
                problems.append("tensor '\(p.name)' has shape \(render(entry.shape)); the spec expects \(render(p.shape))\(same)")
                ok = false
            }
            if ok { tensors[p.name] = try file.tensor(named: p.name).data }
        }
        let missingShort = missing
        for entry in file.entries where expected[entry.name] == nil {
            let suffix = ".num_batches_tracked"
            if entry.name.hasSuffix(suffix), batchNorms.contains(String(entry.name.dropLast(suffix.count))) {
                if !integerTypes.contains(entry.dtype) || entry.elementCount != 1 {
                    problems.append("tensor '\(entry.name)' has dtype \(entry.dtype.rawValue) and shape \(render(entry.shape)); expected an integer scalar (BatchNorm's batch counter)")
                }
                continue
            }
            var message = "unexpected tensor '\(entry.name)' of shape \(render(entry.shape)) (no layer of the spec has this parameter)"
            if let m = closestMatch(to: entry.name, in: missingShort) { message += "; did you mean '\(m)'?" }
            problems.append(message)
        }
        let madeFor = file.metadata["modelc.spec"].map { spec in spec + (file.metadata["modelc.variant"].map { " variant \($0)" } ?? "") }
        return Binding(weights: problems.isEmpty ? Weights(tensors) : nil, problems: problems, madeFor: madeFor)
    }

    /// Loads weights for `graph` from `path`, printing every problem as `path: error: ...` to
    /// stderr. Nil when the file is unusable (exit status 1).
    static func load(path: String, graph: Graph) -> Weights? {
        do {
            let binding = try bind(path: path, graph: graph)
            if let w = binding.weights { return w }
            var text = binding.problems.map { "\(path): error: \($0)\n" }.joined()
            let n = binding.problems.count
            text += "\(path): error: \(n) problem\(n == 1 ? "" : "s") binding the weights to spec '\(graph.name)'; nothing was run\n"
            if let made = binding.madeFor { text += "\(path): note: the file was written by 'modelc init' for \(made)\n" }
            writeStderr(text)
            return nil
        } catch {
            writeStderr("\(error)\n")
            return nil
        }
    }

    /// Writes `weights` as F32 safetensors with the graph's parameter names, atomically.
    static func write(_ weights: Weights, graph: Graph, metadata: [String: String], to path: String) throws {
        var tensors: [(name: String, tensor: HostTensor)] = []
        for p in graph.parameters {
            guard let data = weights[p.name] else {
                throw TensorIOError(path: path, "the initializer produced no tensor '\(p.name)'")
            }
            tensors.append((p.name, try HostTensor(shape: p.shape, data: data)))
        }
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }

    static func render(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}

func writeStderr(_ s: String) {
    FileHandle.standardError.write(Data(s.utf8))
}
