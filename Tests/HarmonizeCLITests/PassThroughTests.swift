import Foundation
import Testing

/// The decode -> process -> encode path through the built binary with an identity stage: every
/// source and sink kind must reproduce the frames (lossless encoders), their count and timestamps.
@Suite struct PassThroughTests {
    @Test func videoFileToLosslessFileKeepsFramesAndTimes() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.mp4")
        let r = try ws.harmonize([input, "-o", ws.path("out.mkv"), "--codec", "ffv1", "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("out.mkv"), ["-select_streams", "v:0", "-show_entries", "stream=codec_name,pix_fmt"]) == "ffv1,yuv420p")
        // Bit for bit: the decoded planes go to the encoder as they are.
        #expect(try ws.frames(ws.path("out.mkv"), pixFmt: "yuv420p") == ws.frames(input, pixFmt: "yuv420p"))
        #expect(try ws.frameTimes(ws.path("out.mkv")) == ws.frameTimes(input))
    }

    /// Containers and codecs users bring: each decoded, passed through and written losslessly.
    @Test(arguments: [
        ("in.webm", ["-c:v", "libvpx-vp9", "-lossless", "1", "-pix_fmt", "yuv420p"]),
        ("in.avi", ["-c:v", "mpeg4", "-q:v", "1", "-pix_fmt", "yuv420p"]),
        ("in.y4m", ["-pix_fmt", "yuv420p"]),
        ("in.mkv", ["-c:v", "libx265", "-x265-params", "log-level=error", "-crf", "10", "-pix_fmt", "yuv420p"]),
        ("in.ts", ["-c:v", "libx264", "-crf", "8", "-pix_fmt", "yuv420p"]),
    ])
    func containerAndCodecKinds(name: String, codec: [String]) throws {
        let ws = try Workspace()
        let input = try ws.makeClip(name, seconds: 0.6, codec: codec)
        let r = try ws.harmonize([input, "-o", ws.path("out.mkv"), "--codec", "ffv1", "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, input, ws.path("out.mkv"), pixFmt: "yuv420p")
    }

    /// Still-image formats in, png out (lossless formats exactly).
    @Test(arguments: [("still.bmp", Double.infinity), ("still.tiff", .infinity), ("still.webp", 30), ("still.exr", 40)])
    func imageKinds(name: String, minPSNR: Double) throws {
        let ws = try Workspace()
        let extra = name.hasSuffix("exr") ? ["-pix_fmt", "gbrpf32le"] : (name.hasSuffix("webp") ? [] : ["-pix_fmt", "rgb24"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=120x90", "-frames:v", "1"] + extra + [ws.path(name)])
        let r = try ws.harmonize([ws.path(name), "-o", ws.path("out.png"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, ws.path(name), ws.path("out.png"), pixFmt: "rgb24", minPSNR: minPSNR)
    }

    @Test func tenBitSourceStaysTenBit() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in10.mkv", codec: ["-c:v", "libx264", "-crf", "8", "-pix_fmt", "yuv420p10le"])
        let r = try ws.harmonize([input, "-o", ws.path("out.mkv"), "--codec", "ffv1", "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("out.mkv"), ["-select_streams", "v:0", "-show_entries", "stream=pix_fmt"]) == "yuv420p10le")
        try expectSameFrames(ws, input, ws.path("out.mkv"), pixFmt: "yuv420p10le")
    }

    @Test func defaultVideoEncodeIsH264Yuv420() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.mov", codec: ["-c:v", "prores_ks", "-pix_fmt", "yuv422p10le"])
        let r = try ws.harmonize([input, "-o", ws.path("out.mp4"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("out.mp4"), ["-select_streams", "v:0", "-show_entries", "stream=codec_name,pix_fmt"]) == "h264,yuv420p10le")
        try expectSameFrames(ws, input, ws.path("out.mp4"), pixFmt: "rgb24", minPSNR: 35)
        #expect(try ws.frameTimes(ws.path("out.mp4")) == ws.frameTimes(input))
    }

    @Test func rgbPatternToPatternIsExact() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-frames:v", "12", ws.path("shot_%03d.png")])
        let r = try ws.harmonize([ws.path("shot_%03d.png"), "-o", ws.path("out_%04d.png"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(FileManager.default.fileExists(atPath: ws.path("out_0012.png")))
        #expect(!FileManager.default.fileExists(atPath: ws.path("out_0013.png")))
        try expectSameFrames(ws, ws.path("shot_%03d.png"), ws.path("out_%04d.png"), pixFmt: "rgb24", minPSNR: .infinity)
        // A pattern takes its frame rate from --fps.
        let r2 = try ws.harmonize([ws.path("shot_%03d.png"), "-o", ws.path("clip.mkv"), "--fps", "12", "--passthrough"])
        #expect(r2.status == 0, "\(r2.stderrText)")
        #expect(try ws.probe(ws.path("clip.mkv"), ["-select_streams", "v:0", "-show_entries", "stream=r_frame_rate"]) == "12/1")
    }

    @Test func rgbaImagesKeepAlpha() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-vf", "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='X*2'",
                       "-frames:v", "3", ws.path("a_%d.png")])
        let r = try ws.harmonize([ws.path("a_%d.png"), "-o", ws.path("o_%d.png"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("o_1.png"), ["-show_entries", "stream=pix_fmt"]) == "rgba")
        try expectSameFrames(ws, ws.path("a_%d.png"), ws.path("o_%d.png"), pixFmt: "rgba", minPSNR: .infinity)
    }

    @Test func singleImageInAndOut() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=200x150", "-frames:v", "1", ws.path("still.png")])
        try ws.ffmpeg(["-i", ws.path("still.png"), "-q:v", "2", ws.path("still.jpg")])
        var r = try ws.harmonize([ws.path("still.png"), "-o", ws.path("out.png"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, ws.path("still.png"), ws.path("out.png"), pixFmt: "rgb24", minPSNR: .infinity)
        r = try ws.harmonize([ws.path("still.jpg"), "-o", ws.path("fromjpg.png"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, ws.path("still.jpg"), ws.path("fromjpg.png"), pixFmt: "rgb24", minPSNR: 40)
        for ext in ["jpg", "webp"] {
            r = try ws.harmonize([ws.path("still.png"), "-o", ws.path("out.\(ext)"), "--passthrough"])
            #expect(r.status == 0, "\(r.stderrText)")
            try expectSameFrames(ws, ws.path("still.png"), ws.path("out.\(ext)"), pixFmt: "rgb24", minPSNR: 25)
        }
    }

    @Test func aFolderOfMixedSizesIsFittedToTheFirstImageAndSaysSo() throws {
        let ws = try Workspace()
        let src = ws.path("frames")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=128x96:rate=10", "-frames:v", "2", "\(src)/a%d.png"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-frames:v", "3", "\(src)/b%d.png"])
        let r = try ws.harmonize([src, "-o", ws.path("out") + "/", "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        // One note for the lot: the first image of another size named, the others counted.
        #expect(r.stderrText.contains("\(src)/b1.png: 64x48, scaled to 128x96 (the first image's size) (and 2 more image(s) of another size)"),
                "\(r.stderrText)")
        for name in ["a1", "a2", "b1", "b2", "b3"] {
            #expect(try ws.probe(ws.path("out/\(name).png"), ["-show_entries", "stream=width,height"]) == "128,96", "\(name).png")
        }
        // The scaled one is the input scaled, not a blank frame.
        try ws.ffmpeg(["-i", "\(src)/b1.png", "-vf", "scale=128:96", ws.path("b1-scaled.png")])
        try expectSameFrames(ws, ws.path("b1-scaled.png"), ws.path("out/b1.png"), pixFmt: "rgb24", minPSNR: 20)
    }

    /// A folder of masks all of one size, another than the input's: one note that the mask is
    /// scaled, none per image (each was taken for an image of another size than the first).
    @Test func aMaskFolderOfAnotherSizeIsOneNote() throws {
        let ws = try Workspace()
        for (dir, size) in [("frames", "128x96"), ("masks", "64x48")] {
            try FileManager.default.createDirectory(atPath: ws.path(dir), withIntermediateDirectories: true)
            try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=10", "-frames:v", "3", "\(ws.path(dir))/f%d.png"])
        }
        let r = try ws.harmonize([ws.path("frames"), "-m", ws.path("masks"), "-o", ws.path("out") + "/", "--model", HarmonizeTests.fixtureModel])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("mask is 64x48, scaled to 128x96"), "\(r.stderrText)")
        #expect(!r.stderrText.contains("first image"), "\(r.stderrText)")
    }

    @Test func folderInFolderOutKeepsNamesInNaturalOrder() throws {
        let ws = try Workspace()
        let src = ws.path("frames")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        // Frames 1..12 named without padding: a plain sort would put frame10 before frame2.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=128x96:rate=10", "-frames:v", "12", "\(src)/frame%d.png"])
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(src)/notes.txt"))
        let r = try ws.harmonize([src, "-o", ws.path("out") + "/", "--passthrough", "--fps", "10"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("ignoring 1 file(s) that are not images (notes.txt)"))
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.path("out")).sorted()
        #expect(names == (1...12).map { "frame\($0).png" }.sorted())
        // Natural order: the folder read as a clip equals the numbered pattern read in order.
        let r2 = try ws.harmonize([src, "-o", ws.path("clip.mkv"), "--codec", "ffv1", "--pix-fmt", "bgr0", "--passthrough", "--fps", "10"])
        #expect(r2.status == 0, "\(r2.stderrText)")
        try expectSameFrames(ws, "\(src)/frame%d.png", ws.path("clip.mkv"), pixFmt: "rgb24", minPSNR: .infinity,
                             refInput: ["-start_number", "1"])
        #expect(try ws.frameTimes(ws.path("clip.mkv")).count == 12)
        #expect(try ws.probe(ws.path("clip.mkv"), ["-select_streams", "v:0", "-show_entries", "stream=r_frame_rate"]) == "10/1")
        for i in 1...12 {
            let a = try ws.frames("\(src)/frame\(i).png", pixFmt: "rgb24")
            let b = try ws.frames(ws.path("out/frame\(i).png"), pixFmt: "rgb24")
            #expect(a == b, "frame\(i).png differs")
        }
    }

    @Test func videoToFolderOfFrames() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.mkv", seconds: 0.4, codec: ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        let r = try ws.harmonize([input, "-o", ws.path("frames") + "/", "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.path("frames")).sorted()
        #expect(names == (1...10).map { String(format: "frame_%06d.png", $0) })
        try expectSameFrames(ws, input, ws.path("frames/frame_%06d.png"), pixFmt: "rgb24", minPSNR: .infinity)
    }

    /// Stream formats that arrive on stdin (probed), out as nut.
    @Test(arguments: [("in.ts", ["-c:v", "libx264", "-crf", "8", "-f", "mpegts"]),
                      ("in.mp4", ["-c:v", "libx264", "-crf", "8", "-movflags", "frag_keyframe+empty_moov"])])
    func streamFormatsOnStdin(name: String, codec: [String]) throws {
        let ws = try Workspace()
        let input = try ws.makeClip(name, seconds: 1, codec: codec + ["-pix_fmt", "yuv420p"])
        let inHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        _ = FileManager.default.createFile(atPath: ws.path("out.nut"), contents: nil)
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: ws.path("out.nut")))
        let r = try ws.harmonize(["-", "-o", "-", "--passthrough"], stdin: inHandle, stdout: outHandle)
        try outHandle.close()
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, input, ws.path("out.nut"), pixFmt: "yuv420p")
    }

    @Test(arguments: ["nut", "matroska", "y4m"])
    func stdinToStdout(format: String) throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.nut", seconds: 1.2, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        let ext = format == "y4m" ? "y4m" : (format == "nut" ? "nut" : "mkv")
        let inHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        _ = FileManager.default.createFile(atPath: ws.path("out.\(ext)"), contents: nil)
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: ws.path("out.\(ext)")))
        let r = try ws.harmonize(["-", "-o", "-", "--format", format, "--passthrough"], stdin: inHandle, stdout: outHandle)
        try outHandle.close()
        #expect(r.status == 0, "\(r.stderrText)")
        try expectSameFrames(ws, input, ws.path("out.\(ext)"), pixFmt: "yuv420p")
        #expect(try ws.frameTimes(ws.path("out.\(ext)")) == ws.frameTimes(input))
    }

    @Test func variableFrameRateKeepsTimestamps() throws {
        let ws = try Workspace()
        // Irregular gaps (n*n/200 s, then snapped by ffmpeg's vfr logic): several different frame durations.
        let input = try ws.makeClip("vfr.mkv", seconds: 10, codec: ["-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p"],
                                    extraOutput: ["-vf", "setpts='N*N/200/TB'", "-fps_mode", "vfr", "-enc_time_base:v", "1:1000", "-frames:v", "20"])
        let times = try ws.frameTimes(input)
        #expect(times.count == 20)
        #expect(Set(zip(times.dropFirst(), times).map { (($0 - $1) * 1000).rounded() }).count >= 5)
        for output in ["out.mkv", "out.mp4"] {
            let r = try ws.harmonize([input, "-o", ws.path(output), "--passthrough"])
            #expect(r.status == 0, "\(r.stderrText)")
            #expect(try ws.frameTimes(ws.path(output)) == times, "\(output)")
        }
    }

    @Test func audioIsCopiedFileToFile() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("av.mkv", seconds: 2, codec: ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "flac"],
                                    extraInputs: ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"], extraOutput: ["-shortest"])
        let r = try ws.harmonize([input, "-o", ws.path("out.mkv"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("out.mkv"), ["-select_streams", "a", "-show_entries", "stream=codec_name,sample_rate"]) == "flac,48000")
        // The audio packets are the same bytes.
        let a = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", input, "-map", "0:a", "-c", "copy", "-f", "md5", "-"])
        let b = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", ws.path("out.mkv"), "-map", "0:a", "-c", "copy", "-f", "md5", "-"])
        #expect(a.stdout == b.stdout && !a.stdout.isEmpty)
        // Into a container that cannot hold flac, the audio is dropped with a note.
        let r2 = try ws.harmonize([input, "-o", ws.path("out.y4m"), "--passthrough"])
        #expect(r2.status == 0, "\(r2.stderrText)")
        #expect(r2.stderrText.contains("audio stream 1 (flac) dropped"))
    }

    @Test func aspectColourAndRotationAreKept() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("tagged.mp4", seconds: 0.5, codec: [
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
            "-color_trc", "bt709", "-color_range", "tv",
        ], extraOutput: ["-vf", "setsar=4/3"])
        try ws.ffmpeg(["-i", input, "-c", "copy", "-metadata:s:v:0", "rotate=90", ws.path("rotated.mp4")])
        let r = try ws.harmonize([ws.path("rotated.mp4"), "-o", ws.path("out.mp4"), "--passthrough"])
        #expect(r.status == 0, "\(r.stderrText)")
        let fields = ["-select_streams", "v:0", "-show_entries",
                      "stream=sample_aspect_ratio,color_range,color_space,color_transfer,color_primaries:stream_side_data=rotation"]
        let kept = try ws.probe(ws.path("out.mp4"), fields)
        #expect(kept == "4:3,tv,bt709,bt709,bt709,90")
        #expect(try ws.probe(ws.path("rotated.mp4"), fields) == kept)
    }
}
