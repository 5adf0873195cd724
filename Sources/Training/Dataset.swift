// MNIST-format data sets: the four standard IDX files of a directory (raw or .gz, under the
// names the public mirrors use), validated against each other and against the model, then
// normalized batch by batch.

import Foundation
import TensorIO

public struct Dataset: Sendable {
    /// Images as bytes, `count × height × width`, row-major.
    public var pixels: [UInt8]
    public var labels: [Int32]
    public var height: Int
    public var width: Int
    public var count: Int { labels.count }
    /// Where the images came from, for messages.
    public var source: String

    public init(pixels: [UInt8], labels: [Int32], height: Int, width: Int, source: String) {
        self.pixels = pixels; self.labels = labels; self.height = height; self.width = width; self.source = source
    }

    public enum Split: String, Sendable { case train, test }

    /// File names tried for each split and kind, in order (first found wins).
    static func candidates(_ split: Split, images: Bool) -> [String] {
        let stem = split == .train ? "train" : "t10k"
        let kind = images ? "images" : "labels", dims = images ? "idx3" : "idx1"
        let names = ["\(stem)-\(kind)-\(dims)-ubyte", "\(stem)-\(kind).\(dims)-ubyte"]
        return names.flatMap { [$0, $0 + ".gz"] }
    }

    /// Loads one split of the MNIST-format data set in `directory`, keeping the first `limit`
    /// examples when given.
    public static func mnist(directory: String, split: Split, limit: Int? = nil) throws(TrainingError) -> Dataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw TrainingError("\(directory): error: --data expects a directory holding the MNIST files (train-images-idx3-ubyte[.gz], ...); it is not a directory")
        }
        func find(_ images: Bool) throws(TrainingError) -> String {
            let names = candidates(split, images: images)
            for n in names {
                let path = (directory as NSString).appendingPathComponent(n)
                if FileManager.default.fileExists(atPath: path) { return path }
            }
            throw TrainingError("\(directory): error: no \(split.rawValue) \(images ? "images" : "labels") file; expected one of \(names.joined(separator: ", "))")
        }
        let imagePath = try find(true), labelPath = try find(false)
        let images: IDXArray, labels: IDXArray
        do {
            images = try IDX.read(path: imagePath)
            labels = try IDX.read(path: labelPath)
        } catch {
            throw TrainingError("\(error)")
        }
        guard images.dims.count == 3, images.dims[1] >= 1, images.dims[2] >= 1 else {
            throw TrainingError("\(imagePath): error: expected images of shape [N, H, W], found \(images.dims)")
        }
        guard labels.dims.count == 1 else {
            throw TrainingError("\(labelPath): error: expected labels of shape [N], found \(labels.dims)")
        }
        guard images.dims[0] == labels.dims[0] else {
            throw TrainingError("\(labelPath): error: \(labels.dims[0]) labels for \(images.dims[0]) images in \(imagePath)")
        }
        let n = min(images.dims[0], max(0, limit ?? Int.max))
        guard n >= 1 else { throw TrainingError("\(imagePath): error: the \(split.rawValue) set is empty") }
        let per = images.dims[1] * images.dims[2]
        return Dataset(pixels: Array(images.data[0..<(n * per)]), labels: labels.data[0..<n].map { Int32($0) },
                       height: images.dims[1], width: images.dims[2], source: imagePath)
    }

    /// Checks the data against a model input [C, H, W] and its number of classes.
    public func validate(channels: Int, height h: Int, width w: Int, classes: Int) throws(TrainingError) {
        guard channels == 1, h == height, w == width else {
            throw TrainingError("\(source): error: images are \(height)x\(width) with 1 channel; the model expects [\(channels), \(h), \(w)]")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw TrainingError("\(source): error: label \(labels[bad]) of example \(bad) is not one of the model's \(classes) classes")
        }
    }

    /// Writes examples `indices` normalized ((x / 255 - mean) / std) into `images` (NCHW) and
    /// their labels into `labels`.
    func fill(_ indices: ArraySlice<Int>, mean: Double, std: Double,
              images: UnsafeMutablePointer<Float>, labels out: UnsafeMutablePointer<Int32>) {
        let per = height * width
        var table = [Float](repeating: 0, count: 256)
        for v in 0..<256 { table[v] = Float((Double(v) / 255 - mean) / std) }
        pixels.withUnsafeBufferPointer { px in
            for (slot, index) in indices.enumerated() {
                let src = px.baseAddress! + index * per, dst = images + slot * per
                for i in 0..<per { dst[i] = table[Int(src[i])] }
                out[slot] = labels[index]
            }
        }
    }
}
