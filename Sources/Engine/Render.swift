#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Applies curves to a frame at its native resolution, only where the mask is on, blending with the
/// mask as alpha: out = curve(img) * m + img * (1 - m). Lookup tables make the cost per pixel three
/// table reads and a blend, whatever the curves; only the mask's bounding box is visited.
public struct CurveRenderer: Sendable {
    /// 8-bit: 256 floats per channel (the curve in 0...255 units, unrounded until the blend).
    let table8: [Float]
    /// 8-bit, rounded: for pixels the mask covers fully (no blend needed).
    private let table8Rounded: [UInt8]
    /// 8-bit: t[v] - v, the change the curve makes at each level (the 4:2:0 render adds it).
    let table8Change: [Float]
    /// 16-bit: 65536 entries per channel.
    private let table16: [UInt16]
    let deep: Bool
    /// 8-bit tables that change no level (strength 0, an empty prediction): nothing to render.
    let isIdentity: Bool

    /// Tables for frames of `bytesPerSample` (1: 8-bit, 2: 16-bit samples holding 10-bit or more).
    public init(curves: ToneCurves, bytesPerSample: Int) {
        deep = bytesPerSample == 2
        if deep {
            var t = [UInt16](repeating: 0, count: 3 * 65536)
            for c in 0..<3 {
                for v in 0..<65536 {
                    let y = curves.value(channel: c, at: Float(v) / 65535) * 65535
                    t[c * 65536 + v] = UInt16(min(max(y.rounded(), 0), 65535))
                }
            }
            table16 = t
            table8 = []
            table8Rounded = []
            table8Change = []
            isIdentity = false
        } else {
            let c256 = curves.size == 256 ? curves : curves.resampled(256)
            let t = c256.values.map { min(max($0, 0), 1) * 255 }
            table8 = t
            table8Rounded = t.map { UInt8(min($0 + 0.5, 255)) }
            table8Change = t.indices.map { t[$0] - Float($0 % 256) }
            table16 = []
            isIdentity = t.indices.allSatisfy { abs(t[$0] - Float($0 % 256)) < 1e-3 }
        }
    }

    /// Renders in place. `box` limits the work (default: the mask's bounds).
    public func render(_ image: ImageView, mask: MaskView, box: Box? = nil) {
        precondition(image.width == mask.width && image.height == mask.height, "mask and image sizes differ")
        guard let box = box ?? maskBounds(mask), box.width > 0, box.height > 0 else { return }
        // Split large frames across cores by bands of rows; small ones are not worth the hand-off.
        let bands = box.width * box.height >= 1 << 18 ? min(box.height, 4 * System.coreCount) : 1
        let rowsPerBand = (box.height + bands - 1) / bands
        DispatchQueue.concurrentPerform(iterations: bands) { b in
            let y0 = box.y0 + b * rowsPerBand, y1 = min(box.y1, y0 + rowsPerBand)
            if y0 < y1 { renderRows(image, mask, x0: box.x0, x1: box.x1, y0: y0, y1: y1) }
        }
    }

    private func renderRows(_ image: ImageView, _ mask: MaskView, x0: Int, x1: Int, y0: Int, y1: Int) {
        let ch = image.channels
        if deep {
            table16.withUnsafeBufferPointer { t in
                for y in y0..<y1 {
                    let m = mask.data + y * mask.rowBytes
                    let row = (image.data + y * image.rowBytes).assumingMemoryBound(to: UInt16.self)
                    for x in x0..<x1 {
                        let a = UInt32(m[x])
                        if a == 0 { continue }
                        let p = row + x * ch
                        for c in 0..<3 {
                            let v = UInt32(UInt16(littleEndian: p[c]))
                            let l = UInt32(t[c * 65536 + Int(v)])
                            p[c] = UInt16((l * a + v * (255 - a) + 127) / 255).littleEndian
                        }
                    }
                }
            }
        } else {
            table8.withUnsafeBufferPointer { t in
            table8Rounded.withUnsafeBufferPointer { r in
                for y in y0..<y1 {
                    let m = mask.data + y * mask.rowBytes
                    let row = (image.data + y * image.rowBytes).assumingMemoryBound(to: UInt8.self)
                    var x = x0
                    // 16 mask values at a time: runs outside the mask are skipped and runs fully
                    // inside need no blend, which is most of a matte; edges take the blend below.
                    while x + 16 <= x1 {
                        let a16 = UnsafeRawPointer(m + x).loadUnaligned(as: SIMD16<UInt8>.self)
                        if a16 == SIMD16(repeating: 0) { x += 16; continue }
                        if a16 == SIMD16(repeating: 255) {
                            let p = row + x * ch
                            for i in 0..<16 {
                                let q = p + i * ch
                                q[0] = r[Int(q[0])]; q[1] = r[256 + Int(q[1])]; q[2] = r[512 + Int(q[2])]
                            }
                            x += 16
                            continue
                        }
                        blend(row, m, t, from: x, to: x + 16, channels: ch)
                        x += 16
                    }
                    blend(row, m, t, from: x, to: x1, channels: ch)
                }
            }
            }
        }
    }

    /// out = curve(v) * a + v * (1 - a) for the pixels in [from, to) of one row.
    @inline(__always)
    private func blend(_ row: UnsafeMutablePointer<UInt8>, _ m: UnsafePointer<UInt8>, _ t: UnsafeBufferPointer<Float>,
                       from: Int, to: Int, channels ch: Int) {
        for x in from..<to {
            let am = m[x]
            if am == 0 { continue }
            let a = Float(am) * (1 / 255)
            let p = row + x * ch
            for c in 0..<3 {
                let v = Float(p[c])
                let out = t[c * 256 + Int(p[c])] * a + v * (1 - a)
                p[c] = UInt8(min(out + 0.5, 255))
            }
        }
    }
}

enum System {
    static let coreCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
