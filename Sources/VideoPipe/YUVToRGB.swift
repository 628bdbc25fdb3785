import CFFmpeg

/// 8-bit 4:2:0 -> packed RGB, the conversion nearly every video frame goes through on the way in.
/// swscale's exactly rounded path is its slow C path (about 20 ms for a 1080p frame here, next to
/// x264's 110 ms on 2 cores); this one rounds as exactly and is vectorized (16 pixels per step in SIMD
/// registers). Chroma is replicated to its 2x2 block (see `Converter`).
struct YUV420ToRGB {
    /// Luma scale, luma offset, R<-V, G<-U, G<-V, B<-U, in 16.16 fixed point.
    private let coefficients: [Int32]

    /// Luma/chroma weights (Kr, Kb) of the matrices this path covers; others go through swscale.
    static func weights(_ matrix: AVColorSpace) -> (kr: Double, kb: Double)? {
        switch matrix {
        case AVCOL_SPC_BT709: (0.2126, 0.0722)
        case AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE170M, AVCOL_SPC_UNSPECIFIED: (0.299, 0.114)
        case AVCOL_SPC_BT2020_NCL: (0.2627, 0.0593)
        case AVCOL_SPC_SMPTE240M: (0.212, 0.087)
        case AVCOL_SPC_FCC: (0.30, 0.11)
        default: nil
        }
    }

    init?(matrix: AVColorSpace, fullRange: Bool) {
        guard let (kr, kb) = Self.weights(matrix) else { return nil }
        let kg = 1 - kr - kb
        let one = Double(1 << 16)
        let ys = fullRange ? 1.0 : 255.0 / 219.0
        let cs = fullRange ? 1.0 : 255.0 / 224.0
        let lumaOffset = fullRange ? 0.0 : -16 * ys
        func fixed(_ x: Double) -> Int32 { Int32((x * one).rounded()) }
        coefficients = [
            fixed(ys), fixed(lumaOffset) + Int32(one / 2),
            fixed(cs * 2 * (1 - kr)), fixed(cs * 2 * kb * (1 - kb) / kg),
            fixed(cs * 2 * kr * (1 - kr) / kg), fixed(cs * 2 * (1 - kb)),
        ]
    }

    /// Converts planes (Y, U, V with their strides) of a `width` x `height` picture into `dst`.
    func convert(y: UnsafePointer<UInt8>, _ yStride: Int, u: UnsafePointer<UInt8>, _ uStride: Int,
                 v: UnsafePointer<UInt8>, _ vStride: Int, width: Int, height: Int,
                 into dst: UnsafeMutablePointer<UInt8>, _ dstStride: Int) {
        let c = coefficients
        let ys = SIMD16<Int32>(repeating: c[0]), yo = SIMD16<Int32>(repeating: c[1])
        let rv = SIMD16<Int32>(repeating: c[2]), gu = SIMD16<Int32>(repeating: c[3])
        let gv = SIMD16<Int32>(repeating: c[4]), bu = SIMD16<Int32>(repeating: c[5])
        let zero = SIMD16<Int32>(repeating: 0), top = SIMD16<Int32>(repeating: 255)
        let half = SIMD16<Int32>(repeating: 128)
        for row in 0..<height {
            let yr = UnsafeRawPointer(y + row &* yStride)
            let ur = UnsafeRawPointer(u + (row >> 1) &* uStride)
            let vr = UnsafeRawPointer(v + (row >> 1) &* vStride)
            let d = dst + row &* dstStride
            var x = 0
            // 16 pixels at a time: widen, multiply-add in 16.16, clamp, then interleave the stores.
            while x &+ 16 <= width {
                let l = SIMD16<Int32>(truncatingIfNeeded: yr.loadUnaligned(fromByteOffset: x, as: SIMD16<UInt8>.self)) &* ys &+ yo
                let u8 = SIMD16<Int32>(truncatingIfNeeded: Self.double(ur.loadUnaligned(fromByteOffset: x >> 1, as: SIMD8<UInt8>.self))) &- half
                let v8 = SIMD16<Int32>(truncatingIfNeeded: Self.double(vr.loadUnaligned(fromByteOffset: x >> 1, as: SIMD8<UInt8>.self))) &- half
                let r = ((l &+ rv &* v8) &>> 16).clamped(lowerBound: zero, upperBound: top)
                let g = ((l &- gu &* u8 &- gv &* v8) &>> 16).clamped(lowerBound: zero, upperBound: top)
                let b = ((l &+ bu &* u8) &>> 16).clamped(lowerBound: zero, upperBound: top)
                Self.storeInterleaved(SIMD16<UInt8>(truncatingIfNeeded: r), SIMD16<UInt8>(truncatingIfNeeded: g),
                                      SIMD16<UInt8>(truncatingIfNeeded: b), at: UnsafeMutableRawPointer(d + 3 &* x))
                x &+= 16
            }
            while x < width {
                let l = Int32(yr.load(fromByteOffset: x, as: UInt8.self)) &* c[0] &+ c[1]
                let cu = Int32(ur.load(fromByteOffset: x >> 1, as: UInt8.self)) &- 128
                let cv = Int32(vr.load(fromByteOffset: x >> 1, as: UInt8.self)) &- 128
                d[3 &* x] = Self.clip(l &+ c[2] &* cv)
                d[3 &* x &+ 1] = Self.clip(l &- c[3] &* cu &- c[4] &* cv)
                d[3 &* x &+ 2] = Self.clip(l &+ c[5] &* cu)
                x &+= 1
            }
        }
    }

    /// 16 pixels' R, G and B as 48 bytes RGBRGB..., in three 16-byte stores. Every lane index is a
    /// constant, so the shuffle stays in registers; indexing the lanes in a loop spilled the vectors
    /// to the stack and stored byte by byte (60 % of this function's time in a profile).
    @inline(__always)
    private static func storeInterleaved(_ r: SIMD16<UInt8>, _ g: SIMD16<UInt8>, _ b: SIMD16<UInt8>,
                                         at o: UnsafeMutableRawPointer) {
        let p0 = SIMD16<UInt8>(r[0], g[0], b[0], r[1], g[1], b[1], r[2], g[2], b[2], r[3], g[3], b[3], r[4], g[4], b[4], r[5])
        let p1 = SIMD16<UInt8>(g[5], b[5], r[6], g[6], b[6], r[7], g[7], b[7], r[8], g[8], b[8], r[9], g[9], b[9], r[10], g[10])
        let p2 = SIMD16<UInt8>(b[10], r[11], g[11], b[11], r[12], g[12], b[12], r[13], g[13], b[13], r[14], g[14], b[14], r[15], g[15], b[15])
        o.storeBytes(of: p0, toByteOffset: 0, as: SIMD16<UInt8>.self)
        o.storeBytes(of: p1, toByteOffset: 16, as: SIMD16<UInt8>.self)
        o.storeBytes(of: p2, toByteOffset: 32, as: SIMD16<UInt8>.self)
    }

    /// Each chroma sample for its two pixels.
    @inline(__always)
    private static func double(_ s: SIMD8<UInt8>) -> SIMD16<UInt8> {
        SIMD16(s[0], s[0], s[1], s[1], s[2], s[2], s[3], s[3], s[4], s[4], s[5], s[5], s[6], s[6], s[7], s[7])
    }

    @inline(__always)
    private static func clip(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: min(max(v >> 16, 0), 255)) }
}
