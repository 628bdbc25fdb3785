import Testing
@testable import Engine

/// `PackedMask` (the masks frames hold while they wait for their render) unpacks to the bytes it
/// was made from, whatever they are, and packs a silhouette small.
@Suite struct PackedMaskTests {
    func roundTrip(_ bytes: [UInt8], width: Int, rowBytes: Int? = nil) -> (same: Bool, packed: Int) {
        let stride = rowBytes ?? width, height = width == 0 ? 0 : bytes.count / stride
        let packed = bytes.withUnsafeBufferPointer {
            PackedMask(MaskView(width: width, height: height, rowBytes: stride, data: $0.baseAddress!))
        }
        var buffer: [UInt8] = [7, 7, 7]            // a reused buffer, too small and not clear
        let unpacked = packed.withUnpacked(into: &buffer) { view in
            (0..<height).flatMap { y in (0..<width).map { view.data[y * view.rowBytes + $0] } }
        }
        let expected = (0..<height).flatMap { y in bytes[(y * stride)..<(y * stride + width)] }
        return (unpacked == expected, packed.bytes.count)
    }

    @Test func unpacksToWhatItPacked() {
        var rng = SeededGenerator(seed: 1000)
        // Runs at the boundaries: shorter than a run token, exactly 4, 127-129 (literal and varint
        // limits), 16384 (a 3-byte varint), runs across rows, soft values between them.
        var cases: [([UInt8], Int)] = [
            ([0], 1), ([255], 1), ([128], 1), ([0, 0, 0], 3), ([0, 0, 0, 0], 4), ([255, 255, 255, 255, 9], 5),
            ([UInt8](repeating: 0, count: 16384 * 2), 16384), ([UInt8](repeating: 255, count: 129 * 3), 129),
            ((0..<(127 * 2)).map { UInt8(1 + $0 % 200) }, 127), ((0..<(128 * 3)).map { UInt8(1 + $0 % 250) }, 128),
            ((0..<(129 * 2)).map { UInt8(1 + $0 % 250) }, 129),
            ((0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }, 40),
            ((0..<1000).map { _ in [0, 255, 3][Int.random(in: 0..<3, using: &rng)] }, 25),
        ]
        for length in [1, 2, 3, 4, 5, 127, 128, 129, 130, 300] {
            cases.append(([9] + [UInt8](repeating: 255, count: length) + [0, 0, 1], length + 4))
        }
        for (bytes, width) in cases {
            #expect(roundTrip(bytes, width: width).same, "\(bytes.prefix(12))... width \(width)")
        }
        // Rows `rowBytes` apart, only `width` of each packed.
        let rows = (0..<(30 * 50)).map { UInt8($0 % 50 < 40 ? ($0 / 50 % 3 == 0 ? 255 : 0) : 77) }
        #expect(roundTrip(rows, width: 40, rowBytes: 50).same)
    }

    @Test func aSilhouettePacksSmallANoisyMatteBarelyGrows() {
        // A 600x720 disc with a 3-pixel soft edge, as a keyer's matte.
        let (w, h) = (600, 720)
        let disc = (0..<(w * h)).map { i -> UInt8 in
            let (x, y) = (Double(i % w) - 300, Double(i / w) - 360)
            let d = 280 - (x * x + y * y * 0.6).squareRoot()
            return UInt8(max(0, min(255, (d / 3 + 0.5) * 255)))
        }
        let (same, packed) = roundTrip(disc, width: w)
        #expect(same && packed < w * h / 20, "\(packed) bytes for \(w * h)")
        var rng = SeededGenerator(seed: 600)
        let noise = (0..<(w * h)).map { _ in UInt8.random(in: 1...254, using: &rng) }
        let (sameNoise, packedNoise) = roundTrip(noise, width: w)
        #expect(sameNoise && packedNoise <= w * h + w * h / 128 + 1, "\(packedNoise) bytes for \(w * h)")
    }
}
