import Diagnostics

/// Turns libyaml's marks into the 1-based positions of `SourceFile`.
///
/// libyaml's own line/column disagree with `SourceFile` (and so with the rendered source line)
/// in three cases: it skips a UTF-8 byte-order mark without counting it, it also breaks lines at
/// a lone `\r`, NEL, LS and PS, and its reader errors carry only a byte offset. Its `index`
/// however counts Unicode scalars from the end of the BOM, just as the columns do, so mapping
/// that index against the `\n` line starts gives positions that always match the quoted line.
struct SourceMap {
    /// Length in bytes of a leading UTF-8 byte-order mark (0 or 3).
    let bomLength: Int
    /// The scalar index (libyaml's `mark.index`) at which each line starts; `lineStarts[0] == 0`.
    private var lineStarts: [Int] = [0]
    private let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
        bomLength = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var index = 0
        for byte in bytes.dropFirst(bomLength) where !Self.isContinuation(byte) {
            index += 1
            if byte == UInt8(ascii: "\n") { lineStarts.append(index) }
        }
    }

    /// The position of the scalar with libyaml index `index`.
    func position(index: Int) -> SourcePosition {
        // Binary search for the last line starting at or before `index`.
        var low = 0, high = lineStarts.count
        while high - low > 1 {
            let mid = low + (high - low) / 2
            if lineStarts[mid] <= index { low = mid } else { high = mid }
        }
        return SourcePosition(line: low + 1, column: max(0, index - lineStarts[low]) + 1)
    }

    /// The position of the byte at `offset` (counted from the start of the input, BOM included),
    /// for reader errors; the bytes before it decoded fine, so counting lead bytes is exact.
    func position(byteOffset offset: Int) -> SourcePosition {
        let end = min(max(offset, bomLength), bytes.count)
        var line = 1, column = 1
        for byte in bytes[bomLength..<end] where !Self.isContinuation(byte) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourcePosition(line: line, column: column)
    }

    private static func isContinuation(_ byte: UInt8) -> Bool {
        byte & 0xC0 == 0x80
    }
}
