import CFFmpeg
import Foundation

/// `harmonize join`: the parts of a clip, each processed over a time range of it (`--start`,
/// `--duration`), concatenated into one file without re-encoding. The parts keep the source's
/// timestamps, so joining is copying packets in time order, after checking that they fit:
///
/// 1. Read each part's header: its video stream's codec parameters must match the first part's
///    (same encoder settings, so one decoder plays them all), and its `comment` tag (what made it,
///    `harmonize` writes it) must match too, apart from the range.
/// 2. Order the parts by their first timestamp and check they are contiguous: each starts where
///    the one before ends (within half a frame), and the ranges they were made for tile.
/// 3. Copy: video packets from the parts in turn; audio and subtitles from the source (`source`),
///    over the time the parts cover, or else from the parts themselves; interleaved by time.
/// 4. With a source, count its frames over that time: the parts must hold as many.
public enum PartJoiner {
    public struct Report: Sendable {
        public let parts: Int
        public let frames: Int
        public let start: Double
        public let end: Double
        /// Where the other streams came from ("the source", "the parts", or nothing).
        public let otherStreams: String
    }

    /// One part's header, read before anything is written.
    private struct Part {
        let path: String
        let start: Double                // seconds, the container's clock
        let declaredEnd: Double?
        let comment: String?
        let range: TimeRange?
        let sourceName: String?          // the clip it is a part of (its file name), as tagged
        let others: Int                  // streams besides the video
    }

