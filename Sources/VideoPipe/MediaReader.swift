import CFFmpeg
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Demuxes and decodes the video stream of anything FFmpeg opens: a video file, a single image, a
/// printf pattern of images (`shot_%04d.png`) or a stream on standard input (`-`, format probed).
/// Audio and subtitle packets are handed on untouched for the sink to copy.
public final class MediaReader: RangeSelectable {
    public let path: String
    public private(set) var info: StreamInfo
    public private(set) var passthrough: [PassthroughStream] = []
    /// Warnings while reading, with one line counting the damage decoded around (if any).
    public var warnings: [String] { notes + (damage.line(shownPath).map { [$0] } ?? []) }
    private var notes: [String] = []
    private var damage = DecodeDamage()
    /// What the decoder logs as errors (`DecoderErrors`); outlives the decoder (freed in `deinit`).
    private let decoderErrors = DecoderErrors()

    private var formatContext: UnsafeMutablePointer<AVFormatContext>?
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private let packetOwner = OwnedPacket()
    private var packet: UnsafeMutablePointer<AVPacket> { packetOwner.pointer }
    private let decodedOwner = OwnedFrame()
    /// The last picture dropped before a selected range (`select`).
    private let lastBefore = OwnedFrame()
    private var decoded: UnsafeMutablePointer<AVFrame> { decodedOwner.pointer }
    /// Converters for the frames' deferred conversion (several workers convert at once).
    private let converters = ConverterPool()
    private var draining = false
    /// `decoded` holds the first picture already (decoded by `init` for a single image).
    private var primed = false
    private var framesOut = 0
    private var nextPts: Int64 = 0
    private var warnedResize = false
    /// The picture size the stream declares (`info` has the size frames are delivered at: `fit`'s,
    /// when given; frames are scaled to it).
    public private(set) var sourceSize = (width: 0, height: 0)
    private let defaultDuration: Int64
    /// Mask clips: each frame's matte is its luma plane, read straight from the decoded picture.
    private let matteOnly: Bool

    /// - Parameters:
    ///   - path: a file, a printf pattern, or `-` for standard input.
    ///   - copyStreams: also return audio and subtitle packets (for a sink that copies them).
    ///   - fit: deliver frames of this size and layout instead of the stream's own (folder sources).
    ///   - frameRate: the rate of an image sequence (patterns); files carry their own.
    ///   - matteOnly: a mask clip: where the decoded picture has an 8-bit luma plane of the frame's
    ///     size (grey, YUV), each frame's `matte` is that plane (expanded to full range) and its
    ///     pixels are left unconverted; other pictures are converted as usual.
    public init(path: String, copyStreams: Bool = true, fit: (width: Int, height: Int, layout: PixelLayout)? = nil,
                frameRate: Rational? = nil, matteOnly: Bool = false) throws {
        self.path = path
        self.matteOnly = matteOnly
        let url = path == "-" ? "pipe:0" : path
        let shown = path == "-" ? "stdin" : path

        if path == "-" { makeStandardInputInterruptible() }

        // Step 1: open the container (a printf pattern is an image sequence, whatever its extension)
        // and find its video stream.
        var inputFormat: UnsafePointer<AVInputFormat>? = nil
        if path != "-" && isPrintfPattern(path) { inputFormat = av_find_input_format("image2") }
        var options: OpaquePointer? = nil
        if inputFormat != nil, let frameRate { av_dict_set(&options, "framerate", frameRate.description, 0) }
        defer { av_dict_free(&options) }
        let (ctx, st, probed) = try openVideoInput(url, shown: shown, format: inputFormat, options: &options, probingImages: false)
        formatContext = ctx

        // Step 2: its decoder.
        stream = st
        let par = st.pointee.codecpar!
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            avformat_close_input(&formatContext)
            throw PipeError(shown, "no decoder for \(String(cString: avcodec_get_name(par.pointee.codec_id)))")
        }
        decoder = avcodec_alloc_context3(codec)
        avcodec_parameters_to_context(decoder, par)
        decoder!.pointee.pkt_timebase = st.pointee.time_base
        // A mask clip decodes on one thread: its pictures are flat and cheap to decode, and frame
        // threads would each hold decoded pictures of their own (tens of MB at 1080p).
        decoder!.pointee.thread_count = matteOnly ? 1 : 0
        decoderErrors.watch(decoder!)
        let ret = avcodec_open2(decoder, codec, nil)
        if ret < 0 {
            avcodec_free_context(&decoder)
            avformat_close_input(&formatContext)
            throw PipeError(shown, "cannot open \(String(cString: codec.pointee.name)) decoder: \(averrorText(ret))")
        }
        // A single image, not probed (`openVideoInput`): its first picture, decoded now, says what
        // the probe would have, and is the first frame delivered. (Only there: a probed stream whose
        // pixel format stayed unknown, a capture starting mid-GOP, keeps its audio packets before
        // the first picture and its tolerance of damage.)
        if !probed {
            do {
                draining = try Self.decodeFirstPicture(ctx, decoder!, packetOwner.pointer, decodedOwner.pointer,
                                                       stream: st.pointee.index, shown: shown)
                primed = true
            } catch {
                avcodec_free_context(&decoder)
                avformat_close_input(&formatContext)
                throw error
            }
            avcodec_parameters_from_context(par, decoder)
        }
        guard par.pointee.width > 0, par.pointee.height > 0 else {
            avcodec_free_context(&decoder)
            avformat_close_input(&formatContext)
            throw PipeError(shown, "video stream has no frame size (a damaged header, or a size FFmpeg refuses)")
        }

