import CFFmpeg
import Foundation

/// How sinks encode: the user's encoder choices, each nil for "the sensible default for this output".
public struct EncodeOptions: Sendable {
    /// Encoder name (`libx264`, `prores_ks`, `ffv1`, ...). Default: libx264 for video files
    /// (the container's own codec where h264 does not fit), rawvideo on stdout, png/mjpeg for images.
    public var codec: String?
    /// Constant rate factor for encoders that have one (x264, x265, vpx). Default 18.
    public var crf: Int?
    /// Encoder preset for encoders that have one. Default `veryfast`.
    public var preset: String?
    /// Output pixel format. Default: yuv420p for libx264 (yuv420p10le for deeper sources), otherwise
    /// the encoder's closest match to the source.
    public var pixelFormat: String?
    /// Container for standard output: nut (default), matroska, y4m.
    public var format: String?
    /// Replace existing outputs.
    public var overwrite: Bool
    /// The container's comment tag (video outputs): what made the file.
    public var comment: String?

    public init(codec: String? = nil, crf: Int? = nil, preset: String? = nil, pixelFormat: String? = nil,
                format: String? = nil, overwrite: Bool = false, comment: String? = nil) {
        self.comment = comment
        self.codec = codec
        self.crf = crf
        self.preset = preset
        self.pixelFormat = pixelFormat
        self.format = format
        self.overwrite = overwrite
    }
}

/// Output goes to a hidden file beside the target and is renamed into place only when complete,
/// so a failed or refused run never leaves a half-written file under the user's name.
struct AtomicOutput {
    let target: String
    let temporary: String

    let overwrite: Bool

    init(target: String, overwrite: Bool) throws {
        self.overwrite = overwrite
        if !overwrite && FileManager.default.fileExists(atPath: target) {
            throw PipeError(target, "already exists (use -y to overwrite)")
        }
        let url = URL(fileURLWithPath: target)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw PipeError(target, "folder \(dir) does not exist")
        }
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().lastPathComponent
        self.target = target
        self.temporary = dir + "/.\(stem).partial-\(getpid())" + (ext.isEmpty ? "" : ".\(ext)")
        Self.removeStaleTemporaries(dir: dir, stem: stem, ext: ext)
    }

    /// A run killed outright (kill -9, a power cut) cannot remove its temporary: the next run writing
    /// the same output removes those whose process no longer exists (a live one is another run's).
    static func removeStaleTemporaries(dir: String, stem: String, ext: String) {
        let prefix = ".\(stem).partial-", suffix = ext.isEmpty ? "" : ".\(ext)"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            guard let pid = pid_t(digits), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + name) }
        }
    }

    func commit() throws {
        if !overwrite {
            // link() fails if the target appeared meanwhile (another run), where rename() would replace it.
            if link(temporary, target) == 0 {
                unlink(temporary)
                return
            }
            if errno == EEXIST {
                unlink(temporary)
                throw PipeError(target, "appeared while this run was writing it; not overwritten (use -y to overwrite)")
            }
            // Filesystems without hard links: fall through to rename.
        }
        if rename(temporary, target) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw PipeError(target, "cannot move the finished output into place: \(reason)")
        }
    }

    func discard() { unlink(temporary) }
}

/// The encoder's supported pixel formats (nil when it accepts any).
func supportedFormats(_ codec: UnsafePointer<AVCodec>) -> [AVPixelFormat]? {
    guard var p = codec.pointee.pix_fmts else { return nil }
    var list: [AVPixelFormat] = []
    while p.pointee != AV_PIX_FMT_NONE { list.append(p.pointee); p += 1 }
    return list
}

