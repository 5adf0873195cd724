import CYAML
import Diagnostics

/// One libyaml event, copied out of C memory so that the C event can be freed at once.
enum YAMLEvent {
    case streamStart
    case streamEnd(SourceRange)
    case documentStart(SourceRange)
    case documentEnd
    case alias(anchor: String, range: SourceRange)
    case scalar(String, anchor: String?, tag: String?, plain: Bool, range: SourceRange)
    case collectionStart(mapping: Bool, anchor: String?, tag: String?, flow: Bool, range: SourceRange)
    case collectionEnd(SourceRange)
}

/// Pulls events from libyaml's event API over bytes the caller keeps alive.
///
/// The parser struct lives on the heap because `yaml_parser_set_input_string` stores a pointer
/// to it (as its read handler's data): a Swift local could move between calls.
final class EventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let event: UnsafeMutablePointer<yaml_event_t>
    private let initialized: Bool
    private let map: SourceMap
    private let file: SourceFile

    /// `input` must stay valid for the reader's whole life.
    init(input: UnsafePointer<UInt8>, count: Int, map: SourceMap, file: SourceFile) {
        self.map = map
        self.file = file
        parser = .allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        event = .allocate(capacity: 1)
        event.initialize(to: yaml_event_t())
        initialized = yaml_parser_initialize(parser) != 0
        if initialized {
            yaml_parser_set_input_string(parser, input, count)
        }
    }

    deinit {
        if initialized { yaml_parser_delete(parser) }
        parser.deinitialize(count: 1)
        parser.deallocate()
        event.deinitialize(count: 1)
        event.deallocate()
    }

    /// The next event, or the `yaml-syntax` diagnostic for libyaml's error.
    func next() throws(Diagnostic) -> YAMLEvent {
        guard initialized else {
            throw Diagnostic(.yamlSyntax, "libyaml could not allocate its parser", at: nil)
        }
        guard yaml_parser_parse(parser, event) != 0 else { throw syntaxError() }
        defer { yaml_event_delete(event) }
        return convert(event.pointee)
    }

    private func convert(_ e: yaml_event_t) -> YAMLEvent {
        let range = SourceRange(file: file, start: position(e.start_mark), end: position(e.end_mark))
        switch e.type {
        case YAML_STREAM_END_EVENT:
            return .streamEnd(range)
        case YAML_DOCUMENT_START_EVENT:
            return .documentStart(range)
        case YAML_DOCUMENT_END_EVENT:
            return .documentEnd
        case YAML_ALIAS_EVENT:
            return .alias(anchor: Self.string(e.data.alias.anchor) ?? "", range: range)
        case YAML_SCALAR_EVENT:
            let s = e.data.scalar
            let value = s.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: Int(clamping: s.length)), as: UTF8.self)
            } ?? ""
            let tag = Self.string(s.tag)
            // `plain_implicit` alone is not enough: libyaml sets it for the non-specific tag `! 5`.
            let plain = s.style == YAML_PLAIN_SCALAR_STYLE && tag == nil
            return .scalar(value, anchor: Self.string(s.anchor), tag: tag, plain: plain, range: range)
        case YAML_SEQUENCE_START_EVENT:
            let s = e.data.sequence_start
            return .collectionStart(mapping: false, anchor: Self.string(s.anchor), tag: Self.string(s.tag),
                                    flow: s.style == YAML_FLOW_SEQUENCE_STYLE, range: range)
        case YAML_MAPPING_START_EVENT:
            let m = e.data.mapping_start
            return .collectionStart(mapping: true, anchor: Self.string(m.anchor), tag: Self.string(m.tag),
                                    flow: m.style == YAML_FLOW_MAPPING_STYLE, range: range)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            return .collectionEnd(range)
        default:
            return .streamStart
        }
    }

    private func position(_ mark: yaml_mark_t) -> SourcePosition {
        map.position(index: Int(clamping: mark.index))
    }

    /// libyaml's error as a diagnostic: its `problem` (and `context`), lowercased, at the problem
    /// mark, with a note at the context mark. Reader errors (bad UTF-8, control characters) only
    /// set a byte offset, so their position is computed from it.
    private func syntaxError() -> Diagnostic {
        let p = parser.pointee
        var message = Self.string(p.problem)?.lowercased() ?? "libyaml failed without saying why"
        let start: SourcePosition
        if p.error == YAML_READER_ERROR {
            start = map.position(byteOffset: Int(clamping: p.problem_offset))
            message += Self.describe(value: Int(p.problem_value), for: message)
        } else if p.error == YAML_MEMORY_ERROR {
            return Diagnostic(.yamlSyntax, "libyaml ran out of memory", at: nil)
        } else {
            start = position(p.problem_mark)
        }
        var notes: [Note] = []
        if let context = Self.string(p.context)?.lowercased() {
            message += " " + context
            let at = position(p.context_mark)
            notes.append(Note(Self.contextNote(context), at: SourceRange(file: file, start: at, end: at)))
        }
        return Diagnostic(.yamlSyntax, message, at: SourceRange(file: file, start: start, end: start), notes: notes)
    }

    /// " (byte 0xff)" or " (found U+0000)" after a reader error, when libyaml says which.
    private static func describe(value: Int, for problem: String) -> String {
        guard value >= 0 else { return "" }
        if problem.contains("octet") {
            let hex = String(value, radix: 16)
            return " (byte 0x\(hex.count < 2 ? "0" + hex : hex))"
        }
        if problem.contains("character") {
            let hex = String(value, radix: 16, uppercase: true)
            return " (found U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))"
        }
        return ""
    }

    /// "while parsing a block mapping" → "the block mapping starts here".
    private static func contextNote(_ context: String) -> String {
        for prefix in ["while parsing a ", "while scanning a ", "while parsing an ", "while scanning an "]
        where context.hasPrefix(prefix) {
            return "the \(context.dropFirst(prefix.count)) starts here"
        }
        return "libyaml was \(context.hasPrefix("while ") ? String(context.dropFirst(6)) : context) here"
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(decoding: UnsafeBufferPointer(start: p, count: strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))), as: UTF8.self)
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String? {
        guard let p else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
    }
}