        // Step 3: what the sink needs to keep (timing, aspect, colour, rotation).
        let pixFmt = AVPixelFormat(par.pointee.format)
        var rate = av_guess_frame_rate(ctx, st, nil)
        if rate.num <= 0 || rate.den <= 0 { rate = AVRational(num: 25, den: 1) }
        var displayMatrix: [Int32]? = nil
        var rotation = 0.0
        var size: Int = 0
        if let side = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 {
            let m = UnsafeRawPointer(side).assumingMemoryBound(to: Int32.self)
            displayMatrix = Array(UnsafeBufferPointer(start: m, count: 9))
            rotation = av_display_rotation_get(m)
            if rotation.isNaN { rotation = 0 }
        }
        var expected: Int? = st.pointee.nb_frames > 0 ? Int(st.pointee.nb_frames) : nil
        if expected == nil, ctx.pointee.duration > 0, path != "-" {
            expected = Int((Double(ctx.pointee.duration) / Double(AV_TIME_BASE) * av_q2d(rate)).rounded())
        }
        if expected == nil, st.pointee.duration > 0, st.pointee.duration != AV_NOPTS, path != "-" {
            // An image file not probed: its demuxer's own count (the probe derives the above from it).
            expected = Int((Double(st.pointee.duration) * av_q2d(st.pointee.time_base) * av_q2d(rate)).rounded())
        }
        info = StreamInfo(
            width: Int(par.pointee.width), height: Int(par.pointee.height),
            layout: PixelLayout(for: pixFmt),
            timeBase: Rational(st.pointee.time_base), frameRate: Rational(rate),
            sampleAspectRatio: Rational(av_guess_sample_aspect_ratio(ctx, st, nil)),
            color: ColorTags(range: par.pointee.color_range, primaries: par.pointee.color_primaries,
                             transfer: par.pointee.color_trc, matrix: par.pointee.color_space),
            rotation: rotation, displayMatrix: displayMatrix,
            sourcePixelFormat: pixFmt == AV_PIX_FMT_NONE ? nil : pixFmtName(pixFmt),
            expectedFrames: expected, bitDepth: depth(of: pixFmt))
        if st.pointee.start_time != AV_NOPTS { info.startPts = st.pointee.start_time }
        sourceSize = (info.width, info.height)
        if let fit {
            info.width = fit.width
            info.height = fit.height
            info.layout = fit.layout
        }
        defaultDuration = max(1, av_rescale_q(1, av_inv_q(rate), st.pointee.time_base))

