import Foundation

/// Element types of the safetensors format (the names are the strings in the header).
///
/// All of the reference implementation's common types are *known* so that a file holding, say,
/// a `U8` mask is read and its other tensors are usable; `tensor(named:)` converts only the
/// floating-point ones and `int64Values(named:)` the integer ones.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case u16 = "U16", i16 = "I16"
    case u32 = "U32", i32 = "I32"
    case u64 = "U64", i64 = "I64"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case f16 = "F16", bf16 = "BF16"
    case f32 = "F32", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }
}

/// One tensor's header entry, validated against the file.
public struct SafeTensorsEntry: Sendable, Equatable {
    public var name: String
    public var dtype: SafeTensorsDType
    public var shape: [Int]
    /// Byte range relative to the start of the data buffer, as in the header.
    public var dataOffsets: Range<Int>
    /// Product of `shape` (1 for a scalar).
    public var elementCount: Int
}

/// A parsed safetensors file: its validated header plus the raw bytes, converted on demand.
public struct SafeTensorsFile: Sendable {
    public let path: String
    /// Entries in header order (for files written by the reference implementation, this is also
    /// the order of the data).
    public let entries: [SafeTensorsEntry]
    /// The `__metadata__` string map, empty if absent.
    public let metadata: [String: String]
    /// Offset of the data buffer in the file: 8 + header length.
    public let dataStart: Int

    private let bytes: [UInt8]
    private let index: [String: Int]

    init(path: String, entries: [SafeTensorsEntry], index: [String: Int], metadata: [String: String], dataStart: Int, bytes: [UInt8]) {
        self.path = path
        self.entries = entries
        self.index = index
        self.metadata = metadata
        self.dataStart = dataStart
        self.bytes = bytes
    }

