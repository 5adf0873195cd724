import Diagnostics

/// Builds the `YAMLNode` tree from libyaml events with an explicit stack (no recursion, so a
/// large `maxDepth` cannot overflow the thread's stack), enforcing the depth and size limits as
/// it goes so that hostile input is rejected after a bounded amount of work.
struct TreeBuilder {
    /// An open sequence or mapping.
    private struct Frame {
        let isMapping: Bool
        let flow: Bool
        let start: SourcePosition
        let anchor: String?
        /// Identifies this frame's anchor definition, to tell it from later redefinitions.
        let anchorSerial: Int
        let tag: String?
        var items: [YAMLNode] = []
        var mapping = MappingBuilder()
        /// End of the last child as written; block collections end there, since libyaml's end
        /// event for them sits at the next token (possibly lines of comments later).
        var lastEnd: SourcePosition
        /// Expanded size counted so far for this frame (itself and its children).
        var size = 1
    }

    private enum Anchor {
        case node(YAMLNode)
        /// The anchor names a collection that is still open: an alias to it would be a cycle.
        case open(serial: Int)
    }

    private let file: SourceFile
    private let limits: YAMLLimits
    private var stack: [Frame] = []
    private var anchors: [String: Anchor] = [:]
    private var anchorSerial = 0
    /// Expanded size of everything delivered so far in the open collections (and the root).
    private var expandedSize = 0
    private var documentCount = 0

    private(set) var root: YAMLNode?
    private(set) var diagnostics: [Diagnostic] = []
    /// An error that leaves no usable tree (anything but a duplicate key) was reported.
    private(set) var failed = false
    /// Reading must stop now: a limit was hit or the input holds a second document.
    private(set) var stopped = false

    init(file: SourceFile, limits: YAMLLimits) {
        self.file = file
        self.limits = limits
    }

    mutating func consume(_ event: YAMLEvent) {
        switch event {
        case .streamStart, .documentEnd:
            break
        case .streamEnd:
            stopped = true
        case .documentStart(let range):
            documentCount += 1
            if documentCount > 1 {
                fail(.yamlMultipleDocuments,
                     "expected a single YAML document, found a second one starting here", at: range, stop: true)
            }
        case .alias(let name, let range):
            deliver(resolve(alias: name, at: range), at: range)
        case .scalar(let value, let anchor, let tag, let plain, let range):
            let node = YAMLNode(.scalar(value, plain: plain), range: range, tag: tag)
            if let anchor { anchors[anchor] = .node(node) }
            deliver(node, at: range)
        case .collectionStart(let mapping, let anchor, let tag, let flow, let range):
            open(mapping: mapping, anchor: anchor, tag: tag, flow: flow, at: range)
        case .collectionEnd(let range):
            close(at: range)
        }
    }

    /// Whether any document was seen (a stream without one is an empty spec).
    var sawDocument: Bool { documentCount > 0 }

    private mutating func resolve(alias name: String, at range: SourceRange) -> YAMLNode {
        switch anchors[name] {
        case .node(let node):
            return node
        case .open:
            fail(.yamlUndefinedAlias,
                 "alias '*\(name)' refers to a collection that contains it; expected an anchor defined and closed before it",
                 at: range)
        case nil:
            fail(.yamlUndefinedAlias, "alias '*\(name)' refers to no anchor defined before it", at: range)
        }
        // A stand-in, so that the rest of the input is still checked.
        return YAMLNode(.scalar("", plain: false), range: range)
    }

    private mutating func open(mapping: Bool, anchor: String?, tag: String?, flow: Bool, at range: SourceRange) {
        guard stack.count < limits.maxDepth else {
            fail(.yamlTooDeep,
                 "lists and mappings nest too deeply: expected at most \(limits.maxDepth) levels, found more",
                 at: range, stop: true)
            return
        }
        anchorSerial += 1
        if let anchor { anchors[anchor] = .open(serial: anchorSerial) }
        stack.append(Frame(isMapping: mapping, flow: flow, start: range.start, anchor: anchor,
                           anchorSerial: anchorSerial, tag: tag, lastEnd: range.end))
        grow(by: 1, at: range)
    }

    private mutating func close(at range: SourceRange) {
        guard let frame = stack.popLast() else { return }
        expandedSize = max(0, expandedSize - frame.size)
        let end = frame.flow ? range.end : frame.lastEnd
        let content: YAMLNode.Content = frame.isMapping ? .mapping(frame.mapping.build()) : .sequence(frame.items)
        let node = YAMLNode(content, range: SourceRange(file: file, start: frame.start, end: end), tag: frame.tag)
        if let anchor = frame.anchor, case .open(frame.anchorSerial) = anchors[anchor] {
            anchors[anchor] = .node(node)
        }
        deliver(node, at: node.range)
    }

    /// Hands a completed node (written at `range`) to the open collection, or makes it the root.
    private mutating func deliver(_ node: YAMLNode, at range: SourceRange) {
        guard !stopped else { return }
        guard let top = stack.indices.last else {
            root = node
            grow(by: node.expandedSize, at: range)
            return
        }
        stack[top].size = stack[top].size.addingSaturating(node.expandedSize)
        stack[top].lastEnd = max(stack[top].lastEnd, range.end)
        if stack[top].isMapping {
            if let problem = stack[top].mapping.add(node, at: range) {
                diagnostics.append(problem.diagnostic)
                if problem.fatal { failed = true }
            }
        } else {
            stack[top].items.append(node)
        }
        grow(by: node.expandedSize, at: range)
    }

    /// Counts `n` more expanded nodes; past the limit, reports and stops. This is what turns an
    /// alias bomb into an error after about `maxExpandedNodes` units of work, not 10^9.
    private mutating func grow(by n: Int, at range: SourceRange) {
        expandedSize = expandedSize.addingSaturating(n)
        guard expandedSize > limits.maxExpandedNodes else { return }
        fail(.yamlTooLarge,
             "the document is too large: expected at most \(formatCount(limits.maxExpandedNodes)) nodes with aliases expanded, found more",
             at: range, stop: true)
    }

    private mutating func fail(_ id: DiagnosticID, _ message: String, at range: SourceRange, stop: Bool = false) {
        guard !stopped else { return }
        diagnostics.append(Diagnostic(id, message, at: range))
        failed = true
        if stop { stopped = true }
    }
}

extension Int {
    func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// 1000000 → "1,000,000".
func formatCount(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out += "," }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}
