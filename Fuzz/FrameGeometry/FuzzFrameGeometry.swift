// libFuzzer target: frame and mask geometry. The bytes choose a picture (1-48 px a side, 8 or 16
// bits, 3 or 4 channels, padded rows), a mask (its alpha plane, padded rows), the box padding and a
// curve; then the foreground box, the thumbnails, the slope guard and the render run on them. The
// box must lie inside the frame, the thumbnails must be finite in 0...1, and the render must leave
// every pixel the mask does not touch as it was.
import Engine
import Foundation
import FuzzSupport

let model: HarmonizationModel = {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/EngineTests/Fixtures/plain-v2.safetensors").path
    do { return try HarmonizationModel(path: fixture) } catch { fatalError("\(error)") }
}()

/// Reads the fuzzer's bytes in order, then zeros.
struct Bytes {
    let base: UnsafePointer<UInt8>, count: Int
    var at = 0
    mutating func next() -> UInt8 {
        defer { at += 1 }
        return at < count ? base[at] : 0
    }
}

func fuzzFrameGeometry(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start = data else { return 0 }
    var b = Bytes(base: start, count: count)
    let width = 1 + Int(b.next()) % 48, height = 1 + Int(b.next()) % 48
    let flags = b.next()
    let bytesPerSample = 1 + Int(flags & 1), channels = 3 + Int(flags >> 1 & 1)
    let rowBytes = width * channels * bytesPerSample + Int(b.next() % 8) * bytesPerSample
    let maskRowBytes = width + Int(b.next() % 8)
    let padding = Float(b.next()) / 255 * 0.5
    let pieces = 1 + Int(b.next()) % 64
    let weights = (0..<(3 * pieces)).map { _ in Float(1 + Int(b.next())) / 16 }
    let ends = (0..<3).map { _ in 0.05 + Float(b.next()) / 255 * 1.2 }
    let slope = 1 + Float(b.next() % 16)

    var pixels = (0..<(rowBytes * height)).map { _ in b.next() }
    let alpha = (0..<(maskRowBytes * height)).map { _ in b.next() }
    let original = pixels
    alpha.withUnsafeBufferPointer { a in
        let mask = MaskView(width: width, height: height, rowBytes: maskRowBytes, data: a.baseAddress!)
        if let box = foregroundBox(mask, padding: padding) {
            precondition(box.x0 >= 0 && box.y0 >= 0 && box.x1 <= width && box.y1 <= height && box.width > 0 && box.height > 0, "\(box)")
        }
        pixels.withUnsafeMutableBytes { p in
            let image = ImageView(width: width, height: height, channels: channels, bytesPerSample: bytesPerSample,
                                  rowBytes: rowBytes, data: p.baseAddress!)
            if let t = model.thumbnails(image: image, mask: mask) {
                for v in t.foreground + t.background + t.foregroundMask + t.backgroundMask {
                    precondition(v.isFinite && v >= -1e-4 && v <= 1 + 1e-4, "thumbnail value \(v)")
                }
            }
            let curves = ToneCurves(CurveParameters(pieces: pieces, weights: weights, ends: ends)).limitingSlope(slope).curves
            precondition(curves.maxSlope <= slope * 1.001, "guard left slope \(curves.maxSlope) > \(slope)")
            CurveRenderer(curves: curves, bytesPerSample: bytesPerSample).render(image, mask: mask)
        }
        for y in 0..<height {
            for x in 0..<(rowBytes / bytesPerSample) where x >= width * channels || a[y * maskRowBytes + x / channels] == 0
                || (channels == 4 && x % 4 == 3) {
                for k in 0..<bytesPerSample {
                    let i = y * rowBytes + x * bytesPerSample + k
                    precondition(pixels[i] == original[i], "pixel byte \(i) changed outside the mask")
                }
            }
        }
    }
    return 0
}

@main struct Main {
    static func main() { runFuzzTarget(fuzzFrameGeometry) }
}
