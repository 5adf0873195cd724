/// The one error type of this module.
///
/// Every problem with a file's content — truncation, bad magic, an unknown dtype, an offset past
/// the end — surfaces as a `TensorIOError` rather than a crash: tensor files come from outside
/// the program (downloads, other tools, users), so nothing in them may be trusted.
///
/// `message` is lowercase and says what was expected and what was found, in the style of the
/// compiler's diagnostics. `offset`, when known, is the byte offset in the file (for a `.gz`
/// file: in the decompressed bytes, or in the compressed bytes for a gzip framing error).
///
/// Rendered as `path: error: message` or `path:offset N: error: message`.
public struct TensorIOError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var offset: Int?
    public var message: String

    public init(path: String, offset: Int? = nil, _ message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        if let offset {
            return "\(path):offset \(offset): error: \(message)"
        }
        return "\(path): error: \(message)"
    }
}
