import Testing
@testable import Engine

/// The separable, vectorised max pool against the 3x3 window, stride 2 and ceil mode (PyTorch's
/// MaxPool2d(3, 2, ceil_mode=True) as SqueezeNet uses it), on sizes around the vector width.
@Suite struct MaxPoolTests {
    @Test(arguments: [(5, 7), (33, 34), (35, 36), (63, 63), (127, 127), (66, 129), (140, 31)])
    func matchesTheThreeByThreeWindow(size: (Int, Int)) {
        let (height, width) = size
        let s = Shape(channels: 3, batch: 2, height: height, width: width)
        var rng = SystemRandomNumberGenerator()
        let input = (0..<(s.channels * s.batch * s.plane)).map { _ in Float.random(in: -1...1, using: &rng) }
        let o = maxPoolShape(s)
        var output = [Float](repeating: .nan, count: o.channels * o.batch * o.plane)
        let got = input.withUnsafeBufferPointer { i in
            output.withUnsafeMutableBufferPointer { maxPool(i.baseAddress!, s, into: $0.baseAddress!) }
        }
        #expect(got.width == o.width && got.height == o.height)
        var wrong = 0
        for p in 0..<(s.channels * s.batch) {
            for oy in 0..<o.height {
                for ox in 0..<o.width {
                    var m = -Float.infinity
                    for y in (2 * oy)..<min(2 * oy + 3, height) {
                        for x in (2 * ox)..<min(2 * ox + 3, width) { m = max(m, input[p * s.plane + y * width + x]) }
                    }
                    if output[p * o.plane + oy * o.width + ox] != m { wrong += 1 }
                }
            }
        }
        #expect(wrong == 0, "\(height)x\(width): \(wrong) outputs differ")
    }
}
