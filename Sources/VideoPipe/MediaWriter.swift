import CFFmpeg
import Foundation

/// Encodes frames and muxes them into a video file or onto standard output (`-`), copying the
/// source's audio and subtitle streams where the container can hold them. Timestamps, time base,
/// aspect ratio, colour tags and rotation are carried over from the source.
public final class MediaWriter: FrameSink {
    public let path: String
    public private(set) var notes: [String] = []

    private let info: StreamInfo
    private var output: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private let videoStream: UnsafeMutablePointer<AVStream>
    private var copied: [Int32: (stream: UnsafeMutablePointer<AVStream>, timeBase: AVRational)] = [:]
    private let atomic: AtomicOutput?
    private let pictureOwner = OwnedFrame()
    private var picture: UnsafeMutablePointer<AVFrame> { pictureOwner.pointer }
    private let packetOwner = OwnedPacket()
    private var packet: UnsafeMutablePointer<AVPacket> { packetOwner.pointer }
    private let converter = Converter()
    private var lastPts: Int64 = Int64.min
    private var finished = false
    private var shown: String { path == "-" ? "stdout" : path }

    public init(path: String, info: StreamInfo, passthrough: [PassthroughStream] = [], options: EncodeOptions) throws {
        self.path = path
        self.info = info
        let shown = path == "-" ? "stdout" : path

        // Step 1: the container, from the extension (or --format on stdout).
        let formatName: String?
        if path == "-" {
            switch options.format ?? "nut" {
            case "mkv", "matroska": formatName = "matroska"
            case "y4m", "yuv4mpegpipe": formatName = "yuv4mpegpipe"
            case let other: formatName = other
            }
        } else {
            formatName = options.format
        }
        let muxer = av_guess_format(formatName, path == "-" ? nil : path, nil)
        guard let muxer else {
            throw PipeError(shown, formatName.map { "unknown container format \($0)" }
                ?? "cannot tell the container from the extension (use .mp4, .mov, .mkv, .webm, .nut, ...)")
        }
        atomic = path == "-" ? nil : try AtomicOutput(target: path, overwrite: options.overwrite)
        var oc: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&oc, muxer, nil, atomic?.temporary ?? "pipe:1"), shown, "cannot set up the container")
        output = oc
        let muxerName = String(cString: muxer.pointee.name)
        let isY4M = muxerName == "yuv4mpegpipe"

        // Step 2: the video encoder.
        let codecName = options.codec ?? Self.defaultEncoder(muxer: muxer, stdout: path == "-")
        guard let codec = avcodec_find_encoder_by_name(codecName), codec.pointee.type == AVMEDIA_TYPE_VIDEO else {
            avformat_free_context(oc)
            throw PipeError(shown, "no video encoder named \(codecName)")
        }
        if avformat_query_codec(muxer, codec.pointee.id, FF_COMPLIANCE_NORMAL) == 0 {
            avformat_free_context(oc)
            throw PipeError(shown, "\(muxerName) cannot hold \(codecName) video")
        }
        encoder = avcodec_alloc_context3(codec)
        let enc = encoder!
        var pixFmt: AVPixelFormat
        do {
            pixFmt = try choosePixelFormat(codec: codec, requested: options.pixelFormat, info: info,
                                           preferSource: true, path: shown)
            if isChromaSubsampled(pixFmt) && (info.width % 2 != 0 || info.height % 2 != 0) {
                // The default would fail on an odd size: keep every pixel with full-resolution chroma
                // rather than crop or pad. A format the user asked for is theirs to change.
                let alternative = options.pixelFormat == nil ? fullChromaAlternative(codec: codec, to: pixFmt, info: info) : nil
                guard let alternative else {
                    throw PipeError(shown, "\(pixFmtName(pixFmt)) needs an even width and height, the input is \(info.width)x\(info.height) (try --pix-fmt yuv444p)")
                }
                notes.append("\(info.width)x\(info.height) has an odd side: encoded as \(pixFmtName(alternative)), since \(pixFmtName(pixFmt)) needs even sides")
                pixFmt = alternative
            }
        } catch {
            avcodec_free_context(&encoder)
            avformat_free_context(oc)
            throw error
        }
        enc.pointee.width = Int32(info.width)
        enc.pointee.height = Int32(info.height)
        enc.pointee.pix_fmt = pixFmt
        // y4m stores a frame rate, not timestamps; everything else keeps the source's time base exactly.
        enc.pointee.time_base = isY4M ? av_inv_q(info.frameRate.av) : info.timeBase.av
        enc.pointee.framerate = info.frameRate.av
        enc.pointee.sample_aspect_ratio = info.sampleAspectRatio.av
        enc.pointee.color_range = isRGB(pixFmt) ? AVCOL_RANGE_JPEG
            : (isJPEGFormat(pixFmt) ? AVCOL_RANGE_JPEG : (info.color.range == AVCOL_RANGE_UNSPECIFIED ? AVCOL_RANGE_MPEG : info.color.range))
        enc.pointee.color_primaries = info.color.primaries
        enc.pointee.color_trc = info.color.transfer
        enc.pointee.colorspace = info.color.matrix
        enc.pointee.thread_count = 0
        if muxer.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            enc.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        notes += applyRateOptions(options, to: enc, defaults: true)
        var ret = avcodec_open2(enc, codec, nil)
        if ret < 0 {
            avcodec_free_context(&encoder)
            avformat_free_context(oc)
            throw PipeError(shown, "cannot open the \(codecName) encoder (\(pixFmtName(pixFmt)) \(info.width)x\(info.height)): \(averrorText(ret))")
        }

        // Step 3: the output video stream, with what the source said about display.
        videoStream = avformat_new_stream(oc, nil)
        avcodec_parameters_from_context(videoStream.pointee.codecpar, enc)
        videoStream.pointee.time_base = enc.pointee.time_base
        videoStream.pointee.avg_frame_rate = info.frameRate.av
        videoStream.pointee.sample_aspect_ratio = info.sampleAspectRatio.av
        if let matrix = info.displayMatrix, let side = av_stream_new_side_data(videoStream, AV_PKT_DATA_DISPLAYMATRIX, 36) {
            matrix.withUnsafeBytes { side.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: 36) }
        }

        // Step 4: streams copied as they are, where the container takes them.
        for source in passthrough {
            let id = source.parameters.pointee.codec_id
            if avformat_query_codec(muxer, id, FF_COMPLIANCE_NORMAL) == 0 || isY4M {
                notes.append("\(source.kind) stream \(source.inputIndex) (\(source.codecName)) dropped: \(muxerName) cannot hold it")
                continue
            }
            let st = avformat_new_stream(oc, nil)!
            avcodec_parameters_copy(st.pointee.codecpar, source.parameters)
            st.pointee.codecpar.pointee.codec_tag = 0
            st.pointee.time_base = source.timeBase
            if let language = source.language { av_dict_set(&st.pointee.metadata, "language", language, 0) }
            copied[source.inputIndex] = (st, source.timeBase)
        }

        // What made the file (harmonize's version, model and options), in the container's comment tag.
        if let comment = options.comment { av_dict_set(&oc!.pointee.metadata, "comment", comment, 0) }

        // Step 5: open the file (or stdout) and write the header.
        if muxer.pointee.flags & AVFMT_NOFILE == 0 {
            ret = avio_open(&oc!.pointee.pb, atomic?.temporary ?? "pipe:1", AVIO_FLAG_WRITE)
            if ret < 0 {
                abort()
                throw PipeError(shown, "cannot open for writing: \(averrorText(ret))")
            }
        }
        ret = avformat_write_header(oc, nil)
        if ret < 0 {
            abort()
            throw PipeError(shown, "cannot write the \(muxerName) header: \(averrorText(ret))")
        }
        // Header may have changed the stream time base (e.g. mp4's timescale): frames are rescaled to it.

        picture.pointee.format = pixFmt.rawValue
        picture.pointee.width = Int32(info.width)
        picture.pointee.height = Int32(info.height)
        ret = av_frame_get_buffer(picture, 0)
        if ret < 0 { abort(); throw PipeError(shown, "out of memory for a \(info.width)x\(info.height) frame") }
    }

    deinit {
        if !finished { abort() }
    }

    /// libx264 wherever the container takes h264; uncompressed on stdout, where the reader is usually
    /// another program on the same machine; otherwise the container's own default.
    static func defaultEncoder(muxer: UnsafePointer<AVOutputFormat>, stdout: Bool) -> String {
        let name = String(cString: muxer.pointee.name)
        if name == "yuv4mpegpipe" { return "wrapped_avframe" }
        if stdout { return name == "matroska" ? "ffv1" : "rawvideo" }
        if avformat_query_codec(muxer, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1,
           avcodec_find_encoder_by_name("libx264") != nil {
            return "libx264"
        }
        if let codec = avcodec_find_encoder(muxer.pointee.video_codec) { return String(cString: codec.pointee.name) }
        return "ffv1"
    }

    public func write(_ frame: VideoFrame) throws {
        let enc = encoder!
        try check(av_frame_make_writable(picture), shown, "frame \(frame.index): cannot get a frame buffer")
        try converter.fromFrame(frame, into: picture, matrix: info.color.matrix, range: enc.pointee.color_range)
        var pts = av_rescale_q(frame.pts, info.timeBase.av, enc.pointee.time_base)
        if pts <= lastPts {
            // Encoders reject timestamps that go backwards; nudge them forward by one tick.
            pts = lastPts + 1
        }
        lastPts = pts
        picture.pointee.pts = pts
        picture.pointee.pkt_duration = av_rescale_q(frame.duration, info.timeBase.av, enc.pointee.time_base)
        picture.pointee.sample_aspect_ratio = info.sampleAspectRatio.av
        picture.pointee.color_range = enc.pointee.color_range
        picture.pointee.color_primaries = info.color.primaries
        picture.pointee.color_trc = info.color.transfer
        picture.pointee.colorspace = info.color.matrix
        try check(avcodec_send_frame(enc, picture), shown, "frame \(frame.index): encoding failed")
        try drainEncoder(at: frame.index)
    }

    public func write(_ source: StreamPacket) throws {
        guard let target = copied[source.streamIndex] else { return }
        let pkt = source.packet
        av_packet_rescale_ts(pkt, target.timeBase, target.stream.pointee.time_base)
        pkt.pointee.stream_index = target.stream.pointee.index
        pkt.pointee.pos = -1
        try check(av_interleaved_write_frame(output, pkt), shown, "writing stream \(source.streamIndex) failed")
    }

    private func drainEncoder(at index: Int) throws {
        let enc = encoder!
        while true {
            let ret = avcodec_receive_packet(enc, packet)
            if ret == AVERROR_EAGAIN_ || ret == AVERROR_EOF_ { return }
            try check(ret, shown, "frame \(index): encoding failed")
            if packet.pointee.duration == 0 {
                packet.pointee.duration = av_rescale_q(1, av_inv_q(info.frameRate.av), enc.pointee.time_base)
            }
            av_packet_rescale_ts(packet, enc.pointee.time_base, videoStream.pointee.time_base)
            packet.pointee.stream_index = videoStream.pointee.index
            try check(av_interleaved_write_frame(output, packet), shown, "writing frame \(index) failed")
        }
    }

    public func finish() throws {
        guard !finished else { return }
        try check(avcodec_send_frame(encoder, nil), shown, "flushing the encoder failed")
        try drainEncoder(at: -1)
        try check(av_write_trailer(output), shown, "cannot finish the file")
        closeOutput()
        finished = true
        try atomic?.commit()
    }

    public func abort() {
        guard !finished else { return }
        finished = true
        closeOutput()
        atomic?.discard()
    }

    private func closeOutput() {
        if let oc = output {
            if oc.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&oc.pointee.pb) }
            avformat_free_context(oc)
            output = nil
        }
        avcodec_free_context(&encoder)
    }
}