        // Step 4: streams copied through (audio, subtitles).
        if copyStreams {
            for i in 0..<Int(ctx.pointee.nb_streams) {
                guard let s = ctx.pointee.streams[i], Int32(i) != st.pointee.index else { continue }
                let type = s.pointee.codecpar.pointee.codec_type
                if type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE {
                    passthrough.append(PassthroughStream(stream: s))
                }
            }
        }
    }

    deinit {
        avcodec_free_context(&decoder)
        avformat_close_input(&formatContext)
        if path == "-" { restoreStandardInput() }
    }

    private var shownPath: String { path == "-" ? "stdin" : path }

    /// Delivers frames in the stream's own 8-bit 4:2:0 planes (`PixelLayout.yuv420p8`) instead of
    /// converting them to RGB, where the stream is limited-range yuv420p of a matrix the engine
    /// knows (most video). Call before the first `next()`; false (and no change) otherwise.
    public func keepYUV420() -> Bool {
        guard framesOut == 0, info.layout == .rgb8, info.width == sourceSize.width, info.height == sourceSize.height,
              !matteOnly, info.sourcePixelFormat == "yuv420p", info.color.range != AVCOL_RANGE_JPEG,
              let weights = YUV420ToRGB.weights(info.color.matrix) else { return false }
        info.layout = .yuv420p8
        yuvWeights = weights
        return true
    }
    /// The matrix's luma weights, for `yuv420p8` frames.
    private var yuvWeights: (kr: Double, kb: Double)?

    /// The part of the stream to deliver (`select`), in the stream's ticks: frames from `readFrom`
    /// (warm-up before), the range itself from `first` to `end`, and warm-up until `readUntil`.
    private var ticks: (readFrom: Int64, first: Int64, end: Int64?, readUntil: Int64?)?
    /// The range asked for (`select`), with its warm-up.
    public private(set) var selected: TimeRange?
    /// The selected range on the container's clock (seconds), for `RangeSink`.
    public private(set) var selectedSeconds: (start: Double, end: Double?)?
    /// Past the last frame wanted: only copied streams' packets before the range's end still come.
    private var videoEnded = false
    private var copiedStreamsEnded: Set<Int32> = []

    /// Delivers only the frames of `range` and of its warm-up around it (marked `warmUp`): seeks to
    /// the keyframe before the warm-up (where the input can seek; a pipe is read from its start) and
    /// decodes from there, dropping what comes before; stops after the warm-up that follows. Copied
    /// streams' packets come up to the range's end (the sink keeps those inside it). Call before
    /// the first `next()`.
    public func select(_ range: TimeRange) throws {
        precondition(framesOut == 0 && ticks == nil, "select a range before reading")
        let origin = info.startPts ?? 0
        let tb = stream.pointee.time_base
        func tick(_ seconds: Double) -> Int64 { origin + Int64((seconds * Double(tb.den) / Double(tb.num)).rounded()) }
        let readFrom = tick(max(0, range.start - range.warmUpBefore))
        ticks = (readFrom, tick(range.start), range.end.map(tick), range.end.map { tick($0 + range.warmUpAfter) })
        selected = range
        // A part from the clip's start keeps what comes before its first frame (an audio encoder's
        // priming packets), as a pass over the whole clip would.
        selectedSeconds = (range.start > 0 ? Double(tick(range.start)) * av_q2d(tb) : -.infinity,
                           range.end.map { Double(tick($0)) * av_q2d(tb) })
        let rate = info.frameRate.isValid ? info.frameRate.double : 25
        if let duration = range.duration {
            info.expectedFrames = Int((duration * rate).rounded())
        } else if let all = info.expectedFrames {
            info.expectedFrames = max(0, all - Int((range.start * rate).rounded()))
        }
        guard readFrom > origin, path != "-" else { return }
        // The last keyframe at or before the warm-up's first frame; a failed seek reads from the start.
        if avformat_seek_file(formatContext, stream.pointee.index, Int64.min, readFrom, readFrom, 0) >= 0 {
            avcodec_flush_buffers(decoder)
            if primed { av_frame_unref(decoded); primed = false; draining = false }
        } else {
            notes.append("\(shownPath): cannot seek; reading from the start to \(String(format: "%.3f s", range.start))")
        }
    }

    /// Where a decoded picture falls against the selected range.
    private enum Place { case before, warmUp, inRange, after }
    private func place(_ pts: Int64) -> Place {
        guard let t = ticks else { return .inRange }
        if pts < t.readFrom { return .before }
        if let until = t.readUntil, pts >= until { return .after }
        if pts < t.first { return .warmUp }
        if let end = t.end, pts >= end { return .warmUp }
        return .inRange
    }

    /// After the last frame wanted: the copied streams' packets before the range's end, then nil:
    /// once each copied stream has passed the end, or the video is 5 s past it (a stream that has
    /// ended, or sparse subtitles, must not make a part read the rest of the file).
    private func nextCopiedPacket() -> SourceItem? {
        guard let endSeconds = selectedSeconds?.end else { return nil }
        while copiedStreamsEnded.count < passthrough.count && !Interrupt.isRequested {
            guard av_read_frame(formatContext, packet) >= 0 else { return nil }
            let index = packet.pointee.stream_index
            if index == stream.pointee.index {
                let t = packet.pointee.dts != AV_NOPTS ? packet.pointee.dts : packet.pointee.pts
                if t != AV_NOPTS && Double(t) * av_q2d(stream.pointee.time_base) > endSeconds + 5 {
                    av_packet_unref(packet)
                    return nil
                }
            } else if let copied = passthrough.first(where: { $0.inputIndex == index }), !copiedStreamsEnded.contains(index) {
                let pts = packet.pointee.pts != AV_NOPTS ? packet.pointee.pts : packet.pointee.dts
                if pts == AV_NOPTS || Double(pts) * av_q2d(copied.timeBase) < endSeconds {
                    return .packet(StreamPacket(moving: packet))
                }
                copiedStreamsEnded.insert(index)
            }
            av_packet_unref(packet)
        }
        return nil
    }

    public func next() throws -> SourceItem? {
        if videoEnded { return nextCopiedPacket() }
        while true {
            // Frames the decoder already holds come first (outside a selected range: dropped
            // before conversion, or the end of the frames wanted).
            let received = primed ? 0 : avcodec_receive_frame(decoder, decoded)
            primed = false
            if received == 0 {
                switch place(decoded.pointee.best_effort_timestamp != AV_NOPTS ? decoded.pointee.best_effort_timestamp : nextPts) {
                case .before:
                    // Kept until the next one: should the stream end before the range, its last
                    // picture is what a pass over it would hold (a mask clip that ends early).
                    av_frame_unref(lastBefore.pointer)
                    av_frame_move_ref(lastBefore.pointer, decoded)
                    continue
                case .after:
                    av_frame_unref(decoded)
                    videoEnded = true
                    return nextCopiedPacket()
                case .warmUp:
                    let frame = try takeFrame()
                    frame.warmUp = true
                    return .frame(frame)
                case .inRange:
                    return .frame(try takeFrame())
                }
            }
            if received == AVERROR_EOF_ {
                guard framesOut == 0, lastBefore.pointer.pointee.buf.0 != nil else {
                    try atTheEnd()
                    return nil
                }
                av_frame_move_ref(decoded, lastBefore.pointer)
                let frame = try takeFrame()
                frame.warmUp = true
                return .frame(frame)
            }
            if received != AVERROR_EAGAIN_ {
                try damage.lost(seconds: nil, path: shownPath, after: framesOut, reason: averrorText(received))
                continue
            }
            if draining {
                try atTheEnd()
                return nil
            }

            // The decoder wants input: read the next packet, or start draining at the end.
            if Interrupt.isRequested {
                startDraining()
                continue
            }
            let read = av_read_frame(formatContext, packet)
            if read < 0 {
                if read != AVERROR_EOF_ && !Interrupt.isRequested {
                    notes.append("\(shownPath): input ends early after frame \(framesOut) (\(averrorText(read))); keeping what was decoded")
                }
                endOfFile = read == AVERROR_EOF_ && !Interrupt.isRequested
                startDraining()
                continue
            }
            if packet.pointee.stream_index == stream.pointee.index {
                let pts = packet.pointee.pts
                let sent = avcodec_send_packet(decoder, packet)
                av_packet_unref(packet)
                if sent < 0 && sent != AVERROR_EAGAIN_ {
                    try damage.lost(seconds: seconds(pts), path: shownPath, after: framesOut, reason: averrorText(sent))
                }
                try damage.logged(decoderErrors.total, seconds: seconds(pts), path: shownPath, after: framesOut)
                continue
            }
            if passthrough.contains(where: { $0.inputIndex == packet.pointee.stream_index }) {
                return .packet(StreamPacket(moving: packet))
            }
            av_packet_unref(packet)
        }
    }

    /// Reads and decodes until the first picture is out, into `picture`, for `init`; returns whether
    /// the decoder was told the input had ended (draining).
    private static func decodeFirstPicture(_ ctx: UnsafeMutablePointer<AVFormatContext>, _ decoder: UnsafeMutablePointer<AVCodecContext>,
                                           _ packet: UnsafeMutablePointer<AVPacket>, _ picture: UnsafeMutablePointer<AVFrame>,
                                           stream: Int32, shown: String) throws -> Bool {
        var draining = false
        while true {
            let received = avcodec_receive_frame(decoder, picture)
            if received == 0 { return draining }
            if received == AVERROR_EOF_ { throw PipeError(shown, "no picture could be decoded (a damaged file, or a size FFmpeg refuses)") }
            if received != AVERROR_EAGAIN_ { throw PipeError(shown, "cannot decode the picture: \(averrorText(received))") }
            if Interrupt.isRequested { throw PipeError(shown, "interrupted before the input could be read") }
            let read = av_read_frame(ctx, packet)
            if read < 0 {
                if draining { throw PipeError(shown, "no picture could be decoded (a damaged file, or a size FFmpeg refuses)") }
                avcodec_send_packet(decoder, nil)
                draining = true
                continue
            }
            if packet.pointee.stream_index == stream {
                let sent = avcodec_send_packet(decoder, packet)
                av_packet_unref(packet)
                if sent < 0 && sent != AVERROR_EAGAIN_ { throw PipeError(shown, "cannot decode the picture: \(averrorText(sent))") }
            } else {
                av_packet_unref(packet)
            }
        }
    }

    /// The decoder is drained: a last look at its logged errors (those of the last frames, or of a
    /// flush), then whether the file was cut short.
    private func atTheEnd() throws {
        guard !checkedEnd else { return }
        checkedEnd = true
        try damage.logged(decoderErrors.total, seconds: seconds(nextPts), path: shownPath, after: framesOut)
        noteIfCutShort()
    }
    private var checkedEnd = false
    /// The demuxer met a plain end of file (not a read error, not Ctrl-C).
    private var endOfFile = false

    /// At the end of a whole file: where its video stopped well short of the duration the file
    /// declares (a copy or download cut off; the demuxer meets a plain end of file), says so.
    /// Only the video stream's own duration counts, or the file's where video is all it holds (a
    /// file's audio may outlast its video). Its end is taken from 0, not from the stream's start
    /// (a file's duration may count from either): at worst a cut is missed by that much.
    private func noteIfCutShort() {
        // A duration FFmpeg guessed from the bitrate (no timestamps to go by) is no promise.
        guard endOfFile, ticks == nil, path != "-", framesOut > 0, let ctx = formatContext,
              ctx.pointee.duration_estimation_method != AVFMT_DURATION_FROM_BITRATE else { return }
        let tb = stream.pointee.time_base
        var declared: Double?
        if stream.pointee.duration > 0 {
            declared = Double(stream.pointee.duration) * av_q2d(tb)
        } else if ctx.pointee.nb_streams == 1, ctx.pointee.duration > 0 {
            declared = Double(ctx.pointee.duration) / Double(AV_TIME_BASE)
        }
        guard let declared else { return }
        let delivered = Double(nextPts) * av_q2d(tb)
        guard declared - delivered > max(1, 0.1 * declared) else { return }
        notes.append(String(format: "%@: input ends at %.2f s of the %.2f s it declares (cut off?); keeping what was decoded",
                            shownPath, delivered, declared))
    }

    private func startDraining() {
        avcodec_send_packet(decoder, nil)
        draining = true
    }

    private func seconds(_ pts: Int64) -> Double? {
        pts == AV_NOPTS ? nil : Double(pts) * av_q2d(stream.pointee.time_base)
    }

    /// Stamps the decoded picture's timing on a new pipeline frame and defers its conversion to RGB
    /// (`VideoFrame.complete()`, on a worker): the decode thread only decodes. The frame keeps a
    /// reference to the decoder's picture (no copy) until it is converted: `complete()` drops the step,
    /// and with it the reference, once it has run.
    private func takeFrame() throws -> VideoFrame {
        defer { av_frame_unref(decoded) }
        if decoded.pointee.decode_error_flags != 0 || decoded.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0 {
            try damage.concealed(seconds: seconds(decoded.pointee.best_effort_timestamp), path: shownPath, frame: framesOut)
        }
        try damage.logged(decoderErrors.total, seconds: seconds(decoded.pointee.best_effort_timestamp), path: shownPath, after: framesOut)
        if !warnedResize && (Int(decoded.pointee.width) != sourceSize.width || Int(decoded.pointee.height) != sourceSize.height) {
            notes.append("\(shownPath): frame size changes to \(decoded.pointee.width)x\(decoded.pointee.height) at frame \(framesOut); scaled to \(info.width)x\(info.height)")
            warnedResize = true
        }
        let range = decoded.pointee.color_range != AVCOL_RANGE_UNSPECIFIED ? decoded.pointee.color_range : info.color.range
        let picture = OwnedFrame()
        let referenced = av_frame_ref(picture.pointer, decoded)
        if referenced < 0 { throw PipeError(shownPath, "frame \(framesOut): \(averrorText(referenced))") }
        var pts = decoded.pointee.best_effort_timestamp
        if pts == AV_NOPTS { pts = nextPts }
        let duration = decoded.pointee.pkt_duration > 0 ? decoded.pointee.pkt_duration : defaultDuration
        // A mask frame whose matte is its luma plane needs no pixels of its own.
        let matteOnly = self.matteOnly && hasLumaMatte(picture.pointer, width: info.width, height: info.height)
        let frame = VideoFrame(width: info.width, height: info.height, layout: info.layout,
                               pts: pts, duration: duration, index: framesOut, pixels: !matteOnly)
        if let w = yuvWeights { frame.yuv = (w.kr, w.kb, false) }
        let (converters, matrix, path, number) = (self.converters, info.color.matrix, shownPath, framesOut)
        frame.deferUntilComplete { frame in
            if matteOnly {
                frame.matte = lumaMatte(picture.pointer, width: frame.width, height: frame.height, range: range)
                return
            }
            do {
                try converters.with {
                    if frame.layout.isPlanar {
                        try $0.toYUV420(picture.pointer, into: frame, matrix: matrix, range: range)
                    } else {
                        try $0.toRGB(picture.pointer, into: frame, matrix: matrix, range: range)
                    }
                }
            } catch let error as PipeError {
                throw PipeError(path, "frame \(number): \(error.message)")
            }
        }
        nextPts = pts + duration
        framesOut += 1
        return frame
    }
}

