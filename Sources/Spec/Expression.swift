import Diagnostics

/// The expression language of `$(...)`: Python-flavoured arithmetic over ints, floats, bools,
/// strings and lists, so that torchvision's formulas read the same here:
///
///     $(make_divisible(32 * width))   $(ceil(3 * depth))   $(max(1, in // 4))
///     $(2 if stride == 1 else 1)      $(layers[2])          $(round(in * t))
///
/// Operators by precedence: `x if c else y`, `or`, `and`, `not`, comparisons, `+ -`,
/// `* / // %`, unary `-`, `**`, calls/indexing. `/` always gives a float; `//` and `%` floor like
/// Python's; integer arithmetic is checked for overflow.
indirect enum Expr: Sendable {
    case literal(Value)
    case name(String, offset: Int)
    case list([Expr])
    case unary(String, Expr)
    case binary(String, Expr, Expr, offset: Int)
    case call(String, [Expr], offset: Int)
    case index(Expr, Expr, offset: Int)
    case conditional(Expr, condition: Expr, otherwise: Expr)
}

/// An error in an expression, at a character offset into its text.
struct ExpressionError: Error {
    var id: DiagnosticID
    var message: String
    var offset: Int
    /// The expression read a parameter whose own value failed (already reported): fail quietly.
    var poisoned = false
}

struct ExpressionParser {
    private let chars: [Character]
    private var pos = 0
    private var depth = 0
    private static let maxDepth = 64
    private var operators = 0
    private static let maxOperators = 256

    init(_ text: String) { chars = Array(text) }

