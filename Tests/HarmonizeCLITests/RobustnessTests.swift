import Foundation
import Testing

/// Cut-off input, interruption and bad arguments: outputs stay valid, errors are one line, exit non-zero.
@Suite struct RobustnessTests {
    @Test func truncatedInputLeavesPlayableOutput() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("full.mkv", seconds: 4, codec: ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10"])
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: ws.path("cut.mkv")))
        let r = try ws.harmonize([ws.path("cut.mkv"), "-o", ws.path("out.mp4"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        // Said, although the demuxer meets a plain end of file (it was silent before).
        #expect(r.stderrText.contains(/cut\.mkv: input ends at \d\.\d\d s of the 4\.00 s it declares \(cut off\?\); keeping what was decoded/),
                "\(r.stderrText)")
        let decoded = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", ws.path("out.mp4"), "-f", "null", "-"])
        #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderrText)")
        let n = try ws.frameTimes(ws.path("out.mp4")).count
        #expect(n > 20 && n < 100, "\(n) frames")
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == data, "input was modified")
    }

    /// Ctrl-C or SIGTERM: a playable file of what was processed, and the exit status says it is partial
    /// (128 + the signal, as shells report it; it was 0 before).
    @Test(arguments: [("SIGINT", Int32(130)), ("SIGTERM", Int32(143))])
    func interruptMidClipLeavesPlayableOutput(signal: String, status: Int32) throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.nut", seconds: 8, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: harmonizeBinary)
        p.arguments = ["-", "-o", ws.path("out.mp4"), "--passthrough"]
        let feed = Pipe()
        let err = Pipe()
        p.standardInput = feed
        p.standardError = err
        try p.run()
        // Feed the first third, then interrupt while the tool waits for more on stdin.
        feed.fileHandleForWriting.write(bytes.prefix(bytes.count / 3))
        Thread.sleep(forTimeInterval: 2)
        if signal == "SIGINT" { p.interrupt() } else { p.terminate() }
        p.waitUntilExit()
        try? feed.fileHandleForWriting.close()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == status, "\(p.terminationStatus): \(message)")
        #expect(message.contains("interrupted by \(signal) after frame "), "\(message)")
        let decoded = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", ws.path("out.mp4"), "-f", "null", "-"])
        #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderrText)")
        let n = try ws.frameTimes(ws.path("out.mp4")).count
        #expect(n > 10 && n < 200, "\(n) frames")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ws.dir.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
    }

    /// A 4 s x264 clip in.mkv, and bad.mkv: the same with `flips` bytes inverted at fixed scattered
    /// places from 40 % of the file over `overPercent` % of it (inside the mkv's clusters).
    func damagedClip(_ ws: Workspace, flips: Int, overPercent: Int) throws -> String {
        // One encoder thread: x264's output depends on its thread count, and the bytes flipped must
        // land in the same places on every machine.
        let clip = try ws.makeClip("in.mkv", seconds: 4, codec: ["-c:v", "libx264", "-threads", "1", "-pix_fmt", "yuv420p", "-g", "25"])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
        var state: UInt64 = 1
        for _ in 0..<flips {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[bytes.count * 40 / 100 + Int(state >> 33) % (bytes.count * overPercent / 100)] ^= 0xff
        }
        try Data(bytes).write(to: URL(fileURLWithPath: ws.path("bad.mkv")))
        return clip
    }

    /// Ctrl-C on a file (here a named pipe, so that the run is caught mid-clip) is an interruption,
    /// not a file cut off: no "cut off?" note (there was one, the reader taking the end it met for
    /// the file's).
    @Test func ctrlCOnAFileIsNotTakenForACutOff() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.mkv", seconds: 8, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let fifo = ws.path("feed.mkv")
        try #require(mkfifo(fifo, 0o600) == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: harmonizeBinary)
        p.arguments = [fifo, "-o", ws.path("out.mp4"), "--passthrough"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let feed = try #require(FileHandle(forWritingAtPath: fifo))     // once the tool opens it
        feed.write(bytes.prefix(bytes.count / 3))
        Thread.sleep(forTimeInterval: 2)
        p.interrupt()
        try? feed.close()               // a read blocked on the pipe returns
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(p.terminationStatus): \(message)")
        #expect(message.contains("interrupted by SIGINT after frame "), "\(message)")
        #expect(!message.contains("cut off"), "\(message)")
    }

    /// A clip damaged in the middle (bytes flipped inside the mkv's clusters): FFmpeg conceals the damage
    /// and so do we, but now with one warning that counts it (it went by without a word), and --strict
    /// stops at the first damaged frame with a one-line error.
    @Test func damagedClipIsCountedAndStrictStops() throws {
        let ws = try Workspace()
        let clip = try damagedClip(ws, flips: 200, overPercent: 30)
        let clean = try ws.harmonize([clip, "-o", ws.path("clean.mp4"), "--passthrough"])
        #expect(clean.status == 0 && !clean.stderrText.contains("damaged"), "\(clean.stderrText)")
        let r = try ws.harmonize([ws.path("bad.mkv"), "-o", ws.path("out.mp4"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        let warning = r.stderrText.split(separator: "\n").filter { $0.contains("damaged input") }
        #expect(warning.count == 1, "\(r.stderrText)")
        #expect(warning.first?.contains(/bad\.mkv: damaged input: \d+ (decoding errors?|frames? decoded with errors|packets? could not be decoded).*the first (at|near) \d+\.\d{3} s/) == true,
                "\(r.stderrText)")
        let decoded = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", ws.path("out.mp4"), "-f", "null", "-"])
        #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderrText)")
        let strict = try ws.harmonize([ws.path("bad.mkv"), "-o", ws.path("strict.mp4"), "--passthrough", "--strict"])
        let lines = strict.stderrText.split(separator: "\n")
        #expect(strict.status == 1 && lines.count == 1 && lines[0].contains("bad.mkv: damaged input:") && lines[0].contains("--strict"),
                "\(strict.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("strict.mp4")))
    }

    /// A light damage (40 flipped bytes) is counted the same on every run, as the errors FFmpeg's
    /// decoder reports (as many as `ffmpeg -v error` prints), and --strict stops on it every time.
    /// Fails on the old code, which counted the frames the decoder flagged: with frame threads 4 to
    /// 10 of them from run to run on this file, and on a lighter damage sometimes none.
    @Test func lightDamageIsCountedTheSameOnEveryRun() throws {
        let ws = try Workspace()
        _ = try damagedClip(ws, flips: 40, overPercent: 10)
        // FFmpeg's own decode of it, every message shown ("repeat": no "Last message repeated").
        let reference = try ws.run("/usr/bin/env", ["ffmpeg", "-nostdin", "-loglevel", "repeat+error", "-i", ws.path("bad.mkv"), "-f", "null", "-"])
        let errors = reference.stderrText.split(separator: "\n").filter { $0.hasPrefix("[h264 @") }.count
        try #require(errors > 0, "the damage should make the decoder report errors: \(reference.stderrText)")
        for run in 0..<3 {
            let r = try ws.harmonize([ws.path("bad.mkv"), "-o", ws.path("out.mp4"), "--passthrough", "-y"])
            let counted = r.stderrText.firstMatch(of: /bad\.mkv: damaged input: (\d+) decoding errors? \(concealed\)/).map { Int($0.1) }
            #expect(r.status == 0 && counted == errors, "run \(run): \(errors) errors expected: \(r.stderrText)")
            let strict = try ws.harmonize([ws.path("bad.mkv"), "-o", ws.path("strict.mp4"), "--passthrough", "--strict"])
            #expect(strict.status == 1 && strict.stderrText.contains("damaged input:") && strict.stderrText.contains("(--strict)"),
                    "run \(run): \(strict.stderrText)")
        }
    }

    /// kill -9 leaves `.NAME.partial-PID.ext` behind; the next run writing NAME removes it, but not the
    /// temporary of a run that is still going (fails on the old code: the dead one stayed for ever).
    @Test func staleTemporariesOfDeadRunsAreRemoved() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mp4", seconds: 0.4)
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()                                  // its PID now belongs to no process
        let stale = ws.path(".out.partial-\(gone.processIdentifier).mp4")
        let live = ws.path(".out.partial-\(ProcessInfo.processInfo.processIdentifier).mp4")   // this test runner
        let other = ws.path(".other.partial-\(gone.processIdentifier).mp4")                    // another output's
        for f in [stale, live, other] { try Data("half a file".utf8).write(to: URL(fileURLWithPath: f)) }
        let r = try ws.harmonize([clip, "-o", ws.path("out.mp4"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: stale), "a dead run's temporary was left behind")
        #expect(FileManager.default.fileExists(atPath: live), "a running process's temporary was removed")
        #expect(FileManager.default.fileExists(atPath: other), "another output's temporary was removed")
    }

    @Test func badInputsGiveOneLineErrors() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mp4", seconds: 0.5)
        try Data("this is not a video".utf8).write(to: URL(fileURLWithPath: ws.path("junk.mp4")))
        // A png cut off after its header: the reader's own first decode (no probe) must say so.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", ws.path("whole.png")])
        try Data(contentsOf: URL(fileURLWithPath: ws.path("whole.png"))).prefix(200).write(to: URL(fileURLWithPath: ws.path("cut.png")))
        try FileManager.default.removeItem(atPath: ws.path("whole.png"))
        let cases: [([String], String)] = [
            (["missing.mp4", "-o", ws.path("o.mp4")], "missing.mp4: no such file"),
            ([ws.path("junk.mp4"), "-o", ws.path("o.mp4")], "junk.mp4: cannot open"),
            ([ws.path("cut.png"), "-o", ws.path("o.png")], "cut.png: no picture could be decoded"),
            ([ws.path("nothing_%04d.png"), "-o", ws.path("o.mp4")], "nothing_%04d.png: no files match this pattern"),
            ([clip, "-o", ws.path("junk.mp4")], "junk.mp4: already exists (use -y to overwrite)"),
            ([clip, "-o", clip], "in.mp4: is also the input"),
            ([clip, "-o", ws.path("o.xyz")], "o.xyz: cannot tell the container from the extension"),
            ([clip, "-o", ws.path("o.mp4"), "--codec", "nope"], "o.mp4: no video encoder named nope"),
            ([clip, "-o", ws.path("o.mp4"), "--pix-fmt", "nope"], "o.mp4: unknown pixel format nope"),
            ([clip, "-o", ws.path("still.png")], "still.png: is a single image but the input has more frames"),
            ([clip, "-o", ws.path("nodir/o.mp4")], "does not exist"),
            ([clip, "-o", clip, "-y"], "in.mp4: is also the input"),
            ([clip, "-o", "/proc/o.mp4"], "/proc/o.mp4: cannot open for writing"),
        ]
        for (args, expected) in cases {
            let r = try ws.harmonize(args + ["--passthrough"])
            let lines = r.stderrText.split(separator: "\n")
            #expect(r.status != 0, "\(args)")
            #expect(lines.count == 1 && r.stderrText.contains(expected), "\(args): \(r.stderrText)")
        }
        // Nothing half-written is left behind, and the refused overwrite left the file alone.
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.dir.path).sorted()
        #expect(names == ["cut.png", "in.mp4", "junk.mp4"])
        #expect(try ws.frameTimes(clip).count > 0, "the input survived")
    }

    @Test func progressOnlyOnATerminal() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mp4", seconds: 2)
        // Not a terminal: the summary line only.
        let plain = try ws.harmonize([clip, "-o", ws.path("a.mp4"), "--passthrough"])
        #expect(plain.status == 0 && !plain.stderrText.contains("\r") && plain.stderrText.split(separator: "\n").count == 1)
        // On a terminal (script(1) gives it one): a redrawn progress line, then the summary.
        let command = "\(harmonizeBinary) \(clip) -o \(ws.path("b.mp4")) --passthrough --threads 1"
        let tty = try ws.run("/usr/bin/script", ["-qec", command, "/dev/null"])
        let text = String(decoding: tty.stdout, as: UTF8.self)
        #expect(tty.status == 0, "\(text)")
        #expect(text.contains("\rharmonize: [") && text.contains("frames in"), "\(text)")
        #expect(try ws.harmonize([clip, "-o", ws.path("c.mp4"), "--passthrough", "-q"]).stderr.isEmpty)
    }

    @Test func overwriteNeedsY() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mkv", seconds: 0.5)
        try Data("old".utf8).write(to: URL(fileURLWithPath: ws.path("out.mkv")))
        #expect(try ws.harmonize([clip, "-o", ws.path("out.mkv"), "--passthrough"]).status != 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: ws.path("out.mkv"))) == Data("old".utf8))
        #expect(try ws.harmonize([clip, "-o", ws.path("out.mkv"), "--passthrough", "-y"]).status == 0)
        #expect(try ws.frameTimes(ws.path("out.mkv")) == ws.frameTimes(clip))
    }
}
