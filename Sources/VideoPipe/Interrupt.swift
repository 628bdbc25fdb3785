import CFFmpeg
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C and SIGTERM: the first one asks the source to stop reading, so the pipeline drains what is in
/// flight and finalizes the output (a playable file of what was processed); a second one exits at once.
/// The process then exits with 128 + the first signal's number (130 for SIGINT, 143 for SIGTERM), as
/// shells do, so that a script can tell a partial output from a complete one.
public enum Interrupt {
    private static let count = Atomic<Int>(0)
    private static let firstSignal = Atomic<Int32>(0)

    public static var isRequested: Bool { count.load(ordering: .relaxed) > 0 }

    /// Asks sources to stop as a signal would (for embedding and tests).
    public static func request() { count.add(1, ordering: .relaxed) }

    /// The signal that stopped the run (SIGINT when `request()` did).
    public static var signal: Int32 {
        let s = firstSignal.load(ordering: .relaxed)
        return s == 0 ? SIGINT : s
    }

    /// 128 + the signal's number: the exit status of an interrupted run.
    public static var exitStatus: Int32 { 128 + signal }

    /// SIGINT, SIGTERM or the number, for messages.
    public static var signalName: String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }

    public static func installHandlers() {
        cff_install_stop_handler { signal in
            _ = Interrupt.firstSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
            if Interrupt.count.add(1, ordering: .relaxed).newValue > 1 { _exit(128 + signal) }
        }
    }

    /// For FFmpeg's blocking I/O on inputs: a nonzero return aborts the read.
    static let avioCallback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { _ in
        Interrupt.isRequested ? 1 : 0
    }
}

/// FFmpeg's own console messages: off by default (the pipeline reports problems in one line each),
/// on with `verbose` for diagnosing a file.
public func setFFmpegLogging(verbose: Bool) {
    av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_FATAL)
}
