#if canImport(Glibc)
import Glibc
#endif
import CKernels
import Dispatch

/// How 8-bit Y'CbCr code values relate to R'G'B': the matrix's luma weights and the range.
/// (Y' in [0, 1] and Pb, Pr in [-0.5, 0.5], as in BT.601/709/2020.)
public struct YUVMatrix: Sendable, Equatable {
    public let kr: Float
    public let kb: Float
    public let fullRange: Bool

    /// Y' = y * yScale + yOffset; Pb = (cb - 128) * cScale (Pr likewise).
    let yScale: Float, yOffset: Float, cScale: Float
    /// R' = Y' + rPr Pr, G' = Y' - gPb Pb - gPr Pr, B' = Y' + bPb Pb.
    let rPr: Float, gPb: Float, gPr: Float, bPb: Float

    public init(kr: Double, kb: Double, fullRange: Bool) {
        let kg = 1 - kr - kb
        self.kr = Float(kr)
        self.kb = Float(kb)
        self.fullRange = fullRange
        yScale = fullRange ? 1 / 255 : 1 / 219
        yOffset = fullRange ? 0 : -16 / 219
        cScale = fullRange ? 1 / 255 : 1 / 224
        rPr = Float(2 * (1 - kr))
        gPb = Float(2 * kb * (1 - kb) / kg)
        gPr = Float(2 * kr * (1 - kr) / kg)
        bPb = Float(2 * (1 - kb))
    }

    public var kg: Float { 1 - kr - kb }

    /// R'G'B' in [0, 1] (unclamped) of code values y, cb, cr.
    @inline(__always)
    func rgb(_ y: Float, _ cb: Float, _ cr: Float) -> SIMD3<Float> {
        let l = y * yScale + yOffset, pb = (cb - 128) * cScale, pr = (cr - 128) * cScale
        return SIMD3(l + rPr * pr, l - gPb * pb - gPr * pr, l + bPb * pb)
    }
}

/// An 8-bit 4:2:0 picture as it is decoded: a luma plane and two chroma planes of half the width and
/// height (rounded up), each chroma sample shared by a 2x2 block of pixels. The engine reads and
/// writes it without converting the frame: thumbnails are averaged in Y'CbCr and converted at
/// thumbnail size, and the render converts only the blocks the mask touches. The engine never owns it.
public struct YUV420View: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let luma: UnsafeMutablePointer<UInt8>
    public let lumaRowBytes: Int
    public let cb: UnsafeMutablePointer<UInt8>
    public let cr: UnsafeMutablePointer<UInt8>
    public let chromaRowBytes: Int
    public let matrix: YUVMatrix

    public init(width: Int, height: Int, luma: UnsafeMutablePointer<UInt8>, lumaRowBytes: Int,
                cb: UnsafeMutablePointer<UInt8>, cr: UnsafeMutablePointer<UInt8>, chromaRowBytes: Int, matrix: YUVMatrix) {
        precondition(width > 0 && height > 0 && lumaRowBytes >= width && chromaRowBytes >= (width + 1) / 2)
        self.width = width
        self.height = height
        self.luma = luma
        self.lumaRowBytes = lumaRowBytes
        self.cb = cb
        self.cr = cr
        self.chromaRowBytes = chromaRowBytes
        self.matrix = matrix
    }

    /// R'G'B' of pixel (x, y) in [0, 1], clamped (chroma from its block, as the RGB path replicates it).
    @inline(__always)
    func rgb(_ x: Int, _ y: Int) -> SIMD3<Float> {
        let c = (y >> 1) * chromaRowBytes + (x >> 1)
        let v = matrix.rgb(Float(luma[y * lumaRowBytes + x]), Float(cb[c]), Float(cr[c]))
        return v.clamped(lowerBound: SIMD3(repeating: 0), upperBound: SIMD3(repeating: 1))
    }

    /// Adds `weight` times row `y`, columns [x0, x1), into `dst` as three planes of x1 - x0 floats:
    /// Y', Pb, Pr (the affine part too: resampling weights sum to 1, so the thumbnail's values are
    /// Y', Pb, Pr). Chroma is replicated to both pixels of its pair, 16 pixels at a time.
    func addRow(_ y: Int, x0: Int, x1: Int, weight: Float, into dst: UnsafeMutablePointer<Float>) {
        let n = x1 - x0
        let l = luma + y * lumaRowBytes + x0
        let ky = weight * matrix.yScale, oy = weight * matrix.yOffset
        let kc = weight * matrix.cScale, oc = -128 * kc
        var i = 0
        while i + 16 <= n {
            let v = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(l + i).loadUnaligned(as: SIMD16<UInt8>.self)))
            let d = UnsafeMutableRawPointer(dst + i)
            d.storeBytes(of: d.loadUnaligned(as: SIMD16<Float>.self) + v * ky + oy, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { dst[i] += ky * Float(l[i]) + oy; i += 1 }
        for (plane, chroma) in [(1, cb), (2, cr)] {
            let c = chroma + (y >> 1) * chromaRowBytes
            let out = dst + plane * n
            var x = x0
            // A head pixel up to an even column, then pairs of 8 chroma samples -> 16 pixels.
            if x & 1 == 1 && x < x1 { out[0] += kc * Float(c[x >> 1]) + oc; x += 1 }
            while x + 16 <= x1 {
                let v8 = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(c + (x >> 1)).loadUnaligned(as: SIMD8<UInt8>.self))) * kc + oc
                let v16 = SIMD16<Float>(v8[0], v8[0], v8[1], v8[1], v8[2], v8[2], v8[3], v8[3],
                                        v8[4], v8[4], v8[5], v8[5], v8[6], v8[6], v8[7], v8[7])
                let d = UnsafeMutableRawPointer(out + (x - x0))
                d.storeBytes(of: d.loadUnaligned(as: SIMD16<Float>.self) + v16, as: SIMD16<Float>.self)
                x += 16
            }
            while x < x1 { out[x - x0] += kc * Float(c[x >> 1]) + oc; x += 1 }
        }
    }
}