    public static func join(parts paths: [String], source: String?, output: String, overwrite: Bool) throws -> Report {
        guard !paths.isEmpty else { throw PipeError("", "no parts to join") }
        // Step 1: the parts' headers, checked against the first.
        var parts: [Part] = []
        var reference: (path: String, codec: CodecSignature, made: String?)?
        for path in paths {
            try checkNotSameLocation(input: path, output: output)
            let file = try Demuxer(path)
            let video = file.video
            let signature = CodecSignature(video.pointee.codecpar)
            let comment = file.comment
            let made = comment.map(withoutRange)
            if let reference {
                if signature != reference.codec {
                    throw PipeError(path, "encoded unlike \(reference.path) (\(signature) against \(reference.codec)): the parts must share one encoder and its settings")
                }
                if made != reference.made {
                    throw PipeError(path, "made unlike \(reference.path): \"\(made ?? "no harmonize tag")\" against \"\(reference.made ?? "no harmonize tag")\"")
                }
            } else {
                reference = (path, signature, made)
            }
            let tb = av_q2d(video.pointee.time_base)
            let start = video.pointee.start_time != AV_NOPTS ? Double(video.pointee.start_time) * tb : 0
            let end = video.pointee.duration > 0 ? start + Double(video.pointee.duration) * tb : nil
            let tag = comment.flatMap(rangeTag)
            parts.append(Part(path: path, start: start, declaredEnd: end, comment: comment,
                              range: tag.flatMap { TimeRange(label: $0.label) }, sourceName: tag?.source,
                              others: Int(file.context.pointee.nb_streams) - 1))
        }

        // Step 2: parts of one clip (the source, if given), in time order, whose ranges tile the
        // time they cover.
        if let named = parts.first(where: { $0.sourceName != nil }) {
            if let other = parts.first(where: { $0.sourceName != nil && $0.sourceName != named.sourceName }) {
                throw PipeError(other.path, "is a part of \(other.sourceName!), \(named.path) of \(named.sourceName!)")
            }
            if let source, URL(fileURLWithPath: source).lastPathComponent != named.sourceName {
                throw PipeError(source, "is not the clip the parts were made from (\(named.sourceName!), as their tags say)")
            }
        }
        if let source { try checkNotSameLocation(input: source, output: output) }
        parts.sort { $0.start < $1.start }
        for (a, b) in zip(parts, parts.dropFirst()) {
            if let ra = a.range, let rb = b.range {
                guard let end = ra.end else {
                    throw PipeError(a.path, "runs to the end of the clip (its range \(ra.label)), yet \(b.path) comes after it")
                }
                if abs(end - rb.start) > 1e-6 {
                    let what = rb.start > end ? "a gap" : "an overlap"
                    throw PipeError(b.path, "\(what): it was made from \(fmt(rb.start)) s, the part before it (\(a.path)) up to \(fmt(end)) s")
                }
            }
        }
        let sourceFile = try source.map { try Demuxer($0) }
        let others = sourceFile.map { $0.copiedStreams } ?? []
        if sourceFile == nil, let mismatch = parts.first(where: { $0.others != parts[0].others }) {
            throw PipeError(mismatch.path, "has \(mismatch.others) streams besides the video, \(parts[0].path) has \(parts[0].others): give the source with --source to take them from it")
        }

        // Step 3: the output, then the packets.
        let writer = try Remuxer(output: output, overwrite: overwrite)
        do {
            let first = try Demuxer(parts[0].path)
            let videoOut = try writer.addStream(copying: first.video)
            var otherOut: [Int32: UnsafeMutablePointer<AVStream>] = [:]
            if sourceFile != nil {
                for s in others { otherOut[s.pointee.index] = try writer.addStream(copying: s) }
            } else {
                for s in first.copiedStreams { otherOut[s.pointee.index] = try writer.addStream(copying: s) }
            }
            // Parts that begin at the clip's start take the source's packets before it too (an
            // audio encoder's priming), as one pass would; likewise after the end.
            let coverStart = parts[0].range?.start == 0 ? -Double.infinity : parts[0].start
            var comment = parts[0].comment.map(withoutRange)
            if let last = parts.last?.range, let firstRange = parts[0].range, firstRange.start > 0 || last.end != nil {
                let union = TimeRange(start: firstRange.start, duration: last.end.map { $0 - firstRange.start })
                comment = comment.map { "\($0); range \(union.label)" + (parts[0].sourceName.map { " of \($0)" } ?? "") }
            }
            try writer.start(comment: comment)

            var frames = 0
            var previousEnd: (path: String, seconds: Double)?
            let frameRate = av_q2d(first.video.pointee.avg_frame_rate)
            let slack = frameRate > 0 ? 0.5 / frameRate : 0.02
            // The source's other streams, merged in by time; over the time the parts cover only.
            let sourceQueue = sourceFile.map { PacketQueue($0) }
            // The parts end where the last one was made to end (to the end of the clip: no end);
            // the source's packets are taken up to there, and once the last part is read, up to
            // where it actually ends.
            let lastOpen = parts.last?.range.map { $0.end == nil } ?? false
            var coverEnd = lastOpen ? .infinity : (parts.last?.declaredEnd ?? .infinity)
            for (k, part) in parts.enumerated() {
                let file = k == 0 ? first : try Demuxer(part.path)
                if let previousEnd {
                    let step = part.start - previousEnd.seconds
                    if abs(step) > slack {
                        throw PipeError(part.path, "\(step > 0 ? "a gap" : "an overlap") of \(fmt(abs(step))) s: it starts at \(fmt(part.start)) s, \(previousEnd.path) ends at \(fmt(previousEnd.seconds)) s")
                    }
                }
                var partEnd = part.start
                let videoIndex = file.video.pointee.index
                let partOthers = file.copiedStreams.map { $0.pointee.index }
                while let packet = try file.nextPacket() {
                    let index = packet.pointer.pointee.stream_index
                    let tb = file.context.pointee.streams[Int(index)]!.pointee.time_base
                    if index == videoIndex {
                        frames += 1
                        let p = packet.pointer.pointee
                        if p.pts != AV_NOPTS { partEnd = max(partEnd, Double(p.pts + max(p.duration, 0)) * av_q2d(tb)) }
                        // The source's packets that come before this one in time go first.
                        try sourceQueue?.write(before: packet.seconds(tb), upTo: coverEnd, from: coverStart, to: writer, streams: otherOut)
                        try writer.write(packet, from: tb, to: videoOut)
                    } else if sourceFile == nil, let position = partOthers.firstIndex(of: index) {
                        let target = first.copiedStreams[position].pointee.index
                        if let out = otherOut[target] { try writer.write(packet, from: tb, to: out) }
                    }
                }
                if let end = part.declaredEnd, abs(end - partEnd) > slack { partEnd = max(partEnd, end) }
                previousEnd = (part.path, partEnd)
            }
            coverEnd = lastOpen ? .infinity : (previousEnd?.seconds ?? coverStart)
            try sourceQueue?.write(before: .infinity, upTo: coverEnd, from: coverStart, to: writer, streams: otherOut)
            // Step 4: the source's frames over the same time.
            if let source, let sourceFrames = sourceQueue?.videoFrames, sourceFrames != frames {
                throw PipeError(source, "has \(sourceFrames) frames from \(fmt(parts[0].start)) to \(fmt(previousEnd?.seconds ?? 0)) s, the parts \(frames): \(sourceFrames > frames ? "frames are missing" : "the parts hold more frames than the source over the same time")")
            }
            try writer.finish()
            let from = sourceFile != nil ? "the source" : (parts[0].others > 0 ? "the parts" : "none")
            return Report(parts: parts.count, frames: frames, start: parts[0].start, end: previousEnd?.seconds ?? parts[0].start, otherStreams: from)
        } catch {
            writer.abort()
            throw error
        }
    }

    private static func fmt(_ seconds: Double) -> String { String(format: "%.3f", seconds) }

