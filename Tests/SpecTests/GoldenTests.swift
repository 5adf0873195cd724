import IR
import ModelcCLI
import Spec
import Testing

/// The golden table of ../shared/design/reference-semantics.md: torchvision's published
/// parameter counts, BN buffers and MACs at the default resolution, and each model's depth.
struct Golden: Sendable, CustomTestStringConvertible {
    var spec: String
    var variant: String?
    var input: [Int]
    var params: Int
    var buffers: Int
    var macs: Int
    var depth: Int
    var output: [Int]
    var testDescription: String { spec + (variant.map { " " + $0 } ?? "") }
}

let goldenTable: [Golden] = [
    Golden(spec: "alexnet", variant: nil, input: [3, 224, 224], params: 61_100_840, buffers: 0, macs: 714_188_480, depth: 8, output: [1000]),
    Golden(spec: "vgg16", variant: nil, input: [3, 224, 224], params: 138_357_544, buffers: 0, macs: 15_470_264_320, depth: 16, output: [1000]),
    Golden(spec: "resnet", variant: "18", input: [3, 224, 224], params: 11_689_512, buffers: 9_600, macs: 1_814_073_344, depth: 18, output: [1000]),
    Golden(spec: "resnet", variant: "34", input: [3, 224, 224], params: 21_797_672, buffers: 17_024, macs: 3_663_761_408, depth: 34, output: [1000]),
    Golden(spec: "resnet", variant: "50", input: [3, 224, 224], params: 25_557_032, buffers: 53_120, macs: 4_089_184_256, depth: 50, output: [1000]),
    Golden(spec: "resnet", variant: "101", input: [3, 224, 224], params: 44_549_160, buffers: 105_344, macs: 7_801_405_440, depth: 101, output: [1000]),
    Golden(spec: "resnet", variant: "152", input: [3, 224, 224], params: 60_192_808, buffers: 151_424, macs: 11_513_626_624, depth: 152, output: [1000]),
    Golden(spec: "mobilenet_v1", variant: nil, input: [3, 224, 224], params: 4_231_976, buffers: 21_888, macs: 568_740_352, depth: 28, output: [1000]),
    Golden(spec: "mobilenet_v2", variant: nil, input: [3, 224, 224], params: 3_504_872, buffers: 34_112, macs: 300_774_272, depth: 53, output: [1000]),
    Golden(spec: "efficientnet", variant: "b0", input: [3, 224, 224], params: 5_288_548, buffers: 42_016, macs: 385_814_752, depth: 82, output: [1000]),
    Golden(spec: "efficientnet", variant: "b1", input: [3, 240, 240], params: 7_794_184, buffers: 62_048, macs: 686_802_832, depth: 116, output: [1000]),
    Golden(spec: "efficientnet", variant: "b2", input: [3, 288, 288], params: 9_109_994, buffers: 67_568, macs: 1_087_529_456, depth: 116, output: [1000]),
    Golden(spec: "efficientnet", variant: "b3", input: [3, 300, 300], params: 12_233_232, buffers: 87_296, macs: 1_827_141_392, depth: 131, output: [1000]),
    Golden(spec: "efficientnet", variant: "b4", input: [3, 380, 380], params: 19_341_616, buffers: 125_200, macs: 4_393_771_024, depth: 161, output: [1000]),
    Golden(spec: "efficientnet", variant: "b5", input: [3, 456, 456], params: 30_389_784, buffers: 172_736, macs: 10_266_384_752, depth: 195, output: [1000]),
    Golden(spec: "efficientnet", variant: "b6", input: [3, 528, 528], params: 43_040_704, buffers: 224_432, macs: 19_067_593_536, depth: 225, output: [1000]),
    Golden(spec: "efficientnet", variant: "b7", input: [3, 600, 600], params: 66_347_960, buffers: 310_720, macs: 37_745_884_192, depth: 274, output: [1000]),
    Golden(spec: "lenet5", variant: nil, input: [1, 28, 28], params: 61_706, buffers: 0, macs: 416_520, depth: 5, output: [10]),
    Golden(spec: "mnist_cnn", variant: nil, input: [1, 28, 28], params: 1_199_882, buffers: 0, macs: 11_992_448, depth: 4, output: [10]),
]

@Suite("Golden counts (torchvision)")
struct GoldenTests {
    /// The acceptance check itself: `modelc summary --format json` against the golden row.
    @Test(arguments: goldenTable)
    func summaryJSONMatchesGolden(_ g: Golden) throws {
        let model = try loadShipped(g.spec, variant: g.variant)
        let json = SummaryReport(model: model).json()
        guard case .object(let pairs) = json else { Issue.record("summary JSON is not an object"); return }
        let fields = Dictionary(uniqueKeysWithValues: pairs)
        func int(_ k: String) -> Int? { if case .int(let i)? = fields[k] { return i }; return nil }
        func ints(_ k: String) -> [Int]? {
            guard case .array(let a)? = fields[k] else { return nil }
            return a.compactMap { if case .int(let i) = $0 { return i }; return nil }
        }
        #expect(ints("input_shape") == g.input)
        #expect(ints("output_shape") == g.output)
        #expect(int("params") == g.params)
        #expect(int("buffers") == g.buffers)
        #expect(int("macs") == g.macs)
        #expect(int("flops") == 2 * g.macs)
        #expect(int("depth") == g.depth)
        guard case .array(let layers)? = fields["layers"] else { Issue.record("no layers"); return }
        #expect(layers.count == model.graph.nodes.count - 1)
    }

    /// Default variants are the ones the issue names: resnet 50, efficientnet b0.
    @Test func defaultVariants() throws {
        #expect(try loadShipped("resnet").variant == "50")
        #expect(try loadShipped("efficientnet").variant == "b0")
    }

    /// Scaling from the command line: MobileNetV2 at width 0.5 and resolution 160 matches
    /// torchvision's mobilenet_v2(width_mult=0.5) (1,968,680 params; 50,184,000 MACs at 160).
    @Test func mobileNetV2WidthAndResolution() throws {
        let model = try loadShipped("mobilenet_v2", sets: ["width=0.5", "resolution=160"])
        let stats = GraphStatistics(model.graph)
        #expect(model.graph.inputShape == TensorShape(channels: 3, height: 160, width: 160))
        #expect(stats.params == 1_968_680)
        #expect(stats.macs == 50_184_000)
    }

    /// Compound scaling by phi gives the paper's rule: phi = 0 is B0 exactly.
    @Test func efficientNetCompoundPhiZeroIsB0() throws {
        let compound = GraphStatistics(try loadShipped("efficientnet", variant: "compound", sets: ["phi=0"]).graph)
        let b0 = GraphStatistics(try loadShipped("efficientnet", variant: "b0").graph)
        #expect(compound.params == b0.params)
        #expect(compound.macs == b0.macs)
    }
}
