import Testing
@testable import Engine

/// The 4:2:0 paths (`YUV420View`) against the RGB ones on the same picture converted by formula:
/// the render, the thumbnails and the sketch.
@Suite struct YUV420Tests {
    /// A limited-range BT.709 4:2:0 picture made from an RGB one (gradients and noise kept inside
    /// the gamut), and a soft mask with an empty band, a full region and ramps. Odd sizes on purpose.
    struct Picture {
        let width: Int, height: Int
        var luma: [UInt8], cb: [UInt8], cr: [UInt8]
        let mask: [UInt8]
        let matrix = YUVMatrix(kr: 0.2126, kb: 0.0722, fullRange: false)
        var chromaWidth: Int { (width + 1) / 2 }

        init(width: Int, height: Int) {
            self.width = width
            self.height = height
            var state: UInt32 = 11
            func noise() -> Float { state = state &* 1664525 &+ 1013904223; return Float(state >> 8) / Float(1 << 24) - 0.5 }
            var rgb = [SIMD3<Float>](repeating: .zero, count: width * height)
            for y in 0..<height {
                for x in 0..<width {
                    let fx = Float(x) / Float(width), fy = Float(y) / Float(height)
                    let base = SIMD3<Float>(0.2 + 0.6 * fx, 0.7 - 0.5 * fy, 0.3 + 0.4 * fx * fy)
                    rgb[y * width + x] = (base + SIMD3(noise(), noise(), noise()) * 0.12)
                        .clamped(lowerBound: SIMD3(repeating: 0.05), upperBound: SIMD3(repeating: 0.95))
                }
            }
            let (kr, kb) = (Float(0.2126), Float(0.0722)), kg = 1 - kr - kb
            let cw = (width + 1) / 2, chh = (height + 1) / 2
            luma = rgb.map { UInt8((16 + 219 * (kr * $0.x + kg * $0.y + kb * $0.z)).rounded()) }
            cb = .init(repeating: 0, count: cw * chh)
            cr = .init(repeating: 0, count: cw * chh)
            for by in 0..<chh {
                for bx in 0..<cw {
                    var sum = SIMD3<Float>.zero, n: Float = 0
                    for y in (2 * by)..<min(height, 2 * by + 2) { for x in (2 * bx)..<min(width, 2 * bx + 2) { sum += rgb[y * width + x]; n += 1 } }
                    let c = sum / n, l = kr * c.x + kg * c.y + kb * c.z
                    cb[by * cw + bx] = UInt8((128 + 224 * (c.z - l) / (2 * (1 - kb))).rounded())
                    cr[by * cw + bx] = UInt8((128 + 224 * (c.x - l) / (2 * (1 - kr))).rounded())
                }
            }
            var m = [UInt8](repeating: 0, count: width * height)
            for y in 0..<height {
                for x in 0..<width where x >= width / 4 {
                    let ramp = min(1, Float(x - width / 4) / 9) * min(1, Float(height - 1 - y) / 5)
                    m[y * width + x] = y % 7 == 3 && x % 3 == 0 ? 0 : UInt8((255 * ramp).rounded())
                }
            }
            mask = m
        }

        func withView<R>(_ body: (YUV420View, MaskView) -> R) -> R {
            var copy = self
            let w = width
            return copy.luma.withUnsafeMutableBufferPointer { l in
                copy.cb.withUnsafeMutableBufferPointer { u in
                    copy.cr.withUnsafeMutableBufferPointer { v in
                        mask.withUnsafeBufferPointer { m in
                            body(YUV420View(width: w, height: height, luma: l.baseAddress!, lumaRowBytes: w,
                                            cb: u.baseAddress!, cr: v.baseAddress!, chromaRowBytes: chromaWidth, matrix: matrix),
                                 MaskView(width: w, height: height, rowBytes: w, data: m.baseAddress!))
                        }
                    }
                }
            }
        }