    /// A `harmonize` comment without its "; range ..." part (the parts of one job differ only there).
    static func withoutRange(_ comment: String) -> String {
        comment.split(separator: ";", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("range ") }
            .joined(separator: ";")
    }

    /// The "range START+DURATION of NAME" field of a `harmonize` comment: the label and the name.
    static func rangeTag(_ comment: String) -> (label: String, source: String?)? {
        guard let field = comment.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { $0.hasPrefix("range ") }) else { return nil }
        let words = field.dropFirst(6)
        guard let of = words.range(of: " of ") else { return (String(words), nil) }
        return (String(words[..<of.lowerBound]), String(words[of.upperBound...]))
    }
}

/// What must match for packets of two streams to play in one: codec, size, pixel format and the
/// decoder's configuration (SPS/PPS and the like, in the extradata).
private struct CodecSignature: Equatable, CustomStringConvertible {
    let codec: AVCodecID
    let width: Int32, height: Int32, format: Int32
    let extradata: [UInt8]

    init(_ par: UnsafeMutablePointer<AVCodecParameters>) {
        codec = par.pointee.codec_id
        width = par.pointee.width
        height = par.pointee.height
        format = par.pointee.format
        extradata = par.pointee.extradata.map { Array(UnsafeBufferPointer(start: $0, count: Int(par.pointee.extradata_size))) } ?? []
    }

    var description: String {
        let pix = av_get_pix_fmt_name(AVPixelFormat(format)).map { String(cString: $0) } ?? "?"
        return "\(String(cString: avcodec_get_name(codec))) \(width)x\(height) \(pix), \(extradata.count) bytes of codec setup"
    }
}

/// An input container read packet by packet, nothing decoded.
private final class Demuxer {
    let path: String
    let context: UnsafeMutablePointer<AVFormatContext>
    let video: UnsafeMutablePointer<AVStream>

    init(_ path: String) throws {
        self.path = path
        (context, video, _) = try openVideoInput(path, shown: path)
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&ctx)
    }

    var comment: String? {
        av_dict_get(context.pointee.metadata, "comment", nil, 0).map { String(cString: $0.pointee.value) }
    }

    /// Audio and subtitle streams, in order.
    var copiedStreams: [UnsafeMutablePointer<AVStream>] {
        (0..<Int(context.pointee.nb_streams)).compactMap { i in
            guard let s = context.pointee.streams[i] else { return nil }
            let type = s.pointee.codecpar.pointee.codec_type
            return type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE ? s : nil
        }
    }

    /// The next packet of any stream; nil at the end.
    func nextPacket() throws -> JoinPacket? {
        let packet = JoinPacket()
        let ret = av_read_frame(context, packet.pointer)
        if ret == AVERROR_EOF_ { return nil }
        try check(ret, path, "reading a packet")
        return packet
    }
}

private final class JoinPacket {
    let pointer: UnsafeMutablePointer<AVPacket> = av_packet_alloc()!
    deinit { var p: UnsafeMutablePointer<AVPacket>? = pointer; av_packet_free(&p) }

    /// Decode time in seconds (presentation time where there is none).
    func seconds(_ tb: AVRational) -> Double {
        let t = pointer.pointee.dts != AV_NOPTS ? pointer.pointee.dts : pointer.pointee.pts
        return t == AV_NOPTS ? -.infinity : Double(t) * av_q2d(tb)
    }
}

/// The source's packets, read ahead one at a time: its audio and subtitles are written as the
/// parts' video reaches their time; its video packets are only counted (frames over the time
/// the parts cover).
private final class PacketQueue {
    let file: Demuxer
    var held: JoinPacket?
    var ended = false
    private(set) var videoFrames = 0

    init(_ file: Demuxer) { self.file = file }

    /// Writes the source's packets earlier than `time` (seconds), those of its other streams
    /// within [start, end) to their output streams, and counts its video frames in that span.
    func write(before time: Double, upTo end: Double, from start: Double, to writer: Remuxer,
                        streams: [Int32: UnsafeMutablePointer<AVStream>]) throws {
        while !ended {
            if held == nil { held = try file.nextPacket() }
            guard let packet = held else { ended = true; return }
            let index = packet.pointer.pointee.stream_index
            let tb = file.context.pointee.streams[Int(index)]!.pointee.time_base
            let t = packet.seconds(tb)
            if t >= time { return }
            held = nil
            let p = packet.pointer.pointee
            let pts = p.pts != AV_NOPTS ? Double(p.pts) * av_q2d(tb) : t
            guard pts >= start - 1e-9, pts < end - 1e-9 else { continue }
            if index == file.video.pointee.index {
                // Packets an edit list cut off (flagged discard) are not frames a decoder shows.
                if p.flags & AV_PKT_FLAG_DISCARD == 0 { videoFrames += 1 }
            } else if let out = streams[index] {
                try writer.write(packet, from: tb, to: out)
            }
        }
    }
}