    static func parse(_ text: String) throws(ExpressionError) -> Expr {
        var p = ExpressionParser(text)
        let e = try p.conditional()
        p.skipSpace()
        guard p.pos == p.chars.count else {
            throw ExpressionError(id: .expressionSyntax, message: "unexpected '\(p.chars[p.pos])' in expression", offset: p.pos)
        }
        return e
    }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos] == " " || chars[pos] == "\t" || chars[pos] == "\n" { pos += 1 }
    }

    private mutating func peekWord() -> String? {
        skipSpace()
        var end = pos
        while end < chars.count, chars[end].isLetter || chars[end] == "_" || (end > pos && chars[end].isNumber) { end += 1 }
        return end > pos ? String(chars[pos..<end]) : nil
    }

    private mutating func accept(_ token: String) -> Bool {
        skipSpace()
        let t = Array(token)
        guard pos + t.count <= chars.count, Array(chars[pos..<pos + t.count]) == t else { return false }
        if let last = t.last, last.isLetter {   // keywords must end at a word boundary
            let next = pos + t.count
            if next < chars.count, chars[next].isLetter || chars[next].isNumber || chars[next] == "_" { return false }
        }
        pos += t.count
        return true
    }

    private mutating func expect(_ token: String) throws(ExpressionError) {
        guard accept(token) else {
            let found = pos < chars.count ? "'\(chars[pos])'" : "the end of the expression"
            throw ExpressionError(id: .expressionSyntax, message: "expected '\(token)' in expression; found \(found)", offset: pos)
        }
    }

    /// Counts one link of a left-associative chain (`1 + 1 + ...`, `a[0][0]...`): a chain builds
    /// a tree as deep as it is long, and evaluating (or freeing) it recurses that deep.
    private mutating func chain(_ at: Int) throws(ExpressionError) {
        operators += 1
        guard operators <= Self.maxOperators else {
            throw ExpressionError(id: .expressionSyntax, message: "expression has more than \(Self.maxOperators) operators", offset: at)
        }
    }

    private mutating func nested<T>(_ body: (inout ExpressionParser) throws(ExpressionError) -> T) throws(ExpressionError) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else {
            throw ExpressionError(id: .expressionSyntax, message: "expression nests deeper than \(Self.maxDepth) levels", offset: pos)
        }
        return try body(&self)
    }

    mutating func conditional() throws(ExpressionError) -> Expr {
        try nested { (p: inout ExpressionParser) throws(ExpressionError) -> Expr in
            let value = try p.or()
            guard p.accept("if") else { return value }
            let condition = try p.or()
            try p.expect("else")
            let otherwise = try p.conditional()
            return .conditional(value, condition: condition, otherwise: otherwise)
        }
    }

    private mutating func or() throws(ExpressionError) -> Expr {
        var lhs = try and()
        while true {
            let at = pos
            guard accept("or") else { return lhs }
            try chain(at)
            lhs = .binary("or", lhs, try and(), offset: at)
        }
    }

    private mutating func and() throws(ExpressionError) -> Expr {
        var lhs = try not()
        while true {
            let at = pos
            guard accept("and") else { return lhs }
            try chain(at)
            lhs = .binary("and", lhs, try not(), offset: at)
        }
    }

    private mutating func not() throws(ExpressionError) -> Expr {
        if accept("not") { return .unary("not", try nested { (p: inout ExpressionParser) throws(ExpressionError) in try p.not() }) }
        return try comparison()
    }

    private mutating func comparison() throws(ExpressionError) -> Expr {
        let lhs = try additive()
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            skipSpace()
            let at = pos
            if accept(op) { return .binary(op, lhs, try additive(), offset: at) }
        }
        return lhs
    }

    private mutating func additive() throws(ExpressionError) -> Expr {
        var lhs = try multiplicative()
        while true {
            skipSpace()
            let at = pos
            if accept("+") { try chain(at); lhs = .binary("+", lhs, try multiplicative(), offset: at) }
            else if accept("-") { try chain(at); lhs = .binary("-", lhs, try multiplicative(), offset: at) }
            else { return lhs }
        }
    }

    private mutating func multiplicative() throws(ExpressionError) -> Expr {
        var lhs = try unary()
        while true {
            skipSpace()
            let at = pos
            if accept("//") { try chain(at); lhs = .binary("//", lhs, try unary(), offset: at) }
            else if accept("*"), !(pos < chars.count && chars[pos] == "*") { try chain(at); lhs = .binary("*", lhs, try unary(), offset: at) }
            else if pos != at { pos = at; return lhs }   // it was '**': leave it to power()
            else if accept("/") { try chain(at); lhs = .binary("/", lhs, try unary(), offset: at) }
            else if accept("%") { try chain(at); lhs = .binary("%", lhs, try unary(), offset: at) }
            else { return lhs }
        }
    }

    private mutating func unary() throws(ExpressionError) -> Expr {
        if accept("-") { return .unary("-", try nested { (p: inout ExpressionParser) throws(ExpressionError) in try p.unary() }) }
        if accept("+") { return try nested { (p: inout ExpressionParser) throws(ExpressionError) in try p.unary() } }
        return try power()
    }

    private mutating func power() throws(ExpressionError) -> Expr {
        let base = try postfix()
        skipSpace()
        let at = pos
        guard accept("**") else { return base }
        // Right-associative, and binds tighter than a unary minus on its left (as in Python).
        return .binary("**", base, try nested { (p: inout ExpressionParser) throws(ExpressionError) in try p.unary() }, offset: at)
    }

    private mutating func postfix() throws(ExpressionError) -> Expr {
        var e = try primary()
        while true {
            skipSpace()
            let at = pos
            guard accept("[") else { return e }
            try chain(at)
            let i = try conditional()
            try expect("]")
            e = .index(e, i, offset: at)
        }
    }

    private mutating func primary() throws(ExpressionError) -> Expr {
        skipSpace()
        guard pos < chars.count else {
            throw ExpressionError(id: .expressionSyntax, message: "expected a value in expression; found the end of the expression", offset: pos)
        }
        let c = chars[pos]
        let start = pos
        if c == "(" {
            pos += 1
            let e = try conditional()
            try expect(")")
            return e
        }
        if c == "[" {
            pos += 1
            var items: [Expr] = []
            if !accept("]") {
                repeat { items.append(try conditional()) } while accept(",") && !(peekIsClosing("]"))
                try expect("]")
            }
            return .list(items)
        }
        if c == "'" || c == "\"" {
            pos += 1
            var s = ""
            while pos < chars.count, chars[pos] != c { s.append(chars[pos]); pos += 1 }
            guard pos < chars.count else {
                throw ExpressionError(id: .expressionSyntax, message: "unterminated string in expression", offset: start)
            }
            pos += 1
            return .literal(.string(s))
        }
        if c.isNumber || (c == "." && pos + 1 < chars.count && chars[pos + 1].isNumber) {
            var end = pos
            while end < chars.count, chars[end].isNumber || chars[end] == "." || chars[end] == "_"
                    || chars[end] == "e" || chars[end] == "E"
                    || ((chars[end] == "-" || chars[end] == "+") && end > pos && (chars[end - 1] == "e" || chars[end - 1] == "E")) {
                end += 1
            }
            let text = String(chars[pos..<end]).replacingOccurrences(of: "_", with: "")
            pos = end
            if let i = Int(text) { return .literal(.int(i)) }
            if text.allSatisfy(\.isNumber) {
                throw ExpressionError(id: .valueOutOfRange, message: "integer literal \(text) does not fit in 64 bits", offset: start)
            }
            if let d = Double(text), d.isFinite { return .literal(.float(d)) }
            throw ExpressionError(id: .expressionSyntax, message: "malformed number '\(text)' in expression", offset: start)
        }
        if let word = peekWord() {
            pos += word.count
            switch word {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "null", "None": return .literal(.null)
            case "if", "else", "and", "or", "not":
                throw ExpressionError(id: .expressionSyntax, message: "expected a value in expression; found '\(word)'", offset: start)
            default: break
            }
            if accept("(") {
                var args: [Expr] = []
                if !accept(")") {
                    repeat { args.append(try conditional()) } while accept(",") && !peekIsClosing(")")
                    try expect(")")
                }
                return .call(word, args, offset: start)
            }
            return .name(word, offset: start)
        }
        throw ExpressionError(id: .expressionSyntax, message: "unexpected '\(c)' in expression", offset: pos)
    }

    private mutating func peekIsClosing(_ c: Character) -> Bool {
        skipSpace()
        return pos < chars.count && chars[pos] == c
    }
}

import Foundation
