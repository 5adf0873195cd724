import Diagnostics
import Foundation

/// A name's value plus where it came from, so that an error caused by a `--set` value can say so.
struct Binding: Sendable {
    var value: Value
    /// Provenance notes carried along by every expression that reads this binding.
    var notes: [Note] = []
    /// A parameter whose value could not be computed (already reported): reading it fails
    /// without a diagnostic of its own, instead of as "not defined".
    var poisoned = false
}

/// Lexical scope: block parameters and `let` values over the model's parameters.
final class Environment {
    private var values: [String: Binding] = [:]
    private(set) var order: [String] = []
    let parent: Environment?
    /// Every successful lookup of a name defined in this scope, in order: the root's log tells
    /// which model parameters anything read (to report a `--set` that changes nothing).
    private(set) var readLog: [String] = []
    /// List items and string bytes that expressions may still build or compare, shared by the
    /// whole scope chain: `p2: $(p1 + p1)` or `$([p1, p1])`, `p3: ...` would otherwise need
    /// gigabytes (or exponential time to compare) in a few lines.
    final class Budget { var remaining = 1 << 20 }
    let budget: Budget

    init(parent: Environment?) {
        self.parent = parent
        budget = parent?.budget ?? Budget()
    }

    func define(_ name: String, _ binding: Binding) {
        if values[name] == nil { order.append(name) }
        values[name] = binding
    }

    func lookup(_ name: String) -> Binding? {
        if let b = values[name] {
            readLog.append(name)
            return b
        }
        return parent?.lookup(name)
    }

    var allNames: [String] { order + (parent?.allNames ?? []) }
}

/// The functions callable in expressions, each documented in Specs/README.md.
let builtinFunctions = ["make_divisible", "ceil", "floor", "round", "int", "float", "min", "max", "abs", "len"]

struct Evaluator {
    let env: Environment
    var notes: [Note] = []

    init(env: Environment) { self.env = env }

    mutating func evaluate(_ e: Expr) throws(ExpressionError) -> Value {
        switch e {
        case .literal(let v):
            return v
        case .name(let n, let offset):
            guard let b = env.lookup(n) else {
                throw ExpressionError(id: .undefinedName, message: "'\(n)' is not defined here\(didYouMean(n, env.allNames))", offset: offset)
            }
            guard !b.poisoned else {
                throw ExpressionError(id: .undefinedName, message: "'\(n)' has no value", offset: offset, poisoned: true)
            }
            notes += b.notes
            return b.value
        case .list(let items):
            var out: [Value] = []
            for i in items { out.append(try evaluate(i)) }
            return try account(.list(out))
        case .unary(let op, let x):
            let v = try evaluate(x)
            switch (op, v) {
            case ("-", .int(let i)):
                guard i != .min else { throw ExpressionError(id: .expressionError, message: "integer overflow in -\(i)", offset: 0) }
                return .int(-i)
            case ("-", .float(let d)): return .float(-d)
            case ("not", .bool(let b)): return .bool(!b)
            default:
                throw ExpressionError(id: .expressionError, message: "'\(op)' cannot be applied to \(v.typeDescription)", offset: 0)
            }
        case .conditional(let value, let condition, let otherwise):
            guard case .bool(let c) = try evaluate(condition) else {
                throw ExpressionError(id: .expressionError, message: "the condition of 'if' must be a boolean", offset: 0)
            }
            return try evaluate(c ? value : otherwise)
        case .index(let base, let index, let offset):
            let b = try evaluate(base), i = try evaluate(index)
            guard case .list(let items) = b else {
                throw ExpressionError(id: .expressionError, message: "only lists can be indexed; found \(b.typeDescription)", offset: offset)
            }
            guard case .int(var k) = i else {
                throw ExpressionError(id: .expressionError, message: "a list index must be an integer; found \(i.typeDescription)", offset: offset)
            }
            if k < 0 { k += items.count }
            guard k >= 0, k < items.count else {
                throw ExpressionError(id: .expressionError, message: "index \(i) is out of range for a list of \(items.count)", offset: offset)
            }
            return items[k]
        case .binary(let op, let l, let r, let offset):
            if op == "and" || op == "or" {
                guard case .bool(let a) = try evaluate(l) else {
                    throw ExpressionError(id: .expressionError, message: "'\(op)' expects booleans", offset: offset)
                }
                if (op == "and" && !a) || (op == "or" && a) { return .bool(a) }
                guard case .bool(let b) = try evaluate(r) else {
                    throw ExpressionError(id: .expressionError, message: "'\(op)' expects booleans", offset: offset)
                }
                return .bool(b)
            }
            return try binary(op, try evaluate(l), try evaluate(r), offset: offset)
        case .call(let name, let args, let offset):
            var values: [Value] = []
            for a in args { values.append(try evaluate(a)) }
            return try call(name, values, offset: offset)
        }
    }

