import CFFmpeg
import NIOConcurrencyHelpers

/// Converters for frames completed on several threads at once: each takes one (a swscale context
/// is not shareable) and gives it back.
final class ConverterPool: @unchecked Sendable {
    private let idle = NIOLockedValueBox<[Converter]>([])

    func with<R>(_ body: (Converter) throws -> R) rethrows -> R {
        let converter = idle.withLockedValue { $0.popLast() } ?? Converter()
        defer { idle.withLockedValue { $0.append(converter) } }
        return try body(converter)
    }
}

/// Pixel format and colour conversion between FFmpeg frames and the pipeline's RGB frames (swscale).
/// YUV<->RGB uses the stream's own matrix and range in both directions, so a pass-through round trip
/// lands back on the input's values instead of drifting by a BT.601/709 mismatch. Subsampled chroma
/// is replicated on the way in (nearest) and box-averaged on the way out (area): the average of
/// replicated samples is the sample itself, so 4:2:0 -> RGB -> 4:2:0 returns the original chroma,
/// where smoother filters would blur it a little on every pass.
final class Converter {
    private var context: OpaquePointer?
    private var key: [Int32] = []
    private var fastKey: [Int32] = []
    private var fast: YUV420ToRGB?

    deinit { sws_freeContext(context) }

    private static let toRGBFlags = SWS_POINT | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT
    private static let fromRGBFlags = SWS_AREA | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP
    // 8-bit 4:2:0 input, the common case, takes `YUV420ToRGB` instead (same result, much faster).

    /// A swscale context for this conversion (kept while the next one is the same). `srcFull` and
    /// `dstFull` are the ranges of the Y'CbCr sides (RGB is always full).
    private func prepare(srcW: Int32, srcH: Int32, src: AVPixelFormat, dstW: Int32, dstH: Int32,
                         dst: AVPixelFormat, matrix: AVColorSpace, srcFull: Bool, dstFull: Bool) throws -> OpaquePointer {
        let srcIsRGB = isRGB(src), dstIsRGB = isRGB(dst)
        // Scaling (a frame of another size) uses a proper filter; same-size conversion uses the above.
        let flags = (srcW != dstW || srcH != dstH) ? SWS_BICUBIC | SWS_ACCURATE_RND
            : (dstIsRGB && !srcIsRGB ? Self.toRGBFlags : Self.fromRGBFlags)
        let k = [srcW, srcH, src.rawValue, dstW, dstH, dst.rawValue, Int32(matrix.rawValue), srcFull ? 1 : 0, dstFull ? 1 : 0]
        if let context, k == key { return context }
        sws_freeContext(context)
        guard let ctx = sws_getContext(srcW, srcH, src, dstW, dstH, dst, flags, nil, nil, nil) else {
            context = nil
            throw PipeError("", "cannot convert \(pixFmtName(src)) \(srcW)x\(srcH) to \(pixFmtName(dst)) \(dstW)x\(dstH)")
        }
        let coefficients = sws_getCoefficients(Int32(matrix.rawValue))
        // Parameters: (YUV->RGB table of the source, source range, table of the destination, destination range).
        sws_setColorspaceDetails(ctx, coefficients, srcIsRGB || srcFull ? 1 : 0, coefficients, dstIsRGB || dstFull ? 1 : 0,
                                 0, 1 << 16, 1 << 16)
        context = ctx
        key = k
        return ctx
    }

    /// Whether Y'CbCr samples of `format` tagged `range` are full range (JPEG formats always are).
    static func isFullRange(_ format: AVPixelFormat, _ range: AVColorRange) -> Bool {
        range == AVCOL_RANGE_JPEG || isJPEGFormat(format)
    }

    /// Decoded frame -> the pixels of `out` (scaled if the decoded size differs from its size).
    /// `fast: false` takes swscale even where `YUV420ToRGB` applies (tests compare the two).
    func toRGB(_ src: UnsafePointer<AVFrame>, into out: VideoFrame, matrix: AVColorSpace, range: AVColorRange,
               fast allowFast: Bool = true) throws {
        let (width, height, layout) = (out.width, out.height, out.layout)
        let format = AVPixelFormat(src.pointee.format)
        let full = Self.isFullRange(format, range)
        if allowFast, layout == .rgb8, width == Int(src.pointee.width), height == Int(src.pointee.height),
           format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P {
            let k: [Int32] = [Int32(matrix.rawValue), full ? 1 : 0]
            if k != fastKey { fast = YUV420ToRGB(matrix: matrix, fullRange: full); fastKey = k }
            if let fast {
                let p = planes(src), s = strides(src)
                fast.convert(y: p[0]!, Int(s[0]), u: p[1]!, Int(s[1]), v: p[2]!, Int(s[2]), width: width, height: height,
                             into: out.data.assumingMemoryBound(to: UInt8.self), out.rowBytes)
                return
            }
        }
        try scale(src, into: out, matrix: matrix, srcFull: full, dstFull: true)
    }