/// An output container written from copied packets, in a temporary file renamed on success.
private final class Remuxer {
    let path: String
    private var context: UnsafeMutablePointer<AVFormatContext>?
    private let atomic: AtomicOutput
    private var finished = false

    init(output: String, overwrite: Bool) throws {
        path = output
        atomic = try AtomicOutput(target: output, overwrite: overwrite)
        guard let muxer = av_guess_format(nil, output, nil) else {
            throw PipeError(output, "cannot tell the container from the extension (use .mp4, .mov, .mkv, ...)")
        }
        var oc: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&oc, muxer, nil, atomic.temporary), output, "cannot set up the container")
        context = oc
    }

    deinit { if !finished { abort() } }

    func addStream(copying input: UnsafeMutablePointer<AVStream>) throws -> UnsafeMutablePointer<AVStream> {
        guard let oc = context, let st = avformat_new_stream(oc, nil) else { throw PipeError(path, "cannot add a stream") }
        try check(avcodec_parameters_copy(st.pointee.codecpar, input.pointee.codecpar), path, "copying stream parameters")
        st.pointee.codecpar.pointee.codec_tag = 0
        st.pointee.time_base = input.pointee.time_base
        st.pointee.avg_frame_rate = input.pointee.avg_frame_rate
        st.pointee.sample_aspect_ratio = input.pointee.sample_aspect_ratio
        av_dict_copy(&st.pointee.metadata, input.pointee.metadata, 0)
        var size = 0
        if let side = av_stream_get_side_data(input, AV_PKT_DATA_DISPLAYMATRIX, &size), size > 0,
           let copy = av_stream_new_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, size) {
            copy.update(from: side, count: size)
        }
        if avformat_query_codec(oc.pointee.oformat, st.pointee.codecpar.pointee.codec_id, FF_COMPLIANCE_NORMAL) == 0 {
            throw PipeError(path, "the container cannot hold \(String(cString: avcodec_get_name(st.pointee.codecpar.pointee.codec_id)))")
        }
        return st
    }

    func start(comment: String?) throws {
        guard let oc = context else { return }
        if let comment { av_dict_set(&oc.pointee.metadata, "comment", comment, 0) }
        if oc.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            try check(avio_open(&oc.pointee.pb, atomic.temporary, AVIO_FLAG_WRITE), path, "cannot open for writing")
        }
        try check(avformat_write_header(oc, nil), path, "cannot write the header")
    }

    func write(_ packet: JoinPacket, from tb: AVRational, to stream: UnsafeMutablePointer<AVStream>) throws {
        av_packet_rescale_ts(packet.pointer, tb, stream.pointee.time_base)
        packet.pointer.pointee.stream_index = stream.pointee.index
        packet.pointer.pointee.pos = -1
        try check(av_interleaved_write_frame(context, packet.pointer), path, "writing a packet")
    }

    func finish() throws {
        try check(av_write_trailer(context), path, "cannot finish the file")
        close()
        finished = true
        try atomic.commit()
    }

    func abort() {
        guard !finished else { return }
        finished = true
        close()
        atomic.discard()
    }

    private func close() {
        if let oc = context {
            if oc.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&oc.pointee.pb) }
            avformat_free_context(oc)
            context = nil
        }
    }
}

/// The presentation times of a clip's video frames, in seconds from the stream's start, in order,
/// and its nominal rate: read from the container's packets, nothing decoded (`harmonize plan`).
public func frameTimes(of path: String) throws -> (times: [Double], frameRate: Rational) {
    guard path != "-" else { throw PipeError("stdin", "a plan needs a file to read twice, not standard input") }
    let file = try Demuxer(path)
    let video = file.video
    for i in 0..<Int(file.context.pointee.nb_streams) where Int32(i) != video.pointee.index {
        file.context.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
    }
    let tb = av_q2d(video.pointee.time_base)
    let origin = video.pointee.start_time != AV_NOPTS ? video.pointee.start_time : nil
    var ticks: [Int64] = []
    while let packet = try file.nextPacket() {
        let p = packet.pointer.pointee
        guard p.stream_index == video.pointee.index, p.flags & AV_PKT_FLAG_DISCARD == 0 else { continue }
        let t = p.pts != AV_NOPTS ? p.pts : p.dts
        if t != AV_NOPTS { ticks.append(t) }
    }
    guard !ticks.isEmpty else { throw PipeError(path, "no video frames") }
    ticks.sort()
    let start = origin ?? ticks[0]
    var rate = av_guess_frame_rate(file.context, video, nil)
    if rate.num <= 0 || rate.den <= 0 { rate = AVRational(num: 25, den: 1) }
    return (ticks.map { Double($0 - start) * tb }, Rational(rate))
}
