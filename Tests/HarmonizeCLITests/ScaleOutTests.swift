import Foundation
import Testing

/// Scale-out (issue 16): a clip processed in parts over time ranges (`--start`, `--duration`), on
/// separate processes (GNU parallel), joined without re-encoding (`harmonize join`), equals a
/// single pass; the ranges are frame-accurate; join refuses parts that do not fit.
@Suite struct ScaleOutTests {
    /// The repository's root (deploy/ recipes are run from it).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The shipped model: its curves follow the picture (the fixture's barely move), so a part
    /// that saw other neighbours than the single pass would show it.
    let model = root.appendingPathComponent("models/harmonize.safetensors").path

    /// A 5 s clip with a scene cut at 2.6 s (a test pattern, then a zooming fractal) and a sine on
    /// AAC audio, and a soft mask box moving right across it, as its own clip.
    func media(_ ws: Workspace) throws {
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2.6,gblur=sigma=1",
                       "-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25,trim=duration=2.4,setpts=PTS-STARTPTS",
                       "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5",
                       "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]", "-map", "[v]", "-map", "2:a",
                       "-c:v", "libx264", "-crf", "12", "-c:a", "aac", "-b:a", "96k", ws.path("clip.mp4")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=5",
                       "-f", "lavfi", "-i", "color=white:size=100x120:rate=25",
                       "-filter_complex", "[0][1]overlay=x='30+30*t':y=60:shortest=1,gblur=sigma=2,format=gray",
                       "-c:v", "libx264", "-crf", "0", "-pix_fmt", "yuv420p", ws.path("mask.mp4")])
    }

    /// Mean absolute difference of two frames' bytes.
    func meanDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double(abs(Int($1.0) - Int($1.1))) } / Double(a.count)
    }

    /// The audio packets' times and sizes.
    func audioPackets(_ ws: Workspace, _ file: String) throws -> [String] {
        try ws.probe(file, ["-select_streams", "a:0", "-show_entries", "packet=pts,size"]).split(separator: "\n").map(String.init)
    }

    @Test func threeSegmentsThroughGNUParallelJoinIntoTheSinglePass() throws {
        let ws = try Workspace()
        try media(ws)
        // Lossless encoding: any difference left is the harmonization's, not the encoder's (a lossy
        // encoder decides each part's last frames without seeing the next part).
        let options = ["-m", "mask.mp4", "--model", model, "--crf", "0"]
        let single = try ws.harmonize(["clip.mp4", "-o", "single.mp4"] + options)
        #expect(single.status == 0, "\(single.stderrText)")
        #expect(single.stderrText.contains(" shots"), "the clip has a cut: \(single.stderrText)")

        // The plan: three ranges that tile the clip, frame counts adding up.
        let plan = try ws.harmonize(["plan", "clip.mp4", "--segments", "3", "-o", "joined.mp4", "--parts-dir", "parts", "--"] + options)
        #expect(plan.status == 0, "\(plan.stderrText)")
        let json = try JSONSerialization.jsonObject(with: plan.stdout) as? [String: Any]
        let segments = json?["segments"] as? [[String: Any]] ?? []
        #expect(segments.count == 3 && json?["frames"] as? Int == 125)
        #expect(segments.compactMap { $0["frames"] as? Int }.reduce(0, +) == 125)
        let starts = segments.compactMap { $0["start"] as? Double }, durations = segments.compactMap { $0["duration"] as? Double }
        #expect(starts.count == 3 && durations.count == 2 && abs(starts[0] + durations[0] - starts[1]) < 1e-9
                && abs(starts[1] + durations[1] - starts[2]) < 1e-9, "\(segments)")

        // The recipe of deploy/: plan, the segments as separate processes through GNU parallel, join.
        let run = try ws.run(Self.root.appendingPathComponent("deploy/parallel.sh").path, ["clip.mp4", "joined.mp4", "3"] + options,
                             environment: ["HARMONIZE": harmonizeBinary, "PARTS_DIR": "parts"])
        #expect(run.status == 0, "\(run.stderrText)")
        #expect(run.stderrText.contains("joined 3 parts, 125 frames"), "\(run.stderrText)")

        // Same frames, timestamps, audio and tags as the single pass.
        #expect(try ws.frameTimes(ws.path("joined.mp4")) == ws.frameTimes(ws.path("single.mp4")))
        #expect(try audioPackets(ws, "joined.mp4") == audioPackets(ws, "single.mp4"))
        #expect(try ws.probe("joined.mp4", ["-show_entries", "format_tags=comment"]) == ws.probe("single.mp4", ["-show_entries", "format_tags=comment"]))
        let a = try ws.frames(ws.path("single.mp4"), pixFmt: "rgb24"), b = try ws.frames(ws.path("joined.mp4"), pixFmt: "rgb24")
        #expect(a.count == 125 && b.count == 125)
        let differences = zip(a, b).map(meanDifference)
        let worst = differences.max() ?? .infinity
        #expect(worst <= 1, "every frame within 1 level of the single pass (worst \(worst))")
        // In fact identical: each part planned, inferred and smoothed its frames with the same
        // neighbours as the single pass. (Without the warm-up, 36 frames differed, by up to 0.21.)
        #expect(differences.filter { $0 > 0 }.count == 0, "frames that differ from the single pass: \(differences.enumerated().filter { $1 > 0 }.map(\.offset))")
        // No step in the temporal error at the seams (the frames where parts 2 and 3 begin).
        let seams = segments.dropFirst().compactMap { $0["start"] as? Double }.map { Int(($0 * 25).rounded()) }
        for t in seams {
            let joinedStep = meanDifference(b[t], b[t - 1]), singleStep = meanDifference(a[t], a[t - 1])
            #expect(abs(joinedStep - singleStep) <= 0.1, "seam at frame \(t): \(joinedStep) against \(singleStep)")
        }
    }

    /// Layers mode: the foreground clip and its matte clip over a background clip, in two parts.
    @Test func layersInTwoPartsJoinIntoTheSinglePass() throws {
        let ws = try Workspace()
        try media(ws)
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=5,hue=h=60*t", "-c:v", "libx264", "-crf", "12",
                       "-pix_fmt", "yuv420p", ws.path("plate.mp4")])
        let layers = ["--fg", "clip.mp4", "--fg-matte", "mask.mp4", "--bg", "plate.mp4", "--model", model, "--crf", "0"]
        let single = try ws.harmonize(layers + ["-o", "single.mp4"])
        #expect(single.status == 0, "\(single.stderrText)")
        for (name, range) in [("p0", ["--duration", "2.32"]), ("p1", ["--start", "2.32"])] {
            let r = try ws.harmonize(layers + range + ["-o", "\(name).mp4"])
            #expect(r.status == 0, "\(r.stderrText)")
        }
        let join = try ws.harmonize(["join", "p0.mp4", "p1.mp4", "--source", "clip.mp4", "-o", "joined.mp4"])
        #expect(join.status == 0 && join.stderrText.contains("125 frames"), "\(join.stderrText)")
        let a = try ws.frames(ws.path("single.mp4"), pixFmt: "rgb24"), b = try ws.frames(ws.path("joined.mp4"), pixFmt: "rgb24")
        #expect(a.count == 125 && b.count == 125)
        let differing = zip(a, b).enumerated().filter { $1.0 != $1.1 }.map(\.offset)
        #expect(differing.isEmpty, "frames that differ from the single pass: \(differing)")
    }

    /// A mask clip that ends before the part starts: its last frame holds there, as in one pass.
    @Test func aPartAfterTheMaskEndsHoldsItsLastFrameAsOnePassDoes() throws {
        let ws = try Workspace()
        try media(ws)
        try ws.ffmpeg(["-i", ws.path("mask.mp4"), "-t", "1", "-c", "copy", ws.path("short.mp4")])
        let options = ["-m", "short.mp4", "--model", model, "--crf", "0"]
        let single = try ws.harmonize(["clip.mp4", "-o", "single.mp4"] + options)
        #expect(single.status == 0 && single.stderrText.contains("short.mp4: mask ends"), "\(single.stderrText)")
        let part = try ws.harmonize(["clip.mp4", "--start", "3", "--duration", "1", "-o", "part.mp4"] + options)
        #expect(part.status == 0, "\(part.stderrText)")
        let a = try ws.frames(ws.path("single.mp4"), pixFmt: "rgb24"), b = try ws.frames(ws.path("part.mp4"), pixFmt: "rgb24")
        #expect(b.count == 25 && a.count == 125 && Array(a[75..<100]) == b, "frames 75-99 of the single pass")
    }

    /// An interrupted part writes nothing (join needs parts whole) and says so; status 130.
    @Test func anInterruptedPartWritesNothing() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.nut", seconds: 8, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: harmonizeBinary)
        p.arguments = ["-", "--start", "0.4", "-o", ws.path("part.mp4"), "--passthrough"]
        let feed = Pipe(), err = Pipe()
        p.standardInput = feed
        p.standardError = err
        try p.run()
        // The first third, then Ctrl-C while the tool waits for more on stdin.
        feed.fileHandleForWriting.write(bytes.prefix(bytes.count / 3))
        Thread.sleep(forTimeInterval: 2)
        p.interrupt()
        p.waitUntilExit()
        try? feed.fileHandleForWriting.close()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(p.terminationStatus): \(message)")
        #expect(message.contains("interrupted by SIGINT after") && message.contains("nothing written"), "\(message)")
        let left = try FileManager.default.contentsOfDirectory(atPath: ws.dir.path).filter { $0.contains("part") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aRangeIsFrameAccurateAndKeepsTimestampsAndAudio() throws {
        let ws = try Workspace()
        try media(ws)
        let r = try ws.harmonize(["clip.mp4", "--start", "00:00:01.2", "--duration", "0.8", "--passthrough", "--crf", "0", "-o", "part.mkv"])
        #expect(r.status == 0, "\(r.stderrText)")
        let times = try ws.frameTimes(ws.path("part.mkv"))
        #expect(times.count == 20 && abs(times[0] - 1.2) < 1e-6 && abs(times[19] - 1.96) < 1e-6, "\(times)")
        let source = try ws.frames(ws.path("clip.mp4"), pixFmt: "rgb24"), part = try ws.frames(ws.path("part.mkv"), pixFmt: "rgb24")
        #expect(part.count == 20 && zip(part, source[30..<50]).allSatisfy { $0 == $1 }, "frames 30-49 of the source, exactly")
        let audio = try ws.probe("part.mkv", ["-select_streams", "a:0", "-show_entries", "packet=pts_time"])
            .split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
        #expect(!audio.isEmpty && audio.allSatisfy { $0 >= 1.2 && $0 < 2.0 } && audio.first! < 1.23 && audio.last! > 1.97, "\(audio)")

        let past = try ws.harmonize(["clip.mp4", "--start", "7", "--passthrough", "-o", "none.mkv"])
        #expect(past.status == 1 && past.stderrText.contains("clip.mp4") && !FileManager.default.fileExists(atPath: ws.path("none.mkv")),
                "\(past.stderrText)")
        let bad = try ws.harmonize(["clip.mp4", "--start", "1:75", "--passthrough", "-o", "none.mkv"])
        #expect(bad.status != 0 && bad.stderrText.contains("--start"), "\(bad.stderrText)")
    }

    @Test func joinRefusesAGapAnOverlapPartsMadeUnlikeAndAMissingFrame() throws {
        let ws = try Workspace()
        try media(ws)
        for (name, range) in [("a", ["--duration", "1"]), ("b", ["--start", "1", "--duration", "1"]), ("c", ["--start", "2"]),
                              ("b2", ["--start", "0.96", "--duration", "1.04"])] {
            let r = try ws.harmonize(["clip.mp4", "--passthrough", "-o", "\(name).mp4"] + range)
            #expect(r.status == 0, "\(r.stderrText)")
        }
        let gap = try ws.harmonize(["join", "a.mp4", "c.mp4", "-o", "j.mp4"])
        #expect(gap.status == 1 && gap.stderrText.contains("c.mp4: a gap"), "\(gap.stderrText)")
        let overlap = try ws.harmonize(["join", "a.mp4", "b2.mp4", "-o", "j.mp4"])
        #expect(overlap.status == 1 && overlap.stderrText.contains("b2.mp4: an overlap"), "\(overlap.stderrText)")
        let harmonized = try ws.harmonize(["clip.mp4", "-m", "mask.mp4", "--model", model, "--start", "1", "--duration", "1", "-o", "h.mp4"])
        #expect(harmonized.status == 0, "\(harmonized.stderrText)")
        let unlike = try ws.harmonize(["join", "a.mp4", "h.mp4", "c.mp4", "-o", "j.mp4"])
        #expect(unlike.status == 1 && unlike.stderrText.contains("h.mp4: made unlike a.mp4"), "\(unlike.stderrText)")
        // Parts of another clip, or another source, than the first part's.
        try FileManager.default.copyItem(atPath: ws.path("clip.mp4"), toPath: ws.path("other.mp4"))
        let otherPart = try ws.harmonize(["other.mp4", "--passthrough", "--start", "1", "--duration", "1", "-o", "o.mp4"])
        #expect(otherPart.status == 0, "\(otherPart.stderrText)")
        let mixed = try ws.harmonize(["join", "a.mp4", "o.mp4", "c.mp4", "-o", "j.mp4"])
        #expect(mixed.status == 1 && mixed.stderrText.contains("is a part of"), "\(mixed.stderrText)")
        let wrongSource = try ws.harmonize(["join", "a.mp4", "b.mp4", "c.mp4", "--source", "other.mp4", "-o", "j.mp4"])
        #expect(wrongSource.status == 1 && wrongSource.stderrText.contains("other.mp4: is not the clip the parts were made from (clip.mp4"),
                "\(wrongSource.stderrText)")
        // A source with other frames over the same time (the clip at 50 fps): the count does not add up.
        try ws.ffmpeg(["-i", ws.path("clip.mp4"), "-vf", "fps=50", "-c:v", "libx264", "-crf", "30", "-c:a", "copy", ws.path("clip50.mp4")])
        try FileManager.default.createDirectory(atPath: ws.path("fast"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: ws.path("clip50.mp4"), toPath: ws.path("fast/clip.mp4"))
        let count = try ws.harmonize(["join", "a.mp4", "b.mp4", "c.mp4", "--source", "fast/clip.mp4", "-o", "j.mp4"])
        #expect(count.status == 1 && count.stderrText.contains("fast/clip.mp4: has 250 frames from 0.000 to 5.000 s, the parts 125: frames are missing"),
                "\(count.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("j.mp4")), "a refused join writes nothing")
        // In any order, the right parts join; the audio comes from the parts without --source.
        let good = try ws.harmonize(["join", "c.mp4", "a.mp4", "b.mp4", "-o", "j.mp4"])
        #expect(good.status == 0 && good.stderrText.contains("joined 3 parts, 125 frames"), "\(good.stderrText)")
        #expect(try ws.frameTimes(ws.path("j.mp4")).count == 125)
        #expect(try audioPackets(ws, "j.mp4").count == audioPackets(ws, "clip.mp4").count)
    }
}