/// Opens a container (`url`: a path, `pipe:0`; `format` and `options` for image sequences) and
/// finds its video stream, or throws a one-line error naming `shown`. Ctrl-C interrupts the
/// reading (`Interrupt`). The caller closes the context (`avformat_close_input`).
/// With `probingImages` false, a single image (`isSingleImage`) is not probed (`probed` false): its
/// stream then has no size or pixel format until the caller decodes its first picture (`MediaReader`).
func openVideoInput(_ url: String, shown: String, format: UnsafePointer<AVInputFormat>? = nil,
                    options: UnsafeMutablePointer<OpaquePointer?>? = nil, probingImages: Bool = true)
    throws -> (UnsafeMutablePointer<AVFormatContext>, UnsafeMutablePointer<AVStream>, probed: Bool) {
    var ctx = avformat_alloc_context()
    ctx!.pointee.interrupt_callback = AVIOInterruptCB(callback: Interrupt.avioCallback, opaque: nil)
    var ret = avformat_open_input(&ctx, url, format, options)
    if ret < 0 {
        if Interrupt.isRequested { throw PipeError(shown, "interrupted before the input could be read") }
        throw PipeError(shown, ret == cff_averror(ENOENT) ? "no such file" : "cannot open: \(averrorText(ret))")
    }
    if !probingImages && isSingleImage(ctx!, forced: format != nil) {
        return (ctx!, ctx!.pointee.streams[0]!, false)
    }
    ret = avformat_find_stream_info(ctx, nil)
    if ret < 0 {
        avformat_close_input(&ctx)
        throw PipeError(shown, "cannot read stream information: \(averrorText(ret))")
    }
    let index = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
    guard index >= 0, let stream = ctx!.pointee.streams[Int(index)] else {
        avformat_close_input(&ctx)
        throw PipeError(shown, "no video stream")
    }
    return (ctx!, stream, true)
}