    /// Decoded frame -> a `yuv420p8` frame of the same range: the planes copied as they are when the
    /// picture is 8-bit 4:2:0 of the frame's size, else converted (a size or format change mid-stream).
    func toYUV420(_ src: UnsafePointer<AVFrame>, into out: VideoFrame, matrix: AVColorSpace, range: AVColorRange) throws {
        precondition(out.layout == .yuv420p8)
        let format = AVPixelFormat(src.pointee.format)
        let full = out.yuv?.fullRange ?? false
        if out.width == Int(src.pointee.width), out.height == Int(src.pointee.height),
           format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P, Self.isFullRange(format, range) == full {
            let p = planes(src), s = strides(src)
            for i in 0..<3 {
                let (dst, pitch) = out.plane(i)
                let (w, h) = i == 0 ? (out.width, out.height) : ((out.width + 1) / 2, out.chromaHeight)
                copyPlane(from: p[i]!, Int(s[i]), to: dst, pitch, width: w, height: h)
            }
            return
        }
        try scale(src, into: out, matrix: matrix, srcFull: Self.isFullRange(format, range), dstFull: full)
    }

    /// swscale from a decoded picture into `out`'s planes.
    private func scale(_ src: UnsafePointer<AVFrame>, into out: VideoFrame, matrix: AVColorSpace, srcFull: Bool, dstFull: Bool) throws {
        let ctx = try prepare(srcW: src.pointee.width, srcH: src.pointee.height,
                              src: AVPixelFormat(src.pointee.format), dstW: Int32(out.width), dstH: Int32(out.height),
                              dst: out.layout.avFormat, matrix: matrix, srcFull: srcFull, dstFull: dstFull)
        let srcData = planes(src).map { UnsafePointer($0) }
        let (dstData, dstStride) = Self.pointers(out)
        sws_scale(ctx, srcData, strides(src), 0, src.pointee.height, dstData, dstStride)
    }

    /// Pipeline frame -> `dst` (already allocated with the encoder's format and size, and of range
    /// `range`). A `yuv420p8` frame of the same size and range going to 4:2:0 is copied as it is.
    func fromFrame(_ frame: VideoFrame, into dst: UnsafeMutablePointer<AVFrame>, matrix: AVColorSpace,
                   range: AVColorRange) throws {
        let format = AVPixelFormat(dst.pointee.format)
        let dstFull = Self.isFullRange(format, range)
        let srcFull = frame.layout.isPlanar ? (frame.yuv?.fullRange ?? false) : true
        if frame.layout == .yuv420p8, format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P,
           frame.width == Int(dst.pointee.width), frame.height == Int(dst.pointee.height), srcFull == dstFull {
            let p = planes(dst), s = strides(dst)
            for i in 0..<3 {
                let (src, pitch) = frame.plane(i)
                let (w, h) = i == 0 ? (frame.width, frame.height) : ((frame.width + 1) / 2, frame.chromaHeight)
                copyPlane(from: src, pitch, to: p[i]!, Int(s[i]), width: w, height: h)
            }
            return
        }
        let ctx = try prepare(srcW: Int32(frame.width), srcH: Int32(frame.height), src: frame.layout.avFormat,
                              dstW: dst.pointee.width, dstH: dst.pointee.height,
                              dst: format, matrix: matrix, srcFull: srcFull, dstFull: dstFull)
        let (srcData, srcStride) = Self.pointers(frame)
        sws_scale(ctx, srcData.map { UnsafePointer($0) }, srcStride, 0, Int32(frame.height), planes(dst), strides(dst))
    }

    /// A frame's plane pointers and pitches, as swscale takes them.
    private static func pointers(_ frame: VideoFrame) -> ([UnsafeMutablePointer<UInt8>?], [Int32]) {
        let count = frame.layout.isPlanar ? 3 : 1
        var data: [UnsafeMutablePointer<UInt8>?] = [nil, nil, nil, nil]
        var stride: [Int32] = [0, 0, 0, 0]
        for i in 0..<count {
            let (p, pitch) = frame.plane(i)
            data[i] = p
            stride[i] = Int32(pitch)
        }
        return (data, stride)
    }
}

private func copyPlane(from src: UnsafePointer<UInt8>, _ srcPitch: Int, to dst: UnsafeMutablePointer<UInt8>, _ dstPitch: Int,
                       width: Int, height: Int) {
    for y in 0..<height { (dst + y * dstPitch).update(from: src + y * srcPitch, count: width) }
}

func planes(_ f: UnsafePointer<AVFrame>) -> [UnsafeMutablePointer<UInt8>?] {
    let d = f.pointee.data
    return [d.0, d.1, d.2, d.3, d.4, d.5, d.6, d.7]
}

func strides(_ f: UnsafePointer<AVFrame>) -> [Int32] {
    let s = f.pointee.linesize
    return [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7]
}

func pixFmtName(_ f: AVPixelFormat) -> String {
    av_get_pix_fmt_name(f).map { String(cString: $0) } ?? "unknown"
}

func isRGB(_ f: AVPixelFormat) -> Bool {
    guard let d = av_pix_fmt_desc_get(f) else { return false }
    return d.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0
}

func isJPEGFormat(_ f: AVPixelFormat) -> Bool {
    [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P].contains(f)
}

func depth(of f: AVPixelFormat) -> Int {
    guard let d = av_pix_fmt_desc_get(f) else { return 8 }
    return Int(d.pointee.comp.0.depth)
}
