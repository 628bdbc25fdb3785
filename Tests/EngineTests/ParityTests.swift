import Foundation
import Testing
@testable import Engine

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

/// The test picture (8-bit RGB), its mask and the reference thumbnails, from the fixtures.
struct Picture {
    let file: SafetensorsFile
    let width: Int, height: Int
    var pixels: [UInt8]
    let mask: [UInt8]

    init() throws {
        file = try SafetensorsFile(path: "\(fixtures)/picture.safetensors")
        let shape = try file.tensor("image").shape
        height = shape[0]; width = shape[1]
        pixels = try file.bytes("image")
        mask = try file.bytes("mask")
    }

    func reference() throws -> Thumbnails {
        Thumbnails(side: 256, foreground: try file.floats("fg_img"), foregroundMask: try file.floats("fg_mask"),
                   background: try file.floats("bg_img"), backgroundMask: try file.floats("bg_mask"))
    }

    /// Calls `body` with views over the picture (pixels may be modified in place).
    mutating func withViews<T>(_ body: (ImageView, MaskView) throws -> T) rethrows -> T {
        let (w, h) = (width, height)
        return try pixels.withUnsafeMutableBytes { px in
            try mask.withUnsafeBufferPointer { m in
                try body(ImageView(width: w, height: h, channels: 3, bytesPerSample: 1, rowBytes: w * 3, data: px.baseAddress!),
                         MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!))
            }
        }
    }
}

func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-6) }.max() ?? 0
}

@Suite struct ParityTests {
    @Test func thumbnailsMatchTheReference() throws {
        var picture = try Picture()
        let model = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")
        let ours = try #require(picture.withViews { model.thumbnails(image: $0, mask: $1) })
        let ref = try picture.reference()
        for (name, a, b) in [("fg", ours.foreground, ref.foreground), ("fg mask", ours.foregroundMask, ref.foregroundMask),
                             ("bg", ours.background, ref.background), ("bg mask", ours.backgroundMask, ref.backgroundMask)] {
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5, "\(name): max difference \(worst)")
        }
    }

    /// The same picture stored as 8-bit RGBA and as 16-bit RGB (each 8-bit value x 257, the same
    /// [0, 1] value) gives the same thumbnails: the resize reads every layout the engine takes.
    @Test func thumbnailsAreTheSameFromRGBAAnd16BitPictures() throws {
        var picture = try Picture()
        let model = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")
        let rgb = try #require(picture.withViews { model.thumbnails(image: $0, mask: $1) })
        let (w, h) = (picture.width, picture.height)
        var rgba = [UInt8](repeating: 7, count: w * h * 4)            // alpha 7: ignored
        var deep = [UInt16](repeating: 0, count: w * h * 3)
        for i in 0..<(w * h) {
            for c in 0..<3 {
                rgba[4 * i + c] = picture.pixels[3 * i + c]
                deep[3 * i + c] = (UInt16(picture.pixels[3 * i + c]) * 257).littleEndian
            }
        }
        for (name, channels, bytes) in [("rgba", 4, 1), ("16-bit", 3, 2)] {
            let thumbs = try #require(picture.mask.withUnsafeBufferPointer { m -> Thumbnails? in
                let mask = MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!)
                let view: (UnsafeMutableRawPointer) -> ImageView = {
                    ImageView(width: w, height: h, channels: channels, bytesPerSample: bytes, rowBytes: w * channels * bytes, data: $0)
                }
                return name == "rgba" ? rgba.withUnsafeMutableBytes { model.thumbnails(image: view($0.baseAddress!), mask: mask) }
                                      : deep.withUnsafeMutableBytes { model.thumbnails(image: view($0.baseAddress!), mask: mask) }
            })
            #expect(maxRelativeError(thumbs.foreground, rgb.foreground) < 1e-5, "\(name) fg")
            #expect(maxRelativeError(thumbs.background, rgb.background) < 1e-5, "\(name) bg")
            #expect(thumbs.foregroundMask == rgb.foregroundMask && thumbs.backgroundMask == rgb.backgroundMask, "\(name) masks")
        }
    }

    /// Format 1 files (plain, cascaded, semantic: y(1) = 1), a format 2 file (plain-v2: end values)
    /// and a format 3 file (plain-v3: end values, every piece's slope bent below 2).
    @Test(arguments: [("plain", "plain"), ("cascaded", "cascaded"), ("semantic", "semantic"), ("plain-v2", "plain"),
                      ("plain-v3", "plain")])
    func curvesAndRenderMatchTheReference(fixture: String, variant: String) throws {
        var picture = try Picture()
        let model = try HarmonizationModel(path: "\(fixtures)/\(fixture).safetensors")
        let expected = try SafetensorsFile(path: "\(fixtures)/\(fixture)-expected.safetensors")
        let label: SemanticLabel = expected.metadata["label"] == "animal" ? .animal : .other
        #expect(model.variant == variant)
        #expect((model.endMax != nil) == (fixture.hasSuffix("-v2") || fixture.hasSuffix("-v3")))
        #expect((model.slopeBound != nil) == fixture.hasSuffix("-v3"))

        // Each stage's curve (its increments), from the reference thumbnails: within 1e-4 relative.
        let stages = model.predict(try picture.reference(), label: label)
        #expect(stages.count == Int(expected.metadata["stages"] ?? ""))
        for (k, p) in stages.enumerated() {
            let ref = try expected.floats("p\(k + 1)")
            let err = maxRelativeError(p.increments, ref)
            #expect(err < 1e-4, "stage \(k + 1): relative error \(err)")
            if fixture.hasSuffix("-v2") { #expect(p.ends.contains { abs($0 - 1) > 0.1 }, "end values should be free: \(p.ends)") }
            if let bound = model.slopeBound?.bound {
                // The fixture's heads ask for pieces up to ~20x steeper than the identity; none passes the bound.
                let steepest = (p.increments.max() ?? 0) * Float(p.pieces)
                #expect(steepest <= bound && steepest > 0.9 * bound, "steepest piece \(steepest), bound \(bound)")
            }
        }

        // End to end from the 8-bit picture: the LUT, then the rendered frame within 1 level.
        let curves = try #require(picture.withViews { model.curves(image: $0, mask: $1, label: label) })
        let lutError = zip(curves.values, try expected.floats("lut")).map { abs($0 - $1) }.max() ?? 0
        #expect(lutError < 1e-4, "LUT max difference \(lutError)")
        picture.withViews { image, mask in CurveRenderer(curves: curves, bytesPerSample: 1).render(image, mask: mask) }
        let reference = try expected.bytes("output")
        let worst = zip(picture.pixels, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= 1, "rendered output differs by up to \(worst) levels")
        let changed = zip(picture.pixels, try Picture().pixels).filter { $0 != $1 }.count
        #expect(changed > 1000, "the curves should visibly change the foreground (\(changed) samples changed)")
    }
}
