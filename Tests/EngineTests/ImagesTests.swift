import Testing
@testable import Engine

@Suite struct ImagesTests {
    /// `maskBounds` scans 16 values at a time from both ends of a row: the same box as looking at
    /// every value, on masks with single pixels near every edge of the 16-wide steps, and empty ones.
    @Test func maskBoundsMatchesAFullScan() {
        var state: UInt32 = 7
        func next() -> Int { state = state &* 1664525 &+ 1013904223; return Int(state >> 8) }
        for trial in 0..<300 {
            let width = 1 + next() % 70, height = 1 + next() % 9, rowBytes = width + next() % 5
            var data = [UInt8](repeating: 0, count: rowBytes * height)
            for _ in 0..<(trial % 4) { data[(next() % height) * rowBytes + next() % width] = UInt8(1 + next() % 255) }
            for y in 0..<height { for x in width..<rowBytes { data[y * rowBytes + x] = 255 } }   // padding is not the mask's
            for threshold: UInt8 in [1, 128] {
                var expected: Box? = nil
                for y in 0..<height { for x in 0..<width where data[y * rowBytes + x] >= threshold {
                    let b = expected ?? Box(x0: x, y0: y, x1: x + 1, y1: y + 1)
                    expected = Box(x0: min(b.x0, x), y0: min(b.y0, y), x1: max(b.x1, x + 1), y1: max(b.y1, y + 1))
                } }
                let got = data.withUnsafeBufferPointer {
                    maskBounds(MaskView(width: width, height: height, rowBytes: rowBytes, data: $0.baseAddress!), threshold: threshold)
                }
                #expect(got == expected, "\(width)x\(height) (row \(rowBytes)), threshold \(threshold)")
            }
        }
    }
}