/// Whether the container is one image file: an image demuxer (`png_pipe`, `jpeg_pipe`, ..., or
/// `image2` on a single file, not a pattern we forced it for) with one video stream of a known codec,
/// read from a file that can seek. FFmpeg's stream probe learns such a stream's size and pixel
/// format by decoding the whole picture (190 ms of a 3840x2160 png), which the reader would then
/// decode again. (From a pipe, the image demuxers need the parser the probe sets up: the first
/// packet of an unprobed pipe fails.)
private func isSingleImage(_ ctx: UnsafeMutablePointer<AVFormatContext>, forced: Bool) -> Bool {
    guard let format = ctx.pointee.iformat, let pb = ctx.pointee.pb, pb.pointee.seekable & AVIO_SEEKABLE_NORMAL != 0,
          ctx.pointee.nb_streams == 1, let st = ctx.pointee.streams[0],
          st.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO, st.pointee.codecpar.pointee.codec_id != AV_CODEC_ID_NONE
    else { return false }
    let name = String(cString: format.pointee.name)
    return name.hasSuffix("_pipe") || (name == "image2" && !forced)
}

/// A blocking read of a pipe on stdin would not notice Ctrl-C (the signal may land on another
/// thread). Non-blocking, FFmpeg's reader retries every millisecond and checks the interrupt
/// callback between tries. Only pipes and sockets are changed: a terminal's flags are the shell's.
/// The flags stdin had before (they belong to a file description other processes may share).
nonisolated(unsafe) private var standardInputFlags: Int32 = -1

