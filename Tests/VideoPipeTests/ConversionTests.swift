import CFFmpeg
import Testing
@testable import VideoPipe

/// The 4:2:0 -> RGB conversion every video frame takes (`YUV420ToRGB`) against the exact formula and
/// swscale's exactly rounded path, for the matrices and ranges it covers, on a width that uses both
/// its 16-pixel steps and its tail, and on every level in pseudo-random order (chroma included, so
/// many samples are out of gamut and clip).
@Suite struct ConversionTests {
    @Test(arguments: [(AVCOL_SPC_BT709, AVCOL_RANGE_MPEG), (AVCOL_SPC_BT709, AVCOL_RANGE_JPEG),
                      (AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG), (AVCOL_SPC_BT2020_NCL, AVCOL_RANGE_MPEG)])
    func fastPathMatchesTheFormulaAndSwscale(matrix: AVColorSpace, range: AVColorRange) throws {
        let (width, height) = (70, 12)              // 4 steps of 16 and a tail of 6
        var frame: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
        defer { av_frame_free(&frame) }
        let f = try #require(frame)
        f.pointee.width = Int32(width)
        f.pointee.height = Int32(height)
        f.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        try #require(av_frame_get_buffer(f, 0) >= 0)
        var state: UInt32 = 12345
        func next() -> UInt8 { state = state &* 1664525 &+ 1013904223; return UInt8(truncatingIfNeeded: state >> 24) }
        let p = planes(f), s = strides(f)
        for y in 0..<height { for x in 0..<width { p[0]![y * Int(s[0]) + x] = next() } }
        for plane in 1...2 { for y in 0..<(height / 2) { for x in 0..<(width / 2) { p[plane]![y * Int(s[plane]) + x] = next() } } }

        let fast = VideoFrame(width: width, height: height, layout: .rgb8)
        let exact = VideoFrame(width: width, height: height, layout: .rgb8)
        try Converter().toRGB(f, into: fast, matrix: matrix, range: range)
        try Converter().toRGB(f, into: exact, matrix: matrix, range: range, fast: false)

        let (kr, kb) = try #require(YUV420ToRGB.weights(matrix))
        let kg = 1 - kr - kb, full = range == AVCOL_RANGE_JPEG
        var formulaWorst = 0.0, swscaleWorst = 0, differing = 0
        for y in 0..<height {
            for x in 0..<width {
                let l = (Double(p[0]![y * Int(s[0]) + x]) - (full ? 0 : 16)) * (full ? 1 : 255.0 / 219)
                let cb = (Double(p[1]![(y / 2) * Int(s[1]) + x / 2]) - 128) * (full ? 1 : 255.0 / 224)
                let cr = (Double(p[2]![(y / 2) * Int(s[2]) + x / 2]) - 128) * (full ? 1 : 255.0 / 224)
                let rgb = [l + 2 * (1 - kr) * cr, l - 2 * kb * (1 - kb) / kg * cb - 2 * kr * (1 - kr) / kg * cr, l + 2 * (1 - kb) * cb]
                for c in 0..<3 {
                    let ours = Int(fast.row8(y)[3 * x + c]), theirs = Int(exact.row8(y)[3 * x + c])
                    formulaWorst = max(formulaWorst, abs(Double(ours) - min(max(rgb[c], 0), 255)))
                    if ours != theirs { differing += 1 }
                    // swscale wraps around on some far out-of-gamut samples (Y 251, U 245 gave B 0, not 255).
                    if (0...255).contains(rgb[c]) { swscaleWorst = max(swscaleWorst, abs(ours - theirs)) }
                }
            }
        }
        #expect(formulaWorst <= 0.5 + 1e-3, "up to \(formulaWorst) levels from the exact formula")
        #expect(swscaleWorst <= 1 && differing * 100 <= width * height * 3 * 3,
                "up to \(swscaleWorst) levels from swscale in gamut, \(differing) samples differ")
    }
}
