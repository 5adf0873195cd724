// Optimizers over the flat parameter vector, with PyTorch's update rules (torch.optim, the
// default single-tensor "foreach=False" formulas):
//   SGD:   g = ∇ + wd·θ;  b = g (first step) or μ·b + (1 - dampening)·g;  g = g + μ·b (Nesterov)
//          or b;  θ -= lr·g
//   Adam:  g = ∇ + wd·θ;  m = β1·m + (1 - β1)·g;  v = β2·v + (1 - β2)·g²;
//          θ -= (lr / (1 - β1^t)) · m / (√v / √(1 - β2^t) + ε)
//   AdamW: θ *= 1 - lr·wd, then Adam without the wd term.
// State (momentum buffers, m, v, step count) is flat too, so a checkpoint stores it as-is.

import Kernels

public enum OptimizerKind: String, Sendable, CaseIterable {
    case sgd, adam, adamw
}

public struct OptimizerSettings: Sendable, Equatable {
    public var kind: OptimizerKind = .adam
    public var momentum: Double = 0.9
    public var nesterov = false
    public var dampening: Double = 0
    public var weightDecay: Double = 0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public init() {}
}

public final class Optimizer: @unchecked Sendable {
    public let settings: OptimizerSettings
    public let count: Int
    /// Steps taken (Adam's t; SGD's "first step" flag).
    public private(set) var steps = 0
    let first: FloatStorage
    let second: FloatStorage

    public init(_ settings: OptimizerSettings, count: Int) {
        self.settings = settings
        self.count = count
        let usesFirst = settings.kind != .sgd || settings.momentum != 0
        first = FloatStorage(count: usesFirst ? count : 0)
        second = FloatStorage(count: settings.kind == .sgd ? 0 : count)
    }

    /// Named state for checkpoints.
    public var state: [(name: String, values: [Float])] {
        var s: [(String, [Float])] = []
        if first.count > 0 { s.append((settings.kind == .sgd ? "momentum_buffer" : "exp_avg", first.array)) }
        if second.count > 0 { s.append(("exp_avg_sq", second.array)) }
        return s
    }

    public func restore(steps: Int, state: [String: [Float]]) throws(TrainingError) {
        for (name, values) in self.state {
            guard let v = state[name], v.count == values.count else {
                throw TrainingError("optimizer state '\(name)' is missing or has the wrong size")
            }
            (name == "exp_avg_sq" ? second : first).assign(v)
        }
        self.steps = steps
    }

    /// One update of `theta` (count floats) with gradient `grad` at learning rate `lr`.
    public func step(theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>, lr: Double, threads: Int) {
        steps += 1
        let s = settings
        let t = SendableMutablePointer(theta), g = SendablePointer(grad)
        let m = SendableMutablePointer(first.pointer), v = SendableMutablePointer(second.pointer)
        let wd = Float(s.weightDecay), lrf = Float(lr)
        let isFirst = steps == 1
        switch s.kind {
        case .sgd:
            let mu = Float(s.momentum), damp = Float(1 - s.dampening), nesterov = s.nesterov
            parallel(count, threads: threads, work: count * 4) { r in
                for i in r {
                    var d = g.pointer[i]
                    if wd != 0 { d += wd * t.pointer[i] }
                    if mu != 0 {
                        let b = isFirst ? d : mu * m.pointer[i] + damp * d
                        m.pointer[i] = b
                        d = nesterov ? d + mu * b : b
                    }
                    t.pointer[i] -= lrf * d
                }
            }
        case .adam, .adamw:
            let b1 = Float(s.beta1), b2 = Float(s.beta2), eps = Float(s.epsilon)
            let bc1 = 1 - pow(s.beta1, Double(steps)), bc2 = 1 - pow(s.beta2, Double(steps))
            let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
            let decoupled = s.kind == .adamw
            let shrink = Float(1 - lr * s.weightDecay)
            parallel(count, threads: threads, work: count * 8) { r in
                for i in r {
                    var d = g.pointer[i]
                    var p = t.pointer[i]
                    if decoupled { p *= shrink } else if wd != 0 { d += wd * p }
                    let mi = b1 * m.pointer[i] + (1 - b1) * d
                    let vi = b2 * v.pointer[i] + (1 - b2) * d * d
                    m.pointer[i] = mi
                    v.pointer[i] = vi
                    p -= stepSize * mi / (vi.squareRoot() / bc2Sqrt + eps)
                    t.pointer[i] = p
                }
            }
        }
    }
}

@inline(__always)
func pow(_ x: Double, _ y: Double) -> Double {
    // Integer powers only (y = step count): repeated squaring, exact to the last ulp of Double.
    var result = 1.0, base = x, e = Int(y)
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}

/// Learning-rate schedules, a pure function of the global step (so resuming needs no state).
public enum Schedule: Sendable, Equatable {
    case constant
    /// × gamma every `every` epochs (torch StepLR stepped per epoch).
    case step(every: Int, gamma: Double)
    /// Cosine annealing from the base rate to `minimum` over all steps of the run.
    case cosine(minimum: Double)

    /// Rate at global step `step` (0-based) of `totalSteps`, in epoch `epoch` (0-based), with
    /// a linear warm-up over the first `warmup` steps from base/warmup up to base.
    public func rate(base: Double, step: Int, epoch: Int, totalSteps: Int, warmup: Int) -> Double {
        var lr: Double
        switch self {
        case .constant: lr = base
        case .step(let every, let gamma): lr = base * pow(gamma, Double(epoch / max(1, every)))
        case .cosine(let minimum):
            let t = Double(step) / Double(max(1, totalSteps))
            lr = minimum + (base - minimum) * 0.5 * (1 + cosPi(t))
        }
        if warmup > 0 && step < warmup { lr *= Double(step + 1) / Double(warmup) }
        return lr
    }

    public var description: String {
        switch self {
        case .constant: "constant"
        case .step(let every, let gamma): "step:\(every):\(gamma)"
        case .cosine(let minimum): minimum == 0 ? "cosine" : "cosine:\(minimum)"
        }
    }

    /// Parses `constant`, `step:EVERY[:GAMMA]`, `cosine[:MIN]`.
    public static func parse(_ text: String) -> Schedule? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "constant" where parts.count == 1: return .constant
        case "cosine" where parts.count <= 2:
            guard parts.count == 1 else {
                guard let m = Double(parts[1]), m >= 0, m.isFinite else { return nil }
                return .cosine(minimum: m)
            }
            return .cosine(minimum: 0)
        case "step" where parts.count == 2 || parts.count == 3:
            guard let every = Int(parts[1]), every >= 1 else { return nil }
            let gamma = parts.count == 3 ? Double(parts[2]) : 0.1
            guard let g = gamma, g > 0, g.isFinite else { return nil }
            return .step(every: every, gamma: g)
        default: return nil
        }
    }
}

/// cos(π t) for t in [0, 1] via Foundation-free Taylor series around the nearest of 0, ½, 1.
func cosPi(_ t: Double) -> Double {
    // Reduce to x = π(t - k/2) with |x| ≤ π/4, then cos or ∓sin series (13 terms: < 1e-16).
    let k = (t * 2).rounded()
    let x = Double.pi * (t - k / 2)
    var c = 1.0, s = x, term = 1.0, sterm = x
    for n in 1...10 {
        term *= -x * x / Double((2 * n - 1) * (2 * n))
        sterm *= -x * x / Double((2 * n) * (2 * n + 1))
        c += term; s += sterm
    }
    switch Int(k) & 3 {
    case 0: return c
    case 1: return -s
    case 2: return -c
    default: return s
    }
}