extension HarmonizationModel {
    /// The thumbnails of a 4:2:0 frame (nil when the mask is empty). Resampling is linear, so the
    /// thumbnails are resized in Y'CbCr and converted to RGB at 256x256, not the frame at its size;
    /// they differ from those of the converted frame only by rounding and by where clamping happens.
    public func thumbnails(yuv: YUV420View, mask: MaskView) -> Thumbnails? {
        precondition(yuv.width == mask.width && yuv.height == mask.height, "mask and image sizes differ")
        guard var t = thumbnails(width: yuv.width, height: yuv.height, mask: mask, stride: 3, planar: true,
                                 addRow: { yuv.addRow($0, x0: $1, x1: $2, weight: $3, into: $4) }) else { return nil }
        let m = yuv.matrix
        for keyPath in [\Thumbnails.foreground, \Thumbnails.background] {
            t[keyPath: keyPath].withUnsafeMutableBufferPointer { p in
                hz_ypbpr_to_rgb_planes(p.baseAddress!, side * side, m.rPr, m.gPb, m.gPr, m.bPb)
            }
        }
        return t
    }
}

extension FrameSketch {
    /// The sketch of a 4:2:0 frame and its mask (samples converted one by one).
    public init(yuv: YUV420View, mask: MaskView) {
        // Rounded to 8 bits, as a converted frame's samples are (bins would flip at their edges).
        self.init(width: yuv.width, height: yuv.height, mask: mask, imageAlpha: nil) { x, y in (yuv.rgb(x, y) * 255).rounded(.toNearestOrAwayFromZero) / 255 }
    }
}

extension CurveRenderer {
    /// Renders into a 4:2:0 frame in place, 2x2 block by block, only where the mask is on. Each
    /// touched pixel is converted to 8-bit RGB (chroma from its block, as the RGB path does), looked
    /// up and blended as in `render(_:mask:)` (clipped to the RGB cube first), and the change is
    /// converted back: luma per pixel, the chroma sample by the mean change over its block (the RGB
    /// path's area average). Samples the mask does not reach stay exactly as decoded: a run of 32
    /// blocks the mask does not touch is not written at all, and inside a run that it touches a
    /// pixel whose mask is 0 gets a change of exactly 0 (its luma, and the chroma of a block with no
    /// pixel under the mask, are rewritten with the value they had). So two renders must not share
    /// a frame at once even where their masks do not overlap.
    public func render(yuv: YUV420View, mask: MaskView, box: Box? = nil) {
        precondition(yuv.width == mask.width && yuv.height == mask.height, "mask and image sizes differ")
        precondition(!deep, "4:2:0 frames are 8-bit")
        // Identity curves leave the frame exactly as decoded (no clipping to the RGB cube either).
        guard !isIdentity, let b = box ?? maskBounds(mask), b.width > 0, b.height > 0 else { return }
        // Whole chroma blocks: even start, end rounded up (the picture's own edge may cut the last).
        let bx0 = b.x0 >> 1, bx1 = (b.x1 + 1) >> 1, by0 = b.y0 >> 1, by1 = (b.y1 + 1) >> 1
        let blockRows = by1 - by0
        let bands = b.width * b.height >= 1 << 18 ? min(blockRows, 4 * System.coreCount) : 1
        let perBand = (blockRows + bands - 1) / bands
        DispatchQueue.concurrentPerform(iterations: bands) { i in
            let r0 = by0 + i * perBand, r1 = min(by1, r0 + perBand)
            if r0 < r1 { renderBlocks(yuv, mask, bx0: bx0, bx1: bx1, by0: r0, by1: r1) }
        }
    }

