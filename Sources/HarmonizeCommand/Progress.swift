import Foundation
import VideoPipe
#if canImport(Glibc)
import Glibc
#endif

/// A progress line on stderr (frames, fps, ETA when the total is known), redrawn at most 4 times a
/// second; only when stderr is a terminal. Called from the sink thread.
final class ProgressLine: @unchecked Sendable {
    private let total: Int?
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var frames = 0
    private var drawn = false

    static var enabled: Bool { isatty(2) != 0 }

    init(total: Int?) { self.total = total.flatMap { $0 > 0 ? $0 : nil } }

    func frameWritten() {
        frames += 1
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.25 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let fps = elapsed > 0 ? Double(frames) / elapsed : 0
        var line = "harmonize: \(frames) frames"
        var eta = ""
        if let total {
            let done = min(1, Double(frames) / Double(total))
            let width = 24, filled = Int(done * Double(width))
            line = "harmonize: [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                + "] \(frames)/\(total) frames"
            if fps > 0 && frames < total { eta = String(format: "  ETA %.0f s", Double(total - frames) / fps) }
        }
        line += String(format: "  %.1f fps", fps) + eta
        FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
        drawn = true
    }

    /// Clears the line before the summary.
    func end() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
