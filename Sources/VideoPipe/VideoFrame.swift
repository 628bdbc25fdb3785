import CFFmpeg

/// How a frame's pixels are laid out in memory: packed RGB or RGBA, 8 or 16 bits per sample
/// (16-bit samples are little-endian and hold sources deeper than 8 bits, e.g. 10-bit video).
public enum PixelLayout: Sendable, Equatable {
    case rgb8, rgba8, rgb16, rgba16

    public var channels: Int { hasAlpha ? 4 : 3 }
    public var bytesPerSample: Int { isDeep ? 2 : 1 }
    public var bytesPerPixel: Int { channels * bytesPerSample }
    public var hasAlpha: Bool { self == .rgba8 || self == .rgba16 }
    public var isDeep: Bool { self == .rgb16 || self == .rgba16 }

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
public final class VideoFrame: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let layout: PixelLayout
    /// Bytes from one row to the next (a multiple of 64).
    public let rowBytes: Int
    public let data: UnsafeMutableRawPointer

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

    public init(width: Int, height: Int, layout: PixelLayout, pts: Int64 = 0, duration: Int64 = 0, index: Int = 0) {
        precondition(width > 0 && height > 0, "frame size must be positive")
        self.width = width
        self.height = height
        self.layout = layout
        self.rowBytes = (width * layout.bytesPerPixel + 63) & ~63
        self.data = UnsafeMutableRawPointer.allocate(byteCount: rowBytes * height, alignment: 64)
        self.pts = pts
        self.duration = duration
        self.index = index
    }

    deinit { data.deallocate() }

    public var byteCount: Int { rowBytes * height }

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