    private func renderBlocks(_ img: YUV420View, _ mask: MaskView, bx0: Int, bx1: Int, by0: Int, by1: Int) {
        let m = img.matrix
        let (kr, kg, kb) = (m.kr, m.kg, m.kb)
        // Changes of R'G'B' (in 0...255 units) to changes of code values.
        let lumaK = 1 / (255 * m.yScale), chromaK = 1 / (255 * m.cScale)
        let cbK = chromaK / (2 * (1 - kb)), crK = chromaK / (2 * (1 - kr))
        // R'G'B' in 0...255 units: a luma term per pixel plus a chroma term per block.
        let ys = 255 * m.yScale, yo = 255 * m.yOffset, cs = 255 * m.cScale
        var constants = hz_render420_constants(ys: ys, yo: yo, cs: cs, rPr: m.rPr, gPb: m.gPb, gPr: m.gPr, bPb: m.bPb,
                                               kr: kr, kg: kg, kb: kb, lumaK: lumaK, cbK: cbK, crK: crK)
        // Blocks with both columns inside the picture (an odd width cuts the last one).
        let wholeEnd = max(bx0, min(bx1, img.width / 2))
        table8Change.withUnsafeBufferPointer { d in
            let d = d.baseAddress!
            for by in by0..<by1 {
                let y0 = 2 * by, rows = min(2, img.height - y0)
                let cbRow = img.cb + by * img.chromaRowBytes, crRow = img.cr + by * img.chromaRowBytes
                let mask0 = mask.data + y0 * mask.rowBytes, mask1 = mask0 + (rows - 1) * mask.rowBytes
                let luma0 = img.luma + y0 * img.lumaRowBytes, luma1 = luma0 + (rows - 1) * img.lumaRowBytes
                var first = bx0
                if rows == 2 && wholeEnd > bx0 {
                    // Whole 2x2 blocks: the C kernel, the same arithmetic as below, vectorised.
                    hz_render420_block_row(d, &constants, luma0 + 2 * bx0, luma1 + 2 * bx0, mask0 + 2 * bx0, mask1 + 2 * bx0,
                                           cbRow + bx0, crRow + bx0, Int32(wholeEnd - bx0))
                    first = wholeEnd
                }
                // Blocks the picture's edge cuts, pixel by pixel.
                for bx in first..<bx1 {
                    let x0 = 2 * bx, cols = min(2, img.width - x0)
                    // Quick skip: a block the mask does not touch.
                    if mask0[x0] | mask1[x0] | mask0[x0 + cols - 1] | mask1[x0 + cols - 1] == 0 { continue }
                    let u = Float(cbRow[bx]), v = Float(crRow[bx])
                    let pb = (u - 128) * cs, pr = (v - 128) * cs
                    let cR = m.rPr * pr, cG = -(m.gPb * pb) - m.gPr * pr, cB = m.bPb * pb
                    var sumB: Float = 0, sumR: Float = 0
                    for dy in 0..<rows {
                        let lumaRow = dy == 0 ? luma0 : luma1, maskRow = dy == 0 ? mask0 : mask1
                        for dx in 0..<cols {
                            let am = maskRow[x0 + dx]
                            if am == 0 { continue }
                            let yv = Float(lumaRow[x0 + dx])
                            let l = yv * ys + yo
                            let rawR = l + cR, rawG = l + cG, rawB = l + cB
                            let cr = min(max(rawR, 0), 255), cg = min(max(rawG, 0), 255), cb = min(max(rawB, 0), 255)
                            let r = Int(cr + 0.5), g = Int(cg + 0.5), bl = Int(cb + 0.5)
                            let a = Float(am) * (1 / 255)
                            // Curve, blended with the pixel by the mask; the change in 0...255 units.
                            // What lies outside the RGB cube (chroma overshoot at saturated grain) is
                            // clipped away under the mask, as the RGB path does: darkening would
                            // otherwise bring grain into view that the input never showed.
                            let dR = (d[r] + cr - rawR) * a
                            let dG = (d[256 + g] + cg - rawG) * a
                            let dB = (d[512 + bl] + cb - rawB) * a
                            let dL = kr * dR + kg * dG + kb * dB
                            lumaRow[x0 + dx] = UInt8(min(max(yv + dL * lumaK + 0.5, 0), 255))
                            sumB += dB - dL
                            sumR += dR - dL
                        }
                    }
                    let n = Float(rows * cols)
                    cbRow[bx] = UInt8(min(max(u + (sumB * cbK) / n + 0.5, 0), 255))
                    crRow[bx] = UInt8(min(max(v + (sumR * crK) / n + 0.5, 0), 255))
                }
            }
        }
    }
}
