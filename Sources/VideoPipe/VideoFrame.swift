import CFFmpeg
import NIOConcurrencyHelpers

/// How a frame's pixels are laid out in memory: packed RGB or RGBA, 8 or 16 bits per sample
/// (16-bit samples are little-endian and hold sources deeper than 8 bits, e.g. 10-bit video), or
/// 8-bit 4:2:0 Y'CbCr planes as most video is decoded (`yuv420p8`: a source that keeps its own
/// format, `MediaReader.keepYUV420()`).
public enum PixelLayout: Sendable, Equatable {
    case rgb8, rgba8, rgb16, rgba16, yuv420p8

    public var channels: Int { hasAlpha ? 4 : 3 }
    public var bytesPerSample: Int { isDeep ? 2 : 1 }
    /// Bytes per pixel of the (first) plane.
    public var bytesPerPixel: Int { isPlanar ? 1 : channels * bytesPerSample }
    public var hasAlpha: Bool { self == .rgba8 || self == .rgba16 }
    public var isDeep: Bool { self == .rgb16 || self == .rgba16 }
    public var isPlanar: Bool { self == .yuv420p8 }

    public init(deep: Bool, alpha: Bool) {
        switch (deep, alpha) {
        case (false, false): self = .rgb8
        case (false, true): self = .rgba8
        case (true, false): self = .rgb16
        case (true, true): self = .rgba16
        }
    }

    var avFormat: AVPixelFormat {
        switch self {
        case .rgb8: AV_PIX_FMT_RGB24
        case .rgba8: AV_PIX_FMT_RGBA
        case .rgb16: AV_PIX_FMT_RGB48LE
        case .rgba16: AV_PIX_FMT_RGBA64LE
        case .yuv420p8: AV_PIX_FMT_YUV420P
        }
    }

    /// The layout that keeps everything a decoded pixel format carries (depth and alpha).
    init(for format: AVPixelFormat) {
        guard let desc = av_pix_fmt_desc_get(format) else { self = .rgb8; return }
        let deep = desc.pointee.comp.0.depth > 8
        let alpha = desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_ALPHA) != 0
        self.init(deep: deep, alpha: alpha)
    }
}

