// Memory planning of the training arena: forward values, gradients and saved masks of one
// step share one allocation.
//
// The step is a timeline: node i's forward runs at time i (1 ≤ i ≤ L, L the logits node), the
// loss at L + 1, node i's backward at 2L + 2 - i. Every tensor is an interval on it:
//   - value of node i: from i to its last reader: forward consumers j (time j), the backward of
//     consumers that keep their inputs (conv, linear, BN, activations, multiply: 2L + 2 - j),
//     its own backward if it keeps its output (softmax), the loss for the logits;
//   - gradient of node i: from the backward of its last consumer (which writes it first; other
//     consumers accumulate) to node i's own backward;
//   - aux of node i (dropout mask, max-pool winners): from forward i to backward i.
// Intervals are placed greedily, largest first, each at the lowest offset where it overlaps no
// placed interval that is live at the same time (the classic offset-assignment heuristic for
// DNN arenas). So a gradient reuses the memory of activations whose last backward reader has
// run, and activations that no backward reads (those of pools, flatten, dropout, add, concat)
// die as soon as the forward pass is past their consumers.

struct ArenaItem {
    var floats: Int
    var start: Int
    var end: Int
}

enum ArenaPlanner {
    /// Offsets (in floats, multiples of 16) for `items`, and the arena size.
    static func place(_ items: [ArenaItem]) -> (offsets: [Int], total: Int) {
        var offsets = [Int](repeating: 0, count: items.count)
        let order = items.indices.sorted { a, b in
            items[a].floats != items[b].floats ? items[a].floats > items[b].floats : a < b
        }
        var placed: [Int] = []
        var total = 0
        for i in order {
            let size = (items[i].floats + 15) / 16 * 16
            let live = placed.filter { j in items[j].start <= items[i].end && items[i].start <= items[j].end }
                .map { (offsets[$0], (items[$0].floats + 15) / 16 * 16) }
                .sorted { $0.0 < $1.0 }
            var candidate = 0
            for (o, s) in live {
                if candidate + size <= o { break }
                candidate = max(candidate, o + s)
            }
            offsets[i] = candidate
            total = max(total, candidate + size)
            placed.append(i)
        }
        return (offsets, total)
    }
}