/// Picks the encoder's pixel format: the user's (checked), else a default that keeps depth and alpha.
func choosePixelFormat(codec: UnsafePointer<AVCodec>, requested: String?, info: StreamInfo,
                       preferSource: Bool, path: String) throws -> AVPixelFormat {
    let name = String(cString: codec.pointee.name)
    let formats = supportedFormats(codec)
    if let requested {
        let f = av_get_pix_fmt(requested)
        guard f != AV_PIX_FMT_NONE else { throw PipeError(path, "unknown pixel format \(requested)") }
        if let formats, !formats.contains(f) {
            throw PipeError(path, "\(name) cannot encode \(requested) (it takes \(formats.map(pixFmtName).joined(separator: ", ")))")
        }
        return f
    }
    let source = info.sourceAVPixelFormat
    if name == "libx264" || name == "libx265" {
        let wanted = info.bitDepth > 8 ? AV_PIX_FMT_YUV420P10LE : AV_PIX_FMT_YUV420P
        if formats?.contains(wanted) ?? true { return wanted }
        return AV_PIX_FMT_YUV420P
    }
    let preferred = preferSource && source != AV_PIX_FMT_NONE ? source : info.layout.avFormat
    guard let formats else { return preferred }
    if formats.contains(preferred) { return preferred }
    return closestFormat(in: formats, to: preferred, alpha: info.layout.hasAlpha)
}

/// FFmpeg's pick of the format in `formats` that loses least of `format` (AV_PIX_FMT_NONE for none).
func closestFormat(in formats: [AVPixelFormat], to format: AVPixelFormat, alpha: Bool) -> AVPixelFormat {
    var loss: Int32 = 0
    return (formats + [AV_PIX_FMT_NONE]).withUnsafeBufferPointer {
        avcodec_find_best_pix_fmt_of_list($0.baseAddress, format, alpha ? 1 : 0, &loss)
    }
}

/// Whether `format` stores chroma at half width or height (so the picture needs even sides).
func isChromaSubsampled(_ format: AVPixelFormat) -> Bool {
    guard let d = av_pix_fmt_desc_get(format) else { return false }
    return d.pointee.log2_chroma_w > 0 || d.pointee.log2_chroma_h > 0
}

/// For a picture with an odd side: the encoder's best format with full-resolution chroma, near
/// `format` in depth and alpha (yuv420p -> yuv444p), or nil when the encoder has none.
func fullChromaAlternative(codec: UnsafePointer<AVCodec>, to format: AVPixelFormat, info: StreamInfo) -> AVPixelFormat? {
    let full = (supportedFormats(codec) ?? []).filter { !isChromaSubsampled($0) }
    let wanted = av_get_pix_fmt(info.bitDepth > 8 ? "yuv444p10le" : "yuv444p")
    if full.contains(wanted) { return wanted }
    let best = closestFormat(in: full, to: format, alpha: info.layout.hasAlpha)
    return best == AV_PIX_FMT_NONE ? nil : best
}

/// Sets crf and preset where the encoder has such options; returns notes for those it does not.
func applyRateOptions(_ options: EncodeOptions, to encoder: UnsafeMutablePointer<AVCodecContext>,
                      defaults: Bool) -> [String] {
    var notes: [String] = []
    let name = String(cString: encoder.pointee.codec.pointee.name)
    func has(_ option: String) -> Bool {
        guard let priv = encoder.pointee.priv_data else { return false }
        return av_opt_find(priv, option, nil, 0, 0) != nil
    }
    let crf = options.crf ?? (defaults ? 18 : nil)
    let preset = options.preset ?? (defaults ? "veryfast" : nil)
    if let crf {
        if has("crf") {
            av_opt_set(encoder.pointee.priv_data, "crf", String(crf), 0)
            if name.hasPrefix("libvpx") { encoder.pointee.bit_rate = 0 }
        } else if options.crf != nil {
            notes.append("--crf is ignored: \(name) has no crf")
        }
    }
    if let preset {
        if has("preset") {
            av_opt_set(encoder.pointee.priv_data, "preset", preset, 0)
        } else if options.preset != nil {
            notes.append("--preset is ignored: \(name) has no preset")
        }
    }
    return notes
}
