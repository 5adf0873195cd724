import Diagnostics

/// The command line as a source file, so that `--set` and `--variant` values can be quoted in
/// diagnostics with a caret like any spec line (`<command line>:1:30: error: ...`).
public struct CommandLineSource: Sendable {
    public let args: [String]
    public let file: SourceFile
    private let starts: [Int]

    public init(_ args: [String]) {
        self.args = args
        var text = "modelc"
        var starts: [Int] = []
        for a in args {
            text += " "
            starts.append(text.unicodeScalars.count + 1)
            text += a
        }
        self.starts = starts
        self.file = SourceFile(path: "<command line>", text: text.replacingOccurrences(of: "\n", with: " "))
    }

    /// The range of argument `i` (0-based in `args`); `skip` scalars into it (e.g. past `--set=`).
    public func range(of i: Int, skip: Int = 0) -> SourceRange? {
        guard i >= 0, i < args.count else { return nil }
        let start = starts[i] + skip
        return SourceRange(file: file, start: SourcePosition(line: 1, column: start),
                           end: SourcePosition(line: 1, column: starts[i] + args[i].unicodeScalars.count))
    }
}

/// A usage error: exit status 2, printed as `modelc: error: ...` plus a hint.
public struct UsageError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Flag parsing shared by every subcommand: `--flag value`, `--flag=value`, boolean `--flag`,
/// repeatable `--set`, and positionals. Unknown flags are errors with a suggestion.
struct ParsedArguments {
    var positionals: [(value: String, index: Int)] = []
    var values: [String: (value: String, index: Int, skip: Int)] = [:]
    var repeated: [String: [(value: String, index: Int, skip: Int)]] = [:]
    var switches: Set<String> = []

    init(_ cl: CommandLineSource, from first: Int, valueFlags: [String], repeatableFlags: [String] = [], switchFlags: [String] = []) throws(UsageError) {
        var i = first
        let args = cl.args
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") && a.count > 2 {
                var name = String(a.dropFirst(2))
                var value: String?
                var index = i, skip = 0
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    skip = name.distance(from: name.startIndex, to: eq) + 3
                    name = String(name[..<eq])
                }
                if switchFlags.contains(name) {
                    guard value == nil else { throw UsageError("--\(name) takes no value") }
                    switches.insert(name)
                } else if valueFlags.contains(name) || repeatableFlags.contains(name) {
                    if value == nil {
                        guard i + 1 < args.count else { throw UsageError("--\(name) needs a value") }
                        i += 1
                        value = args[i]
                        index = i
                    }
                    if repeatableFlags.contains(name) {
                        repeated[name, default: []].append((value!, index, skip))
                    } else {
                        guard values[name] == nil else { throw UsageError("--\(name) is given twice") }
                        values[name] = (value!, index, skip)
                    }
                } else {
                    let all = (valueFlags + repeatableFlags + switchFlags)
                    throw UsageError("unknown option '--\(name)'\(didYouMean(name, all))")
                }
            } else if a == "-o", valueFlags.contains("output") {
                guard i + 1 < args.count else { throw UsageError("-o needs a value") }
                i += 1
                values["output"] = (args[i], i, 0)
            } else if a.hasPrefix("-") && a.count > 1 && Double(a) == nil {
                throw UsageError("unknown option '\(a)'")
            } else {
                positionals.append((a, i))
            }
            i += 1
        }
    }

    func int(_ name: String, range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let v = values[name]?.value else { return nil }
        guard let i = Int(v), range.contains(i) else {
            throw UsageError("--\(name) expects an integer from \(range.lowerBound) to \(range.upperBound); found '\(v)'")
        }
        return i
    }
}
