import CFFmpeg

/// A failure in frame I/O, phrased for a one-line message: what failed, for which file (and stream or frame).
public struct PipeError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// FFmpeg's text for an error code (`av_err2str` is a macro Swift cannot call).
func averrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    av_strerror(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Throws a `PipeError` naming `path` and the step when an FFmpeg call returned a negative code.
@discardableResult
func check(_ code: Int32, _ path: String, _ step: @autoclosure () -> String) throws -> Int32 {
    if code < 0 { throw PipeError(path, "\(step()): \(averrorText(code))") }
    return code
}

let AVERROR_EOF_ = cff_averror_eof()
let AVERROR_EAGAIN_ = cff_averror_eagain()
let AV_NOPTS = cff_nopts()

/// An AVFrame freed with its owner (also when the owner's initializer throws part-way).
final class OwnedFrame {
    let pointer: UnsafeMutablePointer<AVFrame> = av_frame_alloc()!
    deinit { var p: UnsafeMutablePointer<AVFrame>? = pointer; av_frame_free(&p) }
}

/// An AVPacket freed with its owner.
final class OwnedPacket {
    let pointer: UnsafeMutablePointer<AVPacket> = av_packet_alloc()!
    deinit { var p: UnsafeMutablePointer<AVPacket>? = pointer; av_packet_free(&p) }
}
