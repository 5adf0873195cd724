/// A dense float32 tensor in host memory, row-major (C order): the last index varies fastest.
///
/// This is the exchange type between the file readers of this module and the runtime. It is a
/// plain value (an array of extents and an array of floats) so that it can cross threads and be
/// compared in tests; the runtime copies it into its own aligned buffers.
///
/// A scalar has `shape == []` and one element. A zero extent (`[0, 3]`) is allowed and has no
/// elements. The throwing initializer checks that the shape is consistent with the data; the
/// stored properties are `var` for convenience, so code that mutates them owns the invariant.
public struct HostTensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    /// Checked: every extent non-negative, the product of extents representable as `Int`, and
    /// equal to `data.count`.
    public init(shape: [Int], data: [Float]) throws {
        let count = try HostTensor.elementCount(of: shape, path: "<tensor>")
        guard count == data.count else {
            throw TensorIOError(path: "<tensor>",
                                "expected \(count) elements for shape \(HostTensor.render(shape)), found \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    /// A tensor of the given shape with every element set to `value`.
    public init(shape: [Int], repeating value: Float) throws {
        let count = try HostTensor.elementCount(of: shape, path: "<tensor>")
        self.shape = shape
        self.data = [Float](repeating: value, count: count)
    }

    /// Unchecked, for readers that validated the shape against the data already.
    init(validatedShape shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }

    /// Number of elements implied by `shape` (1 for a scalar).
    public var count: Int { data.count }

    /// Product of extents, checked for negative extents and overflow.
    public static func elementCount(of shape: [Int], path: String, offset: Int? = nil) throws -> Int {
        var count = 1
        for extent in shape {
            guard extent >= 0 else {
                throw TensorIOError(path: path, offset: offset,
                                    "expected non-negative extents, found \(render(shape))")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw TensorIOError(path: path, offset: offset,
                                    "expected a shape whose element count fits in 64 bits, found \(render(shape))")
            }
            count = product
        }
        return count
    }

    static func render(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