/// One picture in the pipeline. The pixel buffer is owned by the frame and by one pipeline stage at
/// a time: the source fills it, a worker may modify it in place, the sink reads it; stages hand it
/// on through queues and never touch it afterwards, which is why it can be `@unchecked Sendable`.
///
/// A source may leave the filling to whoever takes the frame: it decodes, and queues the steps that
/// make the pixels (colour conversion, the matte, layer compositing) with `deferUntilComplete`, so
/// that they run on the pipeline's workers in parallel instead of on its one decode thread.
/// `complete()` runs them; until then only the timing fields are meaningful.
public final class VideoFrame: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let layout: PixelLayout
    /// Bytes from one row to the next (a multiple of 64); of the luma plane in a planar layout.
    public let rowBytes: Int
    /// The pixels; in a planar layout the luma plane, then Cb and Cr (`plane(_:)`).
    public let data: UnsafeMutableRawPointer
    /// Planar layouts: bytes from one chroma row to the next (a multiple of 64), and chroma rows.
    public let chromaRowBytes: Int
    public let chromaHeight: Int
    /// Planar layouts: the matrix's luma weights and the range of the Y'CbCr samples.
    public var yuv: (kr: Double, kb: Double, fullRange: Bool)?

    /// Presentation time in the stream's time base (`StreamInfo.timeBase`).
    public var pts: Int64
    /// Duration in the stream's time base; 0 when unknown.
    public var duration: Int64
    /// Position in decode output order, from 0.
    public var index: Int
    /// File name the frame came from, for folder and pattern sources (keeps names on folder output).
    public var sourceName: String?
    /// The frame's mask (8-bit alpha, width x height), when a mask clip goes with the input.
    public var matte: [UInt8]?
    /// Read only for its neighbours' sake, outside the `TimeRange` asked for: it is planned,
    /// inferred and smoothed like any frame, but not rendered or written.
    public var warmUp = false

    /// The steps that still have to run before the pixels are valid, in order.
    private var pending: [(VideoFrame) throws -> Void] = []
    /// Held while the steps run: a frame one layer holds for several (a still background) may be
    /// completed by two workers at once; the second waits and finds it done.
    private let completion = NIOLock()

    /// - pixels: false for a frame that carries only its `matte` (a mask clip's frame): no pixel
    ///   buffer (`byteCount` 0); its pixels must not be read.
    public init(width: Int, height: Int, layout: PixelLayout, pts: Int64 = 0, duration: Int64 = 0, index: Int = 0,
                pixels: Bool = true) {
        precondition(width > 0 && height > 0, "frame size must be positive")
        self.width = width
        self.height = height
        self.layout = layout
        self.rowBytes = pixels ? (width * layout.bytesPerPixel + 63) & ~63 : 0
        if layout.isPlanar && pixels {
            chromaRowBytes = ((width + 1) / 2 + 63) & ~63
            chromaHeight = (height + 1) / 2
        } else {
            chromaRowBytes = 0
            chromaHeight = 0
        }
        self.data = FrameBufferPool.shared.take(byteCount: rowBytes * height + 2 * chromaRowBytes * chromaHeight)
        self.pts = pts
        self.duration = duration
        self.index = index
    }

    deinit { FrameBufferPool.shared.give(data, byteCount: byteCount) }

    /// The bytes of all planes.
    public var byteCount: Int { rowBytes * height + 2 * chromaRowBytes * chromaHeight }

    /// Plane `i` (0: luma or packed pixels; 1, 2: Cb, Cr of a planar layout) and its row pitch.
    public func plane(_ i: Int) -> (data: UnsafeMutablePointer<UInt8>, rowBytes: Int) {
        let base = data.assumingMemoryBound(to: UInt8.self)
        switch i {
        case 0: return (base, rowBytes)
        default:
            precondition(layout.isPlanar && i <= 2, "plane \(i) of a \(layout) frame")
            return (base + rowBytes * height + (i - 1) * chromaRowBytes * chromaHeight, chromaRowBytes)
        }
    }

    /// Queues a step that fills the pixels (or the matte), for `complete()` to run on the thread
    /// that takes the frame. Called by the source, before it hands the frame on.
    public func deferUntilComplete(_ step: @escaping (VideoFrame) throws -> Void) {
        completion.withLock { pending.append(step) }
    }

    /// Runs the deferred steps, once; afterwards the pixels and the matte are valid. The pipeline's
    /// workers call it before the frame processor; anyone else taking frames from a source must too.
    public func complete() throws {
        try completion.withLock {
            while !pending.isEmpty {
                let step = pending.removeFirst()
                try step(self)
            }
        }
    }

    /// The samples of row `y` (8-bit layouts).
    public func row8(_ y: Int) -> UnsafeMutableBufferPointer<UInt8> {
        UnsafeMutableBufferPointer(start: (data + y * rowBytes).assumingMemoryBound(to: UInt8.self),
                                   count: width * layout.channels)
    }

    /// The samples of row `y` (16-bit layouts, little-endian as stored).
    public func row16(_ y: Int) -> UnsafeMutableBufferPointer<UInt16> {
        UnsafeMutableBufferPointer(start: (data + y * rowBytes).assumingMemoryBound(to: UInt16.self),
                                   count: width * layout.channels)
    }
}

/// Frame-sized buffers kept for reuse. A pipeline frees a frame and allocates the next one's pixels
/// for every frame; a fresh multi-megabyte allocation is a new mapping, and the kernel zeroes each of
/// its pages on first touch (`clear_page` was a few per cent of a 1080p run). The pool keeps at most
/// `limit` bytes of free buffers, so what it holds never exceeds what was once in flight.
final class FrameBufferPool: @unchecked Sendable {
    static let shared = FrameBufferPool(limit: 256 << 20)

    private let limit: Int
    private let free = NIOLockedValueBox<(buffers: [Int: [UnsafeMutableRawPointer]], bytes: Int)>(([:], 0))

    init(limit: Int) { self.limit = limit }

    deinit {
        free.withLockedValue { state in
            for buffers in state.buffers.values { buffers.forEach { $0.deallocate() } }
        }
    }

    func take(byteCount: Int) -> UnsafeMutableRawPointer {
        if byteCount == 0 { return UnsafeMutableRawPointer.allocate(byteCount: 0, alignment: 64) }
        let reused = free.withLockedValue { state -> UnsafeMutableRawPointer? in
            guard let buffer = state.buffers[byteCount]?.popLast() else { return nil }
            state.bytes -= byteCount
            return buffer
        }
        return reused ?? UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    func give(_ buffer: UnsafeMutableRawPointer, byteCount: Int) {
        if byteCount == 0 { return buffer.deallocate() }
        let kept = free.withLockedValue { state -> Bool in
            guard state.bytes + byteCount <= limit else { return false }
            state.buffers[byteCount, default: []].append(buffer)
            state.bytes += byteCount
            return true
        }
        if !kept { buffer.deallocate() }
    }
}
