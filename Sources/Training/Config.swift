// Training settings: defaults, the spec's optional `train:` section, then command-line flags
// (each later source overrides the earlier). Every value is validated here, with the place it
// came from in the message, so that a bad value in a spec or on the command line is a clear
// error and never a crash.

public struct TrainConfig: Sendable, Equatable {
    public var epochs = 1
    public var batch = 64
    public var lr = 3e-3
    public var optimizer = OptimizerSettings()
    public var schedule = Schedule.cosine(minimum: 0)
    /// Linear warm-up, in steps.
    public var warmup = 0
    public var labelSmoothing = 0.0
    public var seed: UInt64 = 0
    public var threads = 2
    public var limitTrain: Int?
    public var limitTest: Int?
    /// A checkpoint every this many steps (and at the end of every epoch).
    public var checkpointEvery = 200
    public var mean = 0.1307
    public var std = 0.3081
    /// The data directory (saved so that `--resume` alone finds it again).
    public var data = ""

    public init() {}

    /// Checks settings that depend on each other (after every source is applied).
    public func validate() throws(TrainingError) {
        if optimizer.nesterov && (optimizer.kind != .sgd || optimizer.momentum == 0) {
            throw TrainingError("error: nesterov needs --optimizer sgd and a momentum above 0")
        }
    }

    /// Keys of a spec's `train:` section and of the checkpoint's saved settings.
    public static let keys = ["epochs", "batch", "lr", "optimizer", "momentum", "nesterov", "weight_decay", "beta1", "beta2",
                              "schedule", "warmup", "label_smoothing", "seed", "threads", "limit_train", "limit_test",
                              "checkpoint_every", "mean", "std", "data"]

    /// Applies one setting. `place` prefixes errors ("spec.yaml:12:5" or "--lr").
    public mutating func set(_ key: String, _ value: String, place: String) throws(TrainingError) {
        func fail(_ expected: String) -> TrainingError {
            TrainingError("\(place): error: '\(key)' expects \(expected); found '\(value)'")
        }
        func int(_ range: ClosedRange<Int>) throws(TrainingError) -> Int {
            guard let v = Int(value), range.contains(v) else { throw fail("an integer from \(range.lowerBound) to \(range.upperBound)") }
            return v
        }
        func number(_ ok: (Double) -> Bool, _ what: String) throws(TrainingError) -> Double {
            guard let v = Double(value), v.isFinite, ok(v) else { throw fail(what) }
            return v
        }
        switch key {
        case "epochs": epochs = try int(1...100_000)
        case "batch": batch = try int(1...65_536)
        case "lr": lr = try number({ $0 > 0 }, "a positive number")
        case "optimizer":
            guard let k = OptimizerKind(rawValue: value.lowercased()) else { throw fail("sgd, adam or adamw") }
            optimizer.kind = k
        case "momentum": optimizer.momentum = try number({ $0 >= 0 && $0 < 1 }, "a number in [0, 1)")
        case "nesterov":
            guard let b = ["true": true, "false": false][value.lowercased()] else { throw fail("true or false") }
            optimizer.nesterov = b
        case "weight_decay": optimizer.weightDecay = try number({ $0 >= 0 }, "a number >= 0")
        case "beta1": optimizer.beta1 = try number({ $0 >= 0 && $0 < 1 }, "a number in [0, 1)")
        case "beta2": optimizer.beta2 = try number({ $0 >= 0 && $0 < 1 }, "a number in [0, 1)")
        case "schedule":
            guard let s = Schedule.parse(value) else { throw fail("constant, step:EVERY_EPOCHS[:GAMMA] or cosine[:MIN_LR]") }
            schedule = s
        case "warmup": warmup = try int(0...100_000_000)
        case "label_smoothing": labelSmoothing = try number({ $0 >= 0 && $0 <= 1 }, "a number in [0, 1]")
        case "seed":
            guard let s = UInt64(value) else { throw fail("a non-negative integer") }
            seed = s
        case "threads": threads = try int(1...1024)
        case "limit_train": limitTrain = try int(1...Int(Int32.max))
        case "limit_test": limitTest = try int(1...Int(Int32.max))
        case "checkpoint_every": checkpointEvery = try int(1...Int(Int32.max))
        case "mean": mean = try number({ _ in true }, "a number")
        case "std": std = try number({ $0 > 0 }, "a positive number")
        case "data":
            guard !value.isEmpty else { throw fail("a directory") }
            data = value
        default:
            throw TrainingError("\(place): error: unknown training setting '\(key)'; expected one of \(TrainConfig.keys.joined(separator: ", "))")
        }
    }

    /// Every setting as text (what `set` accepts back), for checkpoints and the run summary.
    public var values: [String: String] {
        var v: [String: String] = [
            "epochs": String(epochs), "batch": String(batch), "lr": String(lr), "optimizer": optimizer.kind.rawValue,
            "momentum": String(optimizer.momentum), "nesterov": String(optimizer.nesterov),
            "weight_decay": String(optimizer.weightDecay), "beta1": String(optimizer.beta1), "beta2": String(optimizer.beta2),
            "schedule": schedule.description, "warmup": String(warmup), "label_smoothing": String(labelSmoothing),
            "seed": String(seed), "threads": String(threads), "checkpoint_every": String(checkpointEvery),
            "mean": String(mean), "std": String(std),
        ]
        if !data.isEmpty { v["data"] = data }
        if let l = limitTrain { v["limit_train"] = String(l) }
        if let l = limitTest { v["limit_test"] = String(l) }
        return v
    }
}
