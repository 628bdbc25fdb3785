import CFFmpeg

/// An exact fraction, as FFmpeg's AVRational.
public struct Rational: Sendable, Equatable, CustomStringConvertible {
    public var num: Int32
    public var den: Int32
    public init(_ num: Int32, _ den: Int32) { self.num = num; self.den = den }
    init(_ r: AVRational) { num = r.num; den = r.den }
    var av: AVRational { AVRational(num: num, den: den) }
    public var isValid: Bool { num > 0 && den > 0 }
    public var double: Double { Double(num) / Double(den) }
    public var description: String { "\(num)/\(den)" }
}

/// Colour description tags carried from input to output unchanged (range, primaries, transfer, matrix).
public struct ColorTags: Sendable, Equatable {
    var range: AVColorRange = AVCOL_RANGE_UNSPECIFIED
    var primaries: AVColorPrimaries = AVCOL_PRI_UNSPECIFIED
    var transfer: AVColorTransferCharacteristic = AVCOL_TRC_UNSPECIFIED
    var matrix: AVColorSpace = AVCOL_SPC_UNSPECIFIED

    public var rangeName: String { String(cString: av_color_range_name(range)) }
    public var matrixName: String { String(cString: av_color_space_name(matrix)) }
}

/// What a sink needs to know about the video a source delivers.
public struct StreamInfo: Sendable {
    /// Size of the frames the source delivers (every frame has this size).
    public var width: Int
    public var height: Int
    public var layout: PixelLayout
    /// Units of `VideoFrame.pts` and `.duration`.
    public var timeBase: Rational
    /// Nominal frame rate (average for variable-rate input); used where a container wants one.
    public var frameRate: Rational
    public var sampleAspectRatio: Rational
    public var color: ColorTags
    /// Display rotation in degrees, counter-clockwise, as in FFmpeg's display matrix.
    public var rotation: Double
    /// The display matrix itself, copied verbatim to outputs that carry one.
    var displayMatrix: [Int32]?
    /// The decoded pixel format (e.g. "yuv420p10le"); nil for sources that are not video files.
    public var sourcePixelFormat: String?
    /// Frames expected, when the container says; nil when unknown (streams, some containers).
    public var expectedFrames: Int?
    /// Bit depth of the source's samples.
    public var bitDepth: Int
    /// The stream's first timestamp (`timeBase` units) as the container declares it; nil where it
    /// does not (folders). Times given by the user (`--start`) and frame numbers count from here.
    public var startPts: Int64? = nil

    /// The frame number a timestamp falls on at the nominal rate, from the stream's start (0 for
    /// its first frame). The same in a pass over a part of the clip as over all of it.
    public func frameNumber(_ pts: Int64) -> Int {
        let rate = frameRate.isValid ? frameRate.double : 25
        return Int((Double(pts - (startPts ?? 0)) * timeBase.double * rate).rounded())
    }

    var sourceAVPixelFormat: AVPixelFormat {
        sourcePixelFormat.map { av_get_pix_fmt($0) } ?? AV_PIX_FMT_NONE
    }
}

/// A non-video stream (audio, subtitles) whose packets the pipeline copies to the output untouched.
public final class PassthroughStream: @unchecked Sendable {
    public let inputIndex: Int32
    public let kind: String
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    let timeBase: AVRational
    let language: String?

    init(stream: UnsafeMutablePointer<AVStream>) {
        inputIndex = stream.pointee.index
        kind = String(cString: av_get_media_type_string(stream.pointee.codecpar.pointee.codec_type))
        parameters = avcodec_parameters_alloc()
        avcodec_parameters_copy(parameters, stream.pointee.codecpar)
        timeBase = stream.pointee.time_base
        language = av_dict_get(stream.pointee.metadata, "language", nil, 0).map { String(cString: $0.pointee.value) }
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecParameters>? = parameters
        avcodec_parameters_free(&p)
    }

    public var codecName: String { String(cString: avcodec_get_name(parameters.pointee.codec_id)) }
}

/// A compressed packet of a passthrough stream, owned by whoever holds this object.
public final class StreamPacket: @unchecked Sendable {
    let packet: UnsafeMutablePointer<AVPacket>
    init(moving source: UnsafeMutablePointer<AVPacket>) {
        packet = av_packet_alloc()
        av_packet_move_ref(packet, source)
    }
    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }
    public var streamIndex: Int32 { packet.pointee.stream_index }
}

/// What a source yields, in order: decoded frames, and packets of streams that are copied through.
public enum SourceItem: Sendable {
    case frame(VideoFrame)
    case packet(StreamPacket)
}

/// Where frames come from. `next()` is called from one thread (the pipeline's source stage).
public protocol FrameSource: AnyObject {
    var info: StreamInfo { get }
    /// Streams whose packets `next()` also returns, for the sink to copy.
    var passthrough: [PassthroughStream] { get }
    /// The next item, or nil at the end of input. Damaged input ends the stream with a warning
    /// (what was decoded is still delivered); a failure that loses frames throws.
    func next() throws -> SourceItem?
    /// Warnings collected while reading (truncation, skipped files), for the caller to print.
    var warnings: [String] { get }
}

extension FrameSource {
    /// The next picture, passing over packets of other streams; nil at the end of input.
    public func nextFrame() throws -> VideoFrame? {
        while let item = try next() {
            if case .frame(let f) = item { return f }
        }
        return nil
    }
}

/// Where frames go. Called from one thread (the pipeline's sink stage), in order.
public protocol FrameSink: AnyObject {
    func write(_ frame: VideoFrame) throws
    func write(_ packet: StreamPacket) throws
    /// Flush, finalize the container, and move the result into place.
    func finish() throws
    /// Give up: close and remove any partial output.
    func abort()
    var notes: [String] { get }
}