    private func binary(_ op: String, _ a: Value, _ b: Value, offset: Int) throws(ExpressionError) -> Value {
        func fail(_ message: String) -> ExpressionError {
            ExpressionError(id: .expressionError, message: message, offset: offset)
        }
        switch op {
        case "==", "!=":
            if case .list = a { _ = try account(a, offset: offset) }
            return .bool(equal(a, b) == (op == "=="))
        case "<", "<=", ">", ">=":
            let ordering: Bool
            if let x = a.asDouble, let y = b.asDouble {
                ordering = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y
            } else if case .string(let x) = a, case .string(let y) = b {
                ordering = op == "<" ? x < y : op == "<=" ? x <= y : op == ">" ? x > y : x >= y
            } else {
                throw fail("'\(op)' cannot compare \(a.typeDescription) with \(b.typeDescription)")
            }
            return .bool(ordering)
        default: break
        }
        if op == "+", case .list(let x) = a, case .list(let y) = b { return try account(.list(x + y), offset: offset) }
        if op == "+", case .string(let x) = a, case .string(let y) = b {
            env.budget.remaining -= x.utf8.count + y.utf8.count
            guard env.budget.remaining >= 0 else { throw Self.overBudget(offset) }
            return .string(x + y)
        }
        if case .int(let x) = a, case .int(let y) = b {
            func checked(_ r: (partialValue: Int, overflow: Bool)) throws(ExpressionError) -> Value {
                guard !r.overflow else { throw fail("integer overflow in \(x) \(op) \(y)") }
                return .int(r.partialValue)
            }
            switch op {
            case "+": return try checked(x.addingReportingOverflow(y))
            case "-": return try checked(x.subtractingReportingOverflow(y))
            case "*": return try checked(x.multipliedReportingOverflow(by: y))
            case "//", "%":
                guard y != 0 else { throw fail("division by zero in \(x) \(op) \(y)") }
                guard !(x == .min && y == -1) else { throw fail("integer overflow in \(x) \(op) \(y)") }
                var q = x / y, m = x % y
                if m != 0, (m < 0) != (y < 0) { q -= 1; m += y }   // floor like Python
                return .int(op == "//" ? q : m)
            case "**":
                if y < 0 { return .float(pow(Double(x), Double(y))) }
                var result = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 {
                        let r = result.multipliedReportingOverflow(by: base)
                        guard !r.overflow else { throw fail("integer overflow in \(x) ** \(y)") }
                        result = r.partialValue
                    }
                    e >>= 1
                    if e > 0 {
                        let r = base.multipliedReportingOverflow(by: base)
                        guard !r.overflow else { throw fail("integer overflow in \(x) ** \(y)") }
                        base = r.partialValue
                    }
                }
                return .int(result)
            case "/":
                guard y != 0 else { throw fail("division by zero in \(x) / \(y)") }
                return .float(Double(x) / Double(y))
            default: break
            }
        }
        guard let x = a.asDouble, let y = b.asDouble else {
            throw fail("'\(op)' cannot be applied to \(a.typeDescription) and \(b.typeDescription)")
        }
        let r: Double
        switch op {
        case "+": r = x + y
        case "-": r = x - y
        case "*": r = x * y
        case "/":
            guard y != 0 else { throw fail("division by zero") }
            r = x / y
        case "//":
            guard y != 0 else { throw fail("division by zero") }
            r = (x / y).rounded(.down)
        case "%":
            guard y != 0 else { throw fail("division by zero") }
            r = x - y * (x / y).rounded(.down)
        case "**": r = pow(x, y)
        default: throw fail("unknown operator '\(op)'")
        }
        guard r.isFinite else { throw fail("\(formatNumber(x)) \(op) \(formatNumber(y)) is not a finite number") }
        return .float(r)
    }

    /// Charges a list built or compared by an expression to the spec's budget, counting nested
    /// lists every time they occur (as any walk over the value does), and keeps lists within
    /// YAML's 128 levels of nesting (deeper values overflow the stack when they are freed).
    @discardableResult
    private func account(_ v: Value, offset: Int = 0) throws(ExpressionError) -> Value {
        guard let m = v.measure(limit: env.budget.remaining) else {
            env.budget.remaining = -1
            throw Self.overBudget(offset)
        }
        env.budget.remaining -= m.nodes
        guard m.depth <= 128 else {
            throw ExpressionError(id: .expressionError, message: "lists nest deeper than 128 levels", offset: offset)
        }
        return v
    }

    private static func overBudget(_ offset: Int) -> ExpressionError {
        ExpressionError(id: .expressionError, message: "expressions in this spec build or compare more than \(1 << 20) list items and string bytes in total", offset: offset)
    }

    private func equal(_ a: Value, _ b: Value) -> Bool {
        if let x = a.asDouble, let y = b.asDouble { return x == y }
        return a == b
    }

    private func call(_ name: String, _ args: [Value], offset: Int) throws(ExpressionError) -> Value {
        func fail(_ message: String) -> ExpressionError {
            ExpressionError(id: .expressionError, message: message, offset: offset)
        }
        func number(_ i: Int) throws(ExpressionError) -> Double {
            guard i < args.count, let d = args[i].asDouble else {
                throw fail("\(name)() expects a number as argument \(i + 1)\(i < args.count ? "; found \(args[i].typeDescription)" : "")")
            }
            return d
        }
        func toInt(_ d: Double) throws(ExpressionError) -> Value {
            guard d.isFinite, abs(d) < 9.0e18 else { throw fail("\(name)() result \(d) does not fit in an integer") }
            return .int(Int(d))
        }
        func arity(_ range: ClosedRange<Int>) throws(ExpressionError) {
            guard range.contains(args.count) else {
                let want = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
                throw fail("\(name)() takes \(want) argument\(range.upperBound == 1 ? "" : "s"); found \(args.count)")
            }
        }
        switch name {
        case "ceil": try arity(1...1); return try toInt(try number(0).rounded(.up))
        case "floor": try arity(1...1); return try toInt(try number(0).rounded(.down))
        case "round": try arity(1...1); return try toInt(try number(0).rounded(.toNearestOrEven))   // Python 3 rounding
        case "int": try arity(1...1); return try toInt(try number(0).rounded(.towardZero))
        case "float": try arity(1...1); return .float(try number(0))
        case "abs":
            try arity(1...1)
            if case .int(let i) = args[0], i != .min { return .int(abs(i)) }
            return .float(abs(try number(0)))
        case "len":
            try arity(1...1)
            guard case .list(let l) = args[0] else { throw fail("len() expects a list; found \(args[0].typeDescription)") }
            return .int(l.count)
        case "min", "max":
            var items = args
            if args.count == 1, case .list(let l) = args[0] { items = l }
            guard !items.isEmpty else { throw fail("\(name)() expects at least one value") }
            var best = items[0]
            for v in items {
                guard let x = v.asDouble, let y = best.asDouble else { throw fail("\(name)() expects numbers; found \(v.typeDescription)") }
                if name == "min" ? x < y : x > y { best = v }
            }
            return best
        case "make_divisible":
            // torchvision's _make_divisible: round to the nearest multiple of divisor, never below
            // min_value, and never more than 10% below v.
            try arity(1...3)
            let v = try number(0)
            let divisor = args.count > 1 ? try number(1) : 8
            let minValue = args.count > 2 ? try number(2) : divisor
            guard divisor >= 1, divisor == divisor.rounded(), v.isFinite, abs(v) < 1e15 else {
                throw fail("make_divisible() expects a finite value and a positive integer divisor")
            }
            var new = max(minValue, ((v + divisor / 2) / divisor).rounded(.towardZero) * divisor)
            if new < 0.9 * v { new += divisor }
            return try toInt(new)
        default:
            throw ExpressionError(id: .undefinedName, message: "unknown function '\(name)'\(didYouMean(name, builtinFunctions))", offset: offset)
        }
    }
}