private func makeStandardInputInterruptible() {
    var st = stat()
    guard fstat(0, &st) == 0 else { return }
    let type = st.st_mode & S_IFMT
    guard type == S_IFIFO || type == S_IFSOCK else { return }
    let flags = fcntl(0, F_GETFL)
    guard flags >= 0, flags & O_NONBLOCK == 0 else { return }
    standardInputFlags = flags
    _ = fcntl(0, F_SETFL, flags | O_NONBLOCK)
}

private func restoreStandardInput() {
    if standardInputFlags >= 0 { _ = fcntl(0, F_SETFL, standardInputFlags) }
}

/// True for names like `shot_%04d.png` or `f%d.jpg` (a printf integer conversion, as FFmpeg's image2).
func isPrintfPattern(_ path: String) -> Bool {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    guard let regex = try? Regex(#"%0?\d*d"#) else { return false }
    return name.contains(regex)
}

/// Damage the decoder met: the errors it logged (`DecoderErrors`), frames it output with errors
/// concealed, and packets or frames it could not decode at all. FFmpeg conceals and goes on, and so
/// does harmonize, with one warning at the end that counts them; with `strict` (FFmpeg's -xerror)
/// the first one stops the run.
struct DecodeDamage {
    /// Stop at the first damage instead of counting it (harmonize --strict).
    static let strict = Atomic<Bool>(false)

    private(set) var concealedFrames = 0
    private(set) var lostPackets = 0
    /// Where the first damaged frame or lost packet was, and, less exactly, where the decoder was
    /// when it first logged an error (the place the warning gives when nothing was flagged).
    private var first: String?
    private var firstLogged: String?
    /// The decoder's logged errors at the last look.
    private var errorsSeen = 0

    /// A look at the decoder's logged errors (`total` so far) as it decodes around `seconds`. With
    /// frame threads it reports an error a few frames after the packet that had it, so the place is
    /// approximate ("near").
    mutating func logged(_ total: Int, seconds: Double?, path: String, after frame: Int) throws {
        guard total > errorsSeen else { return }
        errorsSeen = total
        let near = seconds.map { String(format: "near %.3f s", $0) } ?? "after frame \(frame)"
        try stopIfStrict(path: path, strictMessage: "the decoder reported an error \(near)")
        if firstLogged == nil { firstLogged = near }
    }

    mutating func concealed(seconds: Double?, path: String, frame: Int) throws {
        let at = seconds.map { String(format: "%.3f s", $0) } ?? "frame \(frame)"
        try stopIfStrict(path: path, strictMessage: "frame \(frame) (\(at)) decoded with errors")
        if first == nil { first = "at " + at }
        concealedFrames += 1
    }

    mutating func lost(seconds: Double?, path: String, after frame: Int, reason: String) throws {
        let at = seconds.map { String(format: "%.3f s", $0) } ?? "after frame \(frame)"
        try stopIfStrict(path: path, strictMessage: "could not decode at \(at): \(reason)")
        if first == nil { first = "at " + at }
        lostPackets += 1
    }

    /// Stops here under --strict.
    private func stopIfStrict(path: String, strictMessage: String) throws {
        if Self.strict.load(ordering: .relaxed) { throw PipeError(path, "damaged input: \(strictMessage) (--strict)") }
    }

    /// The one-line summary, nil when nothing was damaged. The decoder's logged errors are counted
    /// rather than the frames it flagged, which vary; all of them where the file was read to its
    /// end, else those logged by the last look (with frame threads, a few frames' worth past the
    /// last frame delivered).
    func line(_ path: String) -> String? {
        guard let first = first ?? firstLogged else { return nil }
        var parts: [String] = []
        if errorsSeen > 0 {
            parts.append("\(errorsSeen) decoding error\(errorsSeen == 1 ? "" : "s") (concealed)")
        } else if concealedFrames > 0 {
            parts.append("\(concealedFrames) frame\(concealedFrames == 1 ? "" : "s") decoded with errors (concealed)")
        }
        if lostPackets > 0 { parts.append("\(lostPackets) packet\(lostPackets == 1 ? "" : "s") could not be decoded") }
        return "\(path): damaged input: \(parts.joined(separator: " and ")), the first \(first) (--strict stops at the first)"
    }
}

/// Makes every decoder stop at the first damaged frame or packet instead of concealing it.
public func setStrictDecoding(_ on: Bool) { DecodeDamage.strict.store(on, ordering: .relaxed) }

/// Whether `lumaMatte` takes this picture: an 8-bit luma (or grey) plane of the frame's size.
func hasLumaMatte(_ f: UnsafePointer<AVFrame>, width: Int, height: Int) -> Bool {
    guard Int(f.pointee.width) == width, Int(f.pointee.height) == height, f.pointee.data.0 != nil,
          let desc = av_pix_fmt_desc_get(AVPixelFormat(f.pointee.format)) else { return false }
    let d = desc.pointee
    let unsupported = UInt64(AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT)
    return d.flags & unsupported == 0 && d.comp.0.plane == 0 && d.comp.0.step == 1 && d.comp.0.offset == 0
        && d.comp.0.shift == 0 && d.comp.0.depth == 8
}

/// Limited-range luma (16-235) to full range (0-255), rounded and clipped.
private let limitedToFullLuma: [UInt8] = (0..<256).map { UInt8(min(255, max(0, (Double($0 - 16) * 255 / 219).rounded()))) }

/// A mask's matte straight from a decoded picture's luma plane, when it has one of 8 bits at the
/// frame's size (grey and YUV pictures: the usual mask clip), else nil. Limited-range luma
/// (16-235) is expanded to 0-255, as a conversion to RGB would; the full YUV -> RGB conversion of
/// the whole frame and the weighted sum back to one channel are skipped. The Y plane is the luma of
/// the stream's own matrix: for a grey mask, its grey value.
func lumaMatte(_ f: UnsafePointer<AVFrame>, width: Int, height: Int, range: AVColorRange) -> [UInt8]? {
    guard hasLumaMatte(f, width: width, height: height), let plane = f.pointee.data.0 else { return nil }
    let format = AVPixelFormat(f.pointee.format)
    let isGray = av_pix_fmt_desc_get(format)!.pointee.nb_components <= 2
    // Grey pictures are full range unless tagged limited; YUV ones limited unless tagged full (or yuvj).
    let full = isGray ? range != AVCOL_RANGE_MPEG : (range == AVCOL_RANGE_JPEG || isJPEGFormat(format))
    var out = [UInt8](repeating: 0, count: width * height)
    let stride = Int(f.pointee.linesize.0)
    out.withUnsafeMutableBufferPointer { dst in
        limitedToFullLuma.withUnsafeBufferPointer { table in
            for y in 0..<height {
                let row = plane + y * stride, o = dst.baseAddress! + y * width
                if full {
                    o.update(from: row, count: width)
                } else {
                    for x in 0..<width { o[x] = table[Int(row[x])] }
                }
            }
        }
    }
    return out
}
