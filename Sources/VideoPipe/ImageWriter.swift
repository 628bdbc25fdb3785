import CFFmpeg
import Foundation

/// Writes frames as image files: one image, a printf pattern (`out_%04d.png`), or a folder (keeping
/// the source's file names when it had them, else `frame_000001.png`, ...). Each file is encoded
/// whole and renamed into place, so an interrupted run leaves only complete images.
public final class ImageWriter: FrameSink {
    public enum Naming: Sendable {
        case single(String)
        case pattern(String)
        case folder(String, defaultExtension: String)
    }

    public let naming: Naming
    public private(set) var notes: [String] = []
    private let info: StreamInfo
    private let options: EncodeOptions
    private var encoders: [String: ImageEncoder] = [:]
    private var count = 0
    /// A single-image output is written at the end, once it is sure the input had only one frame.
    private var held: VideoFrame?

    public init(naming: Naming, info: StreamInfo, passthrough: [PassthroughStream] = [], options: EncodeOptions) throws {
        self.naming = naming
        self.info = info
        self.options = options
        switch naming {
        case .single(let path):
            _ = try encoder(for: path)
        case .pattern(let pattern):
            _ = try encoder(for: pattern)
        case .folder(let dir, _):
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw PipeError(dir, "cannot create folder: \((error as NSError).localizedDescription)")
            }
        }
        if !passthrough.isEmpty {
            notes.append("\(passthrough.map(\.kind).joined(separator: ", ")) dropped: image files hold pictures only")
        }
    }

    private func encoder(for path: String) throws -> ImageEncoder {
        let ext = fileExtension(path)
        if let e = encoders[ext] { return e }
        let e = try ImageEncoder(path: path, info: info, options: options)
        encoders[ext] = e
        return e
    }

    private func fileName(for frame: VideoFrame) throws -> String {
        switch naming {
        case .single(let path):
            return path
        case .pattern(let pattern):
            var buffer = [CChar](repeating: 0, count: 4096)
            guard av_get_frame_filename2(&buffer, Int32(buffer.count), pattern, Int32(count + 1), 0) >= 0 else {
                throw PipeError(pattern, "not a usable file name pattern")
            }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .folder(let dir, let ext):
            let name = frame.sourceName ?? String(format: "frame_%06d.%@", count + 1, ext)
            return (dir as NSString).appendingPathComponent(name)
        }
    }

    public func write(_ frame: VideoFrame) throws {
        if case .single(let path) = naming {
            guard held == nil else {
                throw PipeError(path, "is a single image but the input has more frames; write a pattern (out_%04d.png) or a folder (out/)")
            }
            held = frame
            return
        }
        try store(frame)
    }

    private func store(_ frame: VideoFrame) throws {
        let path = try fileName(for: frame)
        let data = try encoder(for: path).encode(frame, path: path)
        let output = try AtomicOutput(target: path, overwrite: options.overwrite)
        guard FileManager.default.createFile(atPath: output.temporary, contents: data) else {
            throw PipeError(path, "cannot write: \(String(cString: strerror(errno)))")
        }
        try output.commit()
        count += 1
    }

    public func write(_ packet: StreamPacket) throws {}

    public func finish() throws {
        if let frame = held {
            held = nil
            try store(frame)
        }
        if count == 0 { notes.append("no frames were written") }
    }

    public func abort() {}
}

/// One still-image encoder (png, jpeg, tiff, webp, bmp, ...) chosen by file extension.
final class ImageEncoder {
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private let pictureOwner = OwnedFrame()
    private var picture: UnsafeMutablePointer<AVFrame> { pictureOwner.pointer }
    private let packetOwner = OwnedPacket()
    private var packet: UnsafeMutablePointer<AVPacket> { packetOwner.pointer }
    private let converter = Converter()
    private let info: StreamInfo

    init(path: String, info: StreamInfo, options: EncodeOptions) throws {
        self.info = info
        guard let image2 = av_guess_format("image2", nil, nil) else { throw PipeError(path, "FFmpeg has no image writer") }
        let id = av_guess_codec(image2, nil, path, nil, AVMEDIA_TYPE_VIDEO)
        // For webp the default encoder is the animated one, which holds frames back; stills want libwebp.
        let codec = options.codec.flatMap { avcodec_find_encoder_by_name($0) }
            ?? (id == AV_CODEC_ID_WEBP ? avcodec_find_encoder_by_name("libwebp") : nil) ?? avcodec_find_encoder(id)
        guard id != AV_CODEC_ID_NONE || options.codec != nil, let codec else {
            throw PipeError(path, "cannot tell the image format from the extension (use .png, .jpg, .tif, .webp, .bmp)")
        }
        let pixFmt = try choosePixelFormat(codec: codec, requested: options.pixelFormat, info: info,
                                           preferSource: false, path: path)
        context = avcodec_alloc_context3(codec)
        let ctx = context!
        ctx.pointee.width = Int32(info.width)
        ctx.pointee.height = Int32(info.height)
        ctx.pointee.pix_fmt = pixFmt
        ctx.pointee.time_base = AVRational(num: 1, den: 25)
        ctx.pointee.sample_aspect_ratio = info.sampleAspectRatio.av
        ctx.pointee.color_range = AVCOL_RANGE_JPEG
        ctx.pointee.colorspace = info.color.matrix
        if codec.pointee.id == AV_CODEC_ID_MJPEG {
            ctx.pointee.flags |= AV_CODEC_FLAG_QSCALE
            ctx.pointee.global_quality = 2 * FF_QP2LAMBDA
        }
        let ret = avcodec_open2(ctx, codec, nil)
        if ret < 0 {
            avcodec_free_context(&context)
            throw PipeError(path, "cannot open the \(String(cString: codec.pointee.name)) encoder: \(averrorText(ret))")
        }
        picture.pointee.format = pixFmt.rawValue
        picture.pointee.width = Int32(info.width)
        picture.pointee.height = Int32(info.height)
        try check(av_frame_get_buffer(picture, 0), path, "out of memory for an image")
    }

    deinit {
        avcodec_free_context(&context)
    }

    /// The file's bytes for one frame.
    func encode(_ frame: VideoFrame, path: String) throws -> Data {
        try check(av_frame_make_writable(picture), path, "cannot get a frame buffer")
        try converter.fromFrame(frame, into: picture, matrix: info.color.matrix, range: AVCOL_RANGE_JPEG)
        picture.pointee.pts = Int64(frame.index)
        try check(avcodec_send_frame(context, picture), path, "encoding failed")
        var data = Data()
        while true {
            let ret = avcodec_receive_packet(context, packet)
            if ret == AVERROR_EAGAIN_ || ret == AVERROR_EOF_ { break }
            try check(ret, path, "encoding failed")
            data.append(packet.pointee.data, count: Int(packet.pointee.size))
            av_packet_unref(packet)
        }
        guard !data.isEmpty else { throw PipeError(path, "the encoder produced no image") }
        return data
    }
}
