// The MNIST loader on the committed fixture (first 500 train / 200 test images of MNIST), and
// its errors.

import Foundation
import Testing
import TensorIO
@testable import Training

@Suite struct DataTests {
    @Test func fixtureLoadsWithLabelsAndNormalization() throws {
        let train = try Dataset.mnist(directory: Repo.fixture, split: .train)
        let test = try Dataset.mnist(directory: Repo.fixture, split: .test)
        #expect(train.count == 500 && test.count == 200)
        #expect(train.height == 28 && train.width == 28)
        // The first MNIST training labels are 5 0 4 1 9 2 1 3 1 4; the first test labels 7 2 1 0 4.
        #expect(Array(train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(Array(test.labels.prefix(5)) == [7, 2, 1, 0, 4])
        let images = UnsafeMutablePointer<Float>.allocate(capacity: 2 * 784)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        defer { images.deallocate(); labels.deallocate() }
        train.fill([1, 0], mean: 0.1307, std: 0.3081, images: images, labels: labels)
        #expect(labels[0] == 0 && labels[1] == 5)
        #expect(abs(images[0] - Float(-0.1307 / 0.3081)) < 1e-6)
        let maxPixel = (0..<784).map { images[$0] }.max() ?? 0
        #expect(abs(maxPixel - Float((1 - 0.1307) / 0.3081)) < 1e-5)
        let limited = try Dataset.mnist(directory: Repo.fixture, split: .train, limit: 64)
        #expect(limited.count == 64)
    }

    @Test func uncompressedFilesAndMismatchedCounts() throws {
        let dir = NSTemporaryDirectory() + "modelc-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let images = IDXArray(dims: [3, 28, 28], data: [UInt8](repeating: 7, count: 3 * 784))
        try Data(IDX.encode(images)).write(to: URL(fileURLWithPath: dir + "/train-images-idx3-ubyte"))
        try Data(IDX.encode(IDXArray(dims: [3], data: [1, 2, 3]))).write(to: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte"))
        let d = try Dataset.mnist(directory: dir, split: .train)
        #expect(d.count == 3)
        #expect(throws: TrainingError.self) { try d.validate(channels: 1, height: 28, width: 28, classes: 3) }
        #expect(throws: TrainingError.self) { try d.validate(channels: 3, height: 28, width: 28, classes: 10) }
        try Data(IDX.encode(IDXArray(dims: [2], data: [1, 2]))).write(to: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte"))
        #expect(throws: TrainingError.self) { try Dataset.mnist(directory: dir, split: .train) }
        #expect(throws: TrainingError.self) { try Dataset.mnist(directory: dir, split: .test) }
        #expect(throws: TrainingError.self) { try Dataset.mnist(directory: dir + "/nope", split: .train) }
    }

    @Test func shufflingIsSeededPerEpoch() {
        let a = TrainRandom.permutation(count: 100, seed: 1, epoch: 0)
        #expect(a == TrainRandom.permutation(count: 100, seed: 1, epoch: 0))
        #expect(a != TrainRandom.permutation(count: 100, seed: 1, epoch: 1))
        #expect(a != TrainRandom.permutation(count: 100, seed: 2, epoch: 0))
        #expect(a.sorted() == Array(0..<100))
    }
}
