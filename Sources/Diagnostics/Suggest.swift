/// "Did you mean" for typos: the closest candidate by edit distance, if it is close enough to be
/// a plausible typo (at most a third of the word's length, and at most 3 edits).
public func closestMatch(to word: String, in candidates: some Sequence<String>) -> String? {
    let w = Array(word.lowercased().unicodeScalars)
    guard !w.isEmpty, w.count <= 64 else { return nil }
    var best: (String, Int)?
    for candidate in candidates {
        let c = Array(candidate.lowercased().unicodeScalars)
        guard c.count <= 64 else { continue }
        // Ties go to the candidate of the same length ("relu5" → "relu6", not "relu").
        let d = editDistance(w, c) * 2 + (c.count == w.count ? 0 : 1)
        if d / 2 <= min(3, max(1, max(w.count, c.count) / 3)), d < (best?.1 ?? .max) {
            best = (candidate, d)
        }
    }
    return best?.0
}

/// Formats the suggestion clause for a message: "; did you mean 'relu6'?" or "".
public func didYouMean(_ word: String, _ candidates: some Sequence<String>) -> String {
    closestMatch(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
}

/// Edit distance over Unicode scalars where swapping two adjacent letters is one edit
/// (optimal string alignment), so "widht" is one edit from "width".
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var beforePrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], beforePrevious[j - 2] + 1)
            }
        }
        (beforePrevious, previous, current) = (previous, current, beforePrevious)
    }
    return previous[b.count]
}
