import CDecoderLog
import CFFmpeg
import Synchronization

/// The errors a decoder reports through FFmpeg's log (a macroblock it could not decode, a missing
/// reference), counted per decoder whether or not the log is shown. Which damaged frames a decoder
/// also flags (`decode_error_flags`) varies from run to run with frame threads (2 to 5 of the same 5,
/// and once none); what it logs does not, so this count is the one the damage warning and `--strict`
/// go by.
final class DecoderErrors: Sendable {
    private let count = Atomic<Int>(0)

    var total: Int { count.load(ordering: .relaxed) }

    /// Counts what `decoder` logs from now on; call before `avcodec_open2`, which copies the context
    /// (and this) into each of its frame threads. The caller keeps this object alive, and the
    /// decoder must be freed before it is.
    func watch(_ decoder: UnsafeMutablePointer<AVCodecContext>) {
        _ = logCallbackInstalled
        decoder.pointee.opaque = Unmanaged.passUnretained(self).toOpaque()
    }

    fileprivate func add() { count.add(1, ordering: .relaxed) }
}

/// Installed once, on the first decoder watched.
private let logCallbackInstalled: Void = hz_count_decoder_errors { opaque in
    if let opaque { Unmanaged<DecoderErrors>.fromOpaque(opaque).takeUnretainedValue().add() }
}