        /// Packed 8-bit RGB by formula, chroma replicated over its block (as the RGB path decodes).
        func rgb() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 3 * width * height)
            for y in 0..<height {
                for x in 0..<width {
                    let c = (y / 2) * chromaWidth + x / 2
                    let v = matrix.rgb(Float(luma[y * width + x]), Float(cb[c]), Float(cr[c])) * 255
                    for k in 0..<3 { out[3 * (y * width + x) + k] = UInt8(min(max(v[k].rounded(), 0), 255)) }
                }
            }
            return out
        }
    }

    static let curves: ToneCurves = {
        var v = [Float](repeating: 0, count: 3 * 256)
        for i in 0..<256 {
            let x = Float(i) / 255
            v[i] = 0.8 * x + 0.05
            v[256 + i] = x * x * (1.3 - 0.3 * x)
            v[512 + i] = min(1, 1.1 * x)
        }
        return ToneCurves(size: 256, values: v)
    }()

    /// The RGB path: convert, render, and convert back (luma per pixel, chroma averaged over the block).
    static func renderThroughRGB(_ p: Picture) -> (luma: [Float], cb: [Float], cr: [Float]) {
        var rgb = p.rgb()
        rgb.withUnsafeMutableBytes { raw in
            p.mask.withUnsafeBufferPointer { m in
                CurveRenderer(curves: curves, bytesPerSample: 1).render(
                    ImageView(width: p.width, height: p.height, channels: 3, bytesPerSample: 1, rowBytes: 3 * p.width, data: raw.baseAddress!),
                    mask: MaskView(width: p.width, height: p.height, rowBytes: p.width, data: m.baseAddress!))
            }
        }
        let (kr, kb) = (p.matrix.kr, p.matrix.kb), kg = 1 - kr - kb
        func pixel(_ x: Int, _ y: Int) -> SIMD3<Float> {
            let i = 3 * (y * p.width + x)
            return SIMD3(Float(rgb[i]), Float(rgb[i + 1]), Float(rgb[i + 2])) / 255
        }
        var luma = [Float](repeating: 0, count: p.width * p.height)
        for y in 0..<p.height { for x in 0..<p.width { let c = pixel(x, y); luma[y * p.width + x] = 16 + 219 * (kr * c.x + kg * c.y + kb * c.z) } }
        var cb = [Float](repeating: 0, count: p.cb.count), cr = cb
        for by in 0..<((p.height + 1) / 2) {
            for bx in 0..<p.chromaWidth {
                var sb: Float = 0, sr: Float = 0, n: Float = 0
                for y in (2 * by)..<min(p.height, 2 * by + 2) {
                    for x in (2 * bx)..<min(p.width, 2 * bx + 2) {
                        let c = pixel(x, y), l = kr * c.x + kg * c.y + kb * c.z
                        sb += 128 + 224 * (c.z - l) / (2 * (1 - kb))
                        sr += 128 + 224 * (c.x - l) / (2 * (1 - kr))
                        n += 1
                    }
                }
                cb[by * p.chromaWidth + bx] = sb / n
                cr[by * p.chromaWidth + bx] = sr / n
            }
        }
        return (luma, cb, cr)
    }

    @Test(arguments: [(67, 45), (64, 48), (300, 200)])
    func renderMatchesTheRGBPath(size: (Int, Int)) {
        let p = Picture(width: size.0, height: size.1)
        let out = Self.render(p)
        let reference = Self.renderThroughRGB(p)
        func compare(_ got: [UInt8], _ want: [Float], _ name: String) {
            var worst: Float = 0, sum: Float = 0
            for i in 0..<got.count { let d = abs(Float(got[i]) - want[i]); worst = max(worst, d); sum += d }
            // The RGB path rounds twice (RGB, then Y'CbCr); this one once.
            #expect(worst <= 2, "\(name): worst difference \(worst)")
            #expect(sum / Float(got.count) <= 0.5, "\(name): mean difference \(sum / Float(got.count))")
        }
        compare(out.luma, reference.luma, "luma")
        compare(out.cb, reference.cb, "cb")
        compare(out.cr, reference.cr, "cr")
        // The curves did change the masked pixels.
        let changed = zip(out.luma, p.luma).filter { $0 != $1 }.count
        #expect(changed > p.luma.count / 3)
    }

    /// Luma where the mask is 0 and chroma of blocks the mask does not touch are not rewritten at all.
    @Test func samplesOutsideTheMaskStayAsDecoded() {
        let p = Picture(width: 67, height: 45)
        let out = Self.render(p)
        for i in 0..<p.luma.count where p.mask[i] == 0 { #expect(out.luma[i] == p.luma[i]) }
        for by in 0..<((p.height + 1) / 2) {
            for bx in 0..<p.chromaWidth {
                var touched = false
                for y in (2 * by)..<min(p.height, 2 * by + 2) { for x in (2 * bx)..<min(p.width, 2 * bx + 2) { touched = touched || p.mask[y * p.width + x] > 0 } }
                if !touched {
                    #expect(out.cb[by * p.chromaWidth + bx] == p.cb[by * p.chromaWidth + bx])
                    #expect(out.cr[by * p.chromaWidth + bx] == p.cr[by * p.chromaWidth + bx])
                }
            }
        }
    }

    static func render(_ p: Picture) -> Picture {
        var out = p
        let (w, h, cw) = (p.width, p.height, p.chromaWidth)
        out.luma.withUnsafeMutableBufferPointer { l in
            out.cb.withUnsafeMutableBufferPointer { u in
                out.cr.withUnsafeMutableBufferPointer { v in
                    p.mask.withUnsafeBufferPointer { m in
                        CurveRenderer(curves: curves, bytesPerSample: 1).render(
                            yuv: YUV420View(width: w, height: h, luma: l.baseAddress!, lumaRowBytes: w, cb: u.baseAddress!,
                                            cr: v.baseAddress!, chromaRowBytes: cw, matrix: p.matrix),
                            mask: MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!))
                    }
                }
            }
        }
        return out
    }

    /// Thumbnails resized in Y'CbCr and converted at 256x256 equal those of the converted frame
    /// within rounding.
    @Test func thumbnailsMatchThoseOfTheConvertedFrame() throws {
        let model = try HarmonizationModel(path: "\(fixtures)/plain.safetensors")
        let p = Picture(width: 300, height: 200)
        var rgb = p.rgb()
        let fromRGB = rgb.withUnsafeMutableBytes { raw in
            p.mask.withUnsafeBufferPointer { m in
                model.thumbnails(image: ImageView(width: p.width, height: p.height, channels: 3, bytesPerSample: 1,
                                                  rowBytes: 3 * p.width, data: raw.baseAddress!),
                                 mask: MaskView(width: p.width, height: p.height, rowBytes: p.width, data: m.baseAddress!))
            }
        }!
        let fromYUV = p.withView { model.thumbnails(yuv: $0, mask: $1) }!
        for (a, b, name) in [(fromRGB.foreground, fromYUV.foreground, "foreground"), (fromRGB.background, fromYUV.background, "background")] {
            let diffs = zip(a, b).map { abs($0 - $1) * 255 }
            #expect(diffs.max()! <= 1.5, "\(name): worst \(diffs.max()!) levels")
            #expect(diffs.reduce(0, +) / Float(diffs.count) <= 0.3, "\(name): mean \(diffs.reduce(0, +) / Float(diffs.count)) levels")
        }
        #expect(fromRGB.foregroundMask == fromYUV.foregroundMask && fromRGB.backgroundMask == fromYUV.backgroundMask)
    }

    @Test func sketchMatchesThatOfTheConvertedFrame() {
        let p = Picture(width: 300, height: 200)
        var rgb = p.rgb()
        let fromRGB = rgb.withUnsafeMutableBytes { raw in
            p.mask.withUnsafeBufferPointer { m in
                FrameSketch(image: ImageView(width: p.width, height: p.height, channels: 3, bytesPerSample: 1,
                                             rowBytes: 3 * p.width, data: raw.baseAddress!),
                            mask: MaskView(width: p.width, height: p.height, rowBytes: p.width, data: m.baseAddress!))
            }
        }
        let fromYUV = p.withView { FrameSketch(yuv: $0, mask: $1) }
        #expect(zip(fromRGB.colour, fromYUV.colour).allSatisfy { abs($0 - $1) <= 1 / 255 })
        #expect(fromRGB.coverage == fromYUV.coverage && fromRGB.hasMask == fromYUV.hasMask)
        let histogramChange = zip(fromRGB.histogram, fromYUV.histogram).reduce(Float(0)) { $0 + abs($1.0 - $1.1) }
        #expect(histogramChange <= 0.02)
    }
}