    /// Tensor names in header order.
    public var names: [String] { entries.map(\.name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func entry(named name: String) throws -> SafeTensorsEntry {
        guard let i = index[name] else {
            var message = "expected a tensor named \(JSONWriter.quote(name)), found none"
            if !entries.isEmpty {
                let some = entries.prefix(5).map { JSONWriter.quote($0.name) }.joined(separator: ", ")
                message += " (the file holds \(entries.count): \(some)\(entries.count > 5 ? ", …" : ""))"
            }
            throw TensorIOError(path: path, message)
        }
        return entries[i]
    }

    public func shape(of name: String) throws -> [Int] { try entry(named: name).shape }
    public func dtype(of name: String) throws -> SafeTensorsDType { try entry(named: name).dtype }

    /// The tensor converted to float32. F32 is copied bit-exactly; F16 and BF16 are widened
    /// exactly; F64 is rounded to nearest (out-of-range magnitudes become ±inf). Other dtypes are
    /// an error: integer tensors are read with `int64Values(named:)`, not silently converted.
    public func tensor(named name: String) throws -> HostTensor {
        let e = try entry(named: name)
        let begin = dataStart + e.dataOffsets.lowerBound
        let data: [Float]
        switch e.dtype {
        case .f32: data = ElementDecode.float32LE(bytes, begin: begin, count: e.elementCount)
        case .f16: data = ElementDecode.float16LE(bytes, begin: begin, count: e.elementCount)
        case .bf16: data = ElementDecode.bfloat16LE(bytes, begin: begin, count: e.elementCount)
        case .f64: data = ElementDecode.float64LE(bytes, begin: begin, count: e.elementCount)
        default:
            throw TensorIOError(path: path, offset: begin,
                                "tensor \(JSONWriter.quote(name)): expected a floating-point dtype (F32, F16, BF16 or F64), found \(e.dtype.rawValue)"
                                + (e.dtype == .f8e4m3 || e.dtype == .f8e5m2 ? "" : "; read it with int64Values(named:)"))
        }
        return HostTensor(validatedShape: e.shape, data: data)
    }

    /// An integer (or BOOL) tensor's elements widened to Int64, in row-major order. A `U64`
    /// element above `Int64.max` is an error rather than a wrap-around. (For example torchvision's
    /// batch-norm `num_batches_tracked` is an I64 scalar: shape `[]`, one element.)
    public func int64Values(named name: String) throws -> [Int64] {
        let e = try entry(named: name)
        let begin = dataStart + e.dataOffsets.lowerBound
        let n = e.elementCount
        var out = [Int64](repeating: 0, count: n)
        switch e.dtype {
        case .bool, .u8:
            for i in 0..<n { out[i] = Int64(bytes[begin + i]) }
        case .i8:
            for i in 0..<n { out[i] = Int64(Int8(bitPattern: bytes[begin + i])) }
        case .u16:
            for i in 0..<n { out[i] = Int64(bytes.u16le(begin + 2 * i)) }
        case .i16:
            for i in 0..<n { out[i] = Int64(Int16(bitPattern: bytes.u16le(begin + 2 * i))) }
        case .u32:
            for i in 0..<n { out[i] = Int64(bytes.u32le(begin + 4 * i)) }
        case .i32:
            for i in 0..<n { out[i] = Int64(Int32(bitPattern: bytes.u32le(begin + 4 * i))) }
        case .i64:
            for i in 0..<n { out[i] = Int64(bitPattern: bytes.u64le(begin + 8 * i)) }
        case .u64:
            for i in 0..<n {
                let v = bytes.u64le(begin + 8 * i)
                guard let s = Int64(exactly: v) else {
                    throw TensorIOError(path: path, offset: begin + 8 * i,
                                        "tensor \(JSONWriter.quote(name)): expected U64 values at most \(Int64.max), found \(v)")
                }
                out[i] = s
            }
        case .f8e4m3, .f8e5m2, .f16, .bf16, .f32, .f64:
            throw TensorIOError(path: path, offset: begin,
                                "tensor \(JSONWriter.quote(name)): expected an integer or BOOL dtype, found \(e.dtype.rawValue); read it with tensor(named:)")
        }
        return out
    }

    /// The tensor's bytes exactly as stored (little-endian elements).
    public func rawBytes(named name: String) throws -> ArraySlice<UInt8> {
        let e = try entry(named: name)
        return bytes[(dataStart + e.dataOffsets.lowerBound) ..< (dataStart + e.dataOffsets.upperBound)]
    }
}

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header, then the data buffer that the header's
/// `data_offsets` index into.
///
/// Why this format: it is what PyTorch/Hugging Face checkpoints are distributed in, and unlike
/// pickle it is pure data — but only if the reader checks every number in the header, which this
/// one does before touching the buffer: header length ≤ 100 MB and ≤ file size, JSON well formed,
/// known dtypes, non-negative extents with a non-overflowing product, and offsets that tile the
/// buffer exactly (sorted by begin, no overlap, no gap, ending at the buffer's end — the same
/// rule as the reference reader).
public enum SafeTensors {
    /// The reference implementation's limit on the header size.
    public static let maxHeaderLength = 100_000_000
    /// Caps on what a header may declare, far above real checkpoints (the largest public models
    /// have about 10^5 tensors in all, spread over many files; metadata maps hold a handful of
    /// keys). They bound the time and memory a hostile 100 MB header can cost to about a second
    /// and a few hundred megabytes.
    public static let maxTensors = 1_000_000
    public static let maxMetadataEntries = 65_536
    /// A tensor may have at most this many dimensions (NumPy allows 64; the limit only keeps a
    /// hostile `"shape": [1,1,1,…]` from costing memory).
    public static let maxRank = 1024

    public static func read(path: String) throws -> SafeTensorsFile {
        try parse(bytes: FileBytes.read(path: path), path: path)
    }

    /// Parses a whole file held in memory; `path` is only used in error messages.
    public static func parse(bytes: [UInt8], path: String) throws -> SafeTensorsFile {
        guard bytes.count >= 8 else {
            throw TensorIOError(path: path, offset: 0,
                                "expected an 8-byte header length, found a file of \(bytes.count) bytes")
        }
        let declared = bytes.u64le(0)
        guard declared <= UInt64(maxHeaderLength) else {
            throw TensorIOError(path: path, offset: 0,
                                "expected a header length of at most \(maxHeaderLength) bytes, found \(declared)")
        }
        let headerLength = Int(declared)  // ≤ 100 MB, fits
        guard headerLength <= bytes.count - 8 else {
            throw TensorIOError(path: path, offset: 0,
                                "expected a header length of at most \(bytes.count - 8) bytes (the rest of the file), found \(headerLength)")
        }
        guard headerLength >= 2 else {
            throw TensorIOError(path: path, offset: 8,
                                "expected a json object header of at least 2 bytes, found \(headerLength)")
        }
        let dataStart = 8 + headerLength
        let bufferSize = bytes.count - dataStart

        let reader = JSONReader(bytes, range: 8 ..< dataStart, path: path)
        let rootOffset = reader.offset
        guard try reader.peek() == .object else {
            throw TensorIOError(path: path, offset: rootOffset, "expected the header to be a json object, found \(try reader.summarizeValue())")
        }
        var entries: [SafeTensorsEntry] = []
        var index: [String: Int] = [:]
        var metadata: [String: String] = [:]
        var sawMetadata = false
        // Duplicate names are detected through `index` rather than a second set of keys.
        try reader.object(checkDuplicates: false) { name, keyOffset in
            if name == "__metadata__" {
                guard !sawMetadata else {
                    throw reader.error("expected unique keys in object, found \"__metadata__\" twice", at: keyOffset)
                }
                sawMetadata = true
                metadata = try parseMetadata(reader)
                return
            }
            guard index.updateValue(entries.count, forKey: name) == nil else {
                throw reader.error("expected unique keys in object, found \(JSONWriter.quote(name)) twice", at: keyOffset)
            }
            guard entries.count < maxTensors else {
                throw TensorIOError(path: path, offset: keyOffset, "expected at most \(maxTensors) tensors, found more")
            }
            entries.append(try parseEntry(name: name, reader: reader, bufferSize: bufferSize))
        }
        try reader.finish()

        // The entries must tile the buffer: sorted by begin, each starts where the previous ended.
        let order = entries.indices.sorted {
            (entries[$0].dataOffsets.lowerBound, entries[$0].dataOffsets.upperBound, $0)
                < (entries[$1].dataOffsets.lowerBound, entries[$1].dataOffsets.upperBound, $1)
        }
        var expected = 0
        var previous: String?
        for i in order {
            let e = entries[i]
            if e.dataOffsets.lowerBound < expected, let previous {
                throw TensorIOError(path: path, offset: dataStart + e.dataOffsets.lowerBound,
                                    "tensor \(JSONWriter.quote(e.name)): expected data to start at or after \(expected) where tensor \(JSONWriter.quote(previous)) ends, found data_offsets [\(e.dataOffsets.lowerBound), \(e.dataOffsets.upperBound)] overlapping it")
            }
            if e.dataOffsets.lowerBound > expected {
                throw TensorIOError(path: path, offset: dataStart + expected,
                                    "tensor \(JSONWriter.quote(e.name)): expected data to start at buffer offset \(expected), found \(e.dataOffsets.lowerBound) (a gap of unused bytes)")
            }
            expected = e.dataOffsets.upperBound
            previous = e.name
        }
        guard expected == bufferSize else {
            throw TensorIOError(path: path, offset: dataStart + expected,
                                "expected the tensors to cover the \(bufferSize)-byte data buffer, found \(bufferSize - expected) bytes after the last tensor")
        }
        return SafeTensorsFile(path: path, entries: entries, index: index, metadata: metadata, dataStart: dataStart, bytes: bytes)
    }

    private static func parseMetadata(_ reader: JSONReader) throws -> [String: String] {
        let path = reader.path
        let offset = reader.offset
        guard try reader.peek() == .object else {
            throw TensorIOError(path: path, offset: offset, "\"__metadata__\": expected an object of strings, found \(try reader.summarizeValue())")
        }
        var out: [String: String] = [:]
        try reader.object { key, keyOffset in
            guard out.count < maxMetadataEntries else {
                throw TensorIOError(path: path, offset: keyOffset, "\"__metadata__\": expected at most \(maxMetadataEntries) entries, found more")
            }
            let valueOffset = reader.offset
            guard try reader.peek() == .string else {
                throw TensorIOError(path: path, offset: valueOffset,
                                    "\"__metadata__\": expected a string value for key \(JSONWriter.quote(key)), found \(try reader.summarizeValue())")
            }
            out[key] = try reader.string()
        }
        return out
    }

    private static func parseEntry(name: String, reader: JSONReader, bufferSize: Int) throws -> SafeTensorsEntry {
        let path = reader.path
        // Quoted name for messages, computed only when an error is thrown.
        func q() -> String { JSONWriter.quote(name) }
        let entryOffset = reader.offset
        guard try reader.peek() == .object else {
            throw TensorIOError(path: path, offset: entryOffset,
                                "tensor \(q()): expected an object with dtype, shape and data_offsets, found \(try reader.summarizeValue())")
        }

        func nonNegativeInts(what: String) throws -> [Int] {
            let arrayOffset = reader.offset
            guard try reader.peek() == .array else {
                throw TensorIOError(path: path, offset: arrayOffset,
                                    "tensor \(q()): expected \(what) to be an array of integers, found \(try reader.summarizeValue())")
            }
            var values: [Int] = []
            try reader.array { index, elementOffset in
                guard index < maxRank else {
                    throw TensorIOError(path: path, offset: elementOffset, "tensor \(q()): expected \(what) to have at most \(maxRank) entries, found more")
                }
                guard try reader.peek() == .number else {
                    throw TensorIOError(path: path, offset: elementOffset,
                                        "tensor \(q()): expected \(what) to hold integers, found \(try reader.summarizeValue())")
                }
                let (text, integer) = try reader.number()
                guard let v = integer else {
                    throw TensorIOError(path: path, offset: elementOffset,
                                        "tensor \(q()): expected \(what) to hold integers that fit in 64 bits, found \(text.prefix(40))")
                }
                guard v >= 0 else {
                    throw TensorIOError(path: path, offset: elementOffset, "tensor \(q()): expected \(what) to hold non-negative integers, found \(v)")
                }
                values.append(v)
            }
            return values
        }

        var dtypeField: (name: String, offset: Int)?
        var shapeField: (values: [Int], offset: Int)?
        var offsetsField: (values: [Int], offset: Int)?
        // Duplicates are checked for the known fields only (as serde does for the reference
        // reader's struct), which spares hashing every key of every entry.
        try reader.object(checkDuplicates: false) { key, keyOffset in
            let valueOffset = reader.offset
            let duplicate = key == "dtype" ? dtypeField != nil : key == "shape" ? shapeField != nil : key == "data_offsets" ? offsetsField != nil : false
            if duplicate {
                throw reader.error("expected unique keys in object, found \(JSONWriter.quote(key)) twice", at: keyOffset)
            }
            switch key {
            case "dtype":
                guard try reader.peek() == .string else {
                    throw TensorIOError(path: path, offset: valueOffset,
                                        "tensor \(q()): expected dtype to be a string, found \(try reader.summarizeValue())")
                }
                dtypeField = (try reader.string(), valueOffset)
            case "shape":
                shapeField = (try nonNegativeInts(what: "shape"), valueOffset)
            case "data_offsets":
                offsetsField = (try nonNegativeInts(what: "data_offsets"), valueOffset)
            default:
                // Unknown fields are ignored, as by the reference reader.
                try reader.skipValue()
            }
        }
        func missing(_ key: String) -> TensorIOError {
            TensorIOError(path: path, offset: entryOffset, "tensor \(q()): expected a \"\(key)\" field, found none")
        }
        guard let dtypeField else { throw missing("dtype") }
        guard let shapeField else { throw missing("shape") }
        guard let offsetsField else { throw missing("data_offsets") }

        guard let dtype = SafeTensorsDType(rawValue: dtypeField.name) else {
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw TensorIOError(path: path, offset: dtypeField.offset,
                                "tensor \(q()): expected a known dtype (\(known)), found \(JSONWriter.quote(String(dtypeField.name.prefix(40))))")
        }

        let shape = shapeField.values
        let count = try HostTensor.elementCount(of: shape, path: path, offset: shapeField.offset)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else {
            throw TensorIOError(path: path, offset: shapeField.offset,
                                "tensor \(q()): expected a byte size that fits in 64 bits, found shape \(HostTensor.render(shape)) of \(dtype.rawValue)")
        }

        let offsets = offsetsField.values
        guard offsets.count == 2 else {
            throw TensorIOError(path: path, offset: offsetsField.offset,
                                "tensor \(q()): expected data_offsets to be [begin, end], found \(offsets.count) numbers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw TensorIOError(path: path, offset: offsetsField.offset,
                                "tensor \(q()): expected data_offsets begin <= end, found [\(begin), \(end)]")
        }
        guard end <= bufferSize else {
            throw TensorIOError(path: path, offset: offsetsField.offset,
                                "tensor \(q()): expected data_offsets end <= \(bufferSize) (the data buffer size), found [\(begin), \(end)]")
        }
        guard end - begin == byteCount else {
            throw TensorIOError(path: path, offset: offsetsField.offset,
                                "tensor \(q()): expected \(byteCount) bytes for shape \(HostTensor.render(shape)) of \(dtype.rawValue), found data_offsets [\(begin), \(end)] spanning \(end - begin)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin ..< end, elementCount: count)
    }

    // MARK: writing

    /// Writes F32 tensors, atomically (see `AtomicFile`).
    ///
    /// The output is deterministic and byte-identical to the reference writer
    /// (`safetensors.torch.save_file`) for F32 data: `__metadata__` first (omitted when empty,
    /// its keys sorted), then the tensors sorted by name (UTF-8 byte order), data laid out in that
    /// same order, compact JSON, header padded with spaces to a multiple of 8 so the data buffer
    /// is 8-byte aligned.
    public static func write(_ tensors: [(name: String, tensor: HostTensor)], metadata: [String: String] = [:], to path: String) throws {
        try AtomicFile.write(Data(encode(tensors, metadata: metadata, path: path)), to: path)
    }

    /// The bytes `write` would produce.
    public static func encode(_ tensors: [(name: String, tensor: HostTensor)], metadata: [String: String] = [:], path: String = "<memory>") throws -> [UInt8] {
        var seen = Set<String>()
        for (name, t) in tensors {
            guard name != "__metadata__" else {
                throw TensorIOError(path: path, "expected tensor names other than \"__metadata__\" (reserved for the metadata map), found it")
            }
            guard seen.insert(name).inserted else {
                throw TensorIOError(path: path, "expected unique tensor names, found \(JSONWriter.quote(name)) twice")
            }
            let count = try HostTensor.elementCount(of: t.shape, path: path)
            guard count == t.data.count else {
                throw TensorIOError(path: path, "tensor \(JSONWriter.quote(name)): expected \(count) elements for shape \(HostTensor.render(t.shape)), found \(t.data.count)")
            }
        }
        // Sort by UTF-8 bytes, as Rust's String ordering does, so output does not depend on locale.
        let sorted = tensors.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }

        var items: [(key: String, json: String)] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            let body = pairs.map { JSONWriter.quote($0.key) + ":" + JSONWriter.quote($0.value) }.joined(separator: ",")
            items.append(("__metadata__", "{" + body + "}"))
        }
        var offset = 0
        for (name, t) in sorted {
            let size = t.data.count * 4
            let shape = "[" + t.shape.map(String.init).joined(separator: ",") + "]"
            items.append((name, "{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + size)]}"))
            offset += size
        }
        var header = Array(("{" + items.map { JSONWriter.quote($0.key) + ":" + $0.json }.joined(separator: ",") + "}").utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        guard header.count <= maxHeaderLength else {
            throw TensorIOError(path: path, "expected a header of at most \(maxHeaderLength) bytes, found \(header.count)")
        }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * k))) }
        out += header
        for (_, t) in sorted { ElementDecode.appendFloat32LE(t.data, to: &out) }
        return out
    }
}
