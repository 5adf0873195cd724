/// A per-sample tensor shape, without the batch dimension: [C, H, W] for feature maps, [F] for
/// flat vectors. The batch size is a run-time choice and never part of the graph.
public struct TensorShape: Sendable, Hashable, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(channels: Int, height: Int, width: Int) { self.dims = [channels, height, width] }

    public var rank: Int { dims.count }
    public var isFeatureMap: Bool { dims.count == 3 }
    /// Channels of a feature map, features of a vector.
    public var channels: Int { dims.first ?? 0 }
    public var height: Int { dims.count == 3 ? dims[1] : 1 }
    public var width: Int { dims.count == 3 ? dims[2] : 1 }

    /// Element count, or nil when it overflows Int.
    public var elementCount: Int? {
        var n = 1
        for d in dims {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}

/// Why shape inference rejected a node. `field` names the spec key to point at ("kernel",
/// "groups", ...) when one is to blame; `input` the operand index when an input is.
public struct ShapeError: Error, Sendable {
    public enum Kind: Sendable { case channelMismatch, shapeMismatch, rankMismatch, kernelTooLarge, invalidSize, groupsMismatch, invalidValue }
    public var kind: Kind
    public var message: String
    public var field: String?
    public var inputs: [Int]

    public init(_ kind: Kind, _ message: String, field: String? = nil, inputs: [Int] = []) {
        self.kind = kind; self.message = message; self.field = field; self.inputs = inputs
    }
}

/// Largest element count of one sample's tensor. Keeps index arithmetic (and the arena) far
/// from overflow; real models stay below 2^28 even at 600x600.
public let maxTensorElements = 1 << 31
