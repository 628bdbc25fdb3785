import Foundation
import Testing

/// The harder cases of RELIABILITY.md, end to end through the built binary: full and read-only disks,
/// runs side by side, impossible headers, very large and very small pictures, irregular mask clips,
/// an input that stops inside its first frame.
@Suite struct HardCaseTests {
    let model = HarmonizeTests.fixtureModel

    /// A private mount namespace (`unshare -rm`: no root needed) can mount a tmpfs of its own.
    static let canMountTmpfs: Bool = {
        guard let ws = try? Workspace(), let r = try? ws.run("/usr/bin/env", ["unshare", "-rm", "sh", "-c",
            "mount -t tmpfs -o size=64k tmpfs \"$1\"", "sh", ws.dir.path]) else { return false }
        return r.status == 0
    }()

    /// Runs harmonize with a fresh tmpfs (mount `options`) on the workspace folder `folder`, which also
    /// holds `keep.txt`; stdout is the folder's listing afterwards, then keep.txt's contents.
    func harmonizeOnTmpfs(_ ws: Workspace, folder: String, options: String, _ args: [String]) throws -> RunResult {
        try FileManager.default.createDirectory(atPath: ws.path(folder), withIntermediateDirectories: true)
        let script = """
            mount -t tmpfs -o size=256k tmpfs "$1" && echo kept > "$1/keep.txt" && mount -o remount,\(options) "$1" || exit 99
            dir=$1; shift; "$@"; status=$?; ls -A "$dir"; cat "$dir/keep.txt"; exit $status
            """
        return try ws.run("/usr/bin/env", ["unshare", "-rm", "sh", "-c", script, "sh", ws.path(folder), harmonizeBinary] + args)
    }

    @Test(.enabled(if: canMountTmpfs)) func diskFullMidWriteNamesTheFileAndLeavesNothing() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mkv", size: "640x480", seconds: 2, codec: ["-c:v", "ffv1"])
        let r = try harmonizeOnTmpfs(ws, folder: "disk", options: "size=256k",
                                     [clip, "-o", ws.path("disk/out.mkv"), "--codec", "ffv1", "--passthrough"])
        let lines = r.stderrText.split(separator: "\n")
        #expect(r.status == 1 && lines.count == 1, "\(r.status): \(r.stderrText)")
        #expect(lines.first?.contains("disk/out.mkv: ") == true && lines.first?.contains("No space left on device") == true, "\(r.stderrText)")
        // The temporary is gone and the file that was there is as it was.
        #expect(String(decoding: r.stdout, as: UTF8.self) == "keep.txt\nkept\n", "\(String(decoding: r.stdout, as: UTF8.self))")
    }

    @Test(.enabled(if: canMountTmpfs)) func readOnlyOutputFolderIsAOneLineError() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mp4", seconds: 0.4)
        let r = try harmonizeOnTmpfs(ws, folder: "ro", options: "ro", [clip, "-o", ws.path("ro/out.mp4"), "--passthrough"])
        #expect(r.status == 1 && r.stderrText == "harmonize: \(ws.path("ro/out.mp4")): cannot open for writing: Read-only file system\n",
                "\(r.status): \(r.stderrText)")
        #expect(String(decoding: r.stdout, as: UTF8.self) == "keep.txt\nkept\n")
    }

    /// Three runs at once into one folder: each output whole, no temporary left, no run disturbed by
    /// another's start (each removes only dead runs' temporaries of its own output).
    @Test func threeRunsAtOnceIntoOneFolder() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mkv", seconds: 1, codec: ["-c:v", "ffv1"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=320x240,drawbox=x=80:y=60:w=160:h=120:color=white:t=fill,format=gray",
                       "-frames:v", "1", ws.path("mask.png")])
        let runs = ["a.mp4", "b.mkv", "c.mp4"].map { name -> (Process, Pipe) in
            let p = Process(), err = Pipe()
            p.executableURL = URL(fileURLWithPath: harmonizeBinary)
            p.arguments = [clip, "-m", ws.path("mask.png"), "-o", ws.path(name), "--model", model, "--threads", "1"]
            p.standardError = err
            return (p, err)
        }
        for (p, _) in runs { try p.run() }
        for (p, err) in runs {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(message)")
        }
        for name in ["a.mp4", "b.mkv", "c.mp4"] {
            let decoded = try ws.run("/usr/bin/env", ["ffmpeg", "-v", "error", "-i", ws.path(name), "-f", "null", "-"])
            #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(name): \(decoded.stderrText)")
            #expect(try ws.frameTimes(ws.path(name)).count == 25, "\(name)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: ws.dir.path).sorted()
        #expect(files == ["a.mp4", "b.mkv", "c.mp4", "in.mkv", "mask.png"], "\(files)")
    }

    /// Headers that claim 100000x100000: a y4m, an avi (both fields patched) and a png. One line,
    /// exit 1, at once (nothing of that size is allocated).
    @Test func impossibleFrameSizesAreRefused() throws {
        let ws = try Workspace()
        var y4m = Data("YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n".utf8)
        y4m.append(Data(repeating: 0x80, count: 100_000))
        try y4m.write(to: URL(fileURLWithPath: ws.path("huge.y4m")))
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-t", "0.4", "-c:v", "ffv1", ws.path("small.avi")])
        var avi = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ws.path("small.avi"))))
        var patched = 0
        for i in 0..<(avi.count - 8) where avi[i..<(i + 8)] == [64, 0, 0, 0, 48, 0, 0, 0] {
            avi.replaceSubrange(i..<(i + 8), with: [0xa0, 0x86, 0x01, 0x00, 0xa0, 0x86, 0x01, 0x00])   // 100000, little-endian
            patched += 1
        }
        #expect(patched >= 2)                                  // the main header and the stream's
        try Data(avi).write(to: URL(fileURLWithPath: ws.path("huge.avi")))
        try Data(pngHeader(width: 100_000, height: 100_000)).write(to: URL(fileURLWithPath: ws.path("huge.png")))
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=64x48,format=gray", "-frames:v", "1", ws.path("m.png")])
        for name in ["huge.y4m", "huge.avi", "huge.png"] {
            let r = try ws.harmonize([ws.path(name), "-m", ws.path("m.png"), "-o", ws.path("out.mp4"), "--model", model])
            let lines = r.stderrText.split(separator: "\n")
            #expect(r.status == 1 && lines.count == 1 && lines[0].hasPrefix("harmonize: \(ws.path(name)): "), "\(name): \(r.stderrText)")
            #expect(!FileManager.default.fileExists(atPath: ws.path("out.mp4")))
        }
    }

    /// A 16-bit 8K png keeps its 16 bits: the region outside the mask comes out sample for sample.
    @Test func sixteenBit8KStillKeepsItsDepth() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=7680x4320", "-frames:v", "1", "-pix_fmt", "rgb48be", ws.path("in.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=7680x4320,drawbox=x=2560:y=1080:w=2560:h=2160:color=white:t=fill,format=gray",
                       "-frames:v", "1", ws.path("m.png")])
        let r = try ws.harmonize([ws.path("in.png"), "-m", ws.path("m.png"), "-o", ws.path("out.png"), "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.probe(ws.path("out.png"), ["-show_entries", "stream=width,height,pix_fmt"]) == "7680,4320,rgb48be")
        // Compare one row below the mask (all outside) and one through it (changed inside only).
        let a = try ws.frames(ws.path("in.png"), pixFmt: "rgb48le"), b = try ws.frames(ws.path("out.png"), pixFmt: "rgb48le")
        let row = 7680 * 6
        let below = 4000 * row, through = 2000 * row
        #expect(a[0][below..<(below + row)] == b[0][below..<(below + row)])
        #expect(a[0][through..<(through + 2560 * 6)] == b[0][through..<(through + 2560 * 6)])
        #expect(a[0][(through + 2600 * 6)..<(through + 5000 * 6)] != b[0][(through + 2600 * 6)..<(through + 5000 * 6)])
    }

    /// 1x1 and odd-sized pictures into a file whose default encoding is yuv420p, which needs even
    /// sides: harmonize keeps every pixel in yuv444p and says so (it stopped with an error); an
    /// explicit --pix-fmt yuv420p is still refused in one line.
    @Test(arguments: [(1, 1), (33, 17)])
    func oddSizesKeepEveryPixel(width: Int, height: Int) throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-vf", "scale=\(width):\(height)", "-frames:v", "5",
                       "-c:v", "ffv1", "-pix_fmt", "yuv444p", ws.path("in.mkv")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=\(width)x\(height),format=gray", "-frames:v", "1", ws.path("m.png")])
        #expect(try ws.size(ws.path("in.mkv")) == (width, height))
        for args in [["--passthrough"], ["-m", ws.path("m.png"), "--model", model]] {
            let r = try ws.harmonize([ws.path("in.mkv"), "-o", ws.path("out.mp4"), "-y"] + args)
            #expect(r.status == 0 && r.stderrText.contains("\(width)x\(height) has an odd side: encoded as yuv444p"), "\(r.stderrText)")
            #expect(try ws.probe(ws.path("out.mp4"), ["-show_entries", "stream=width,height,pix_fmt"]) == "\(width),\(height),yuv444p")
            #expect(try ws.frameTimes(ws.path("out.mp4")).count == 5)
        }
        let r = try ws.harmonize([ws.path("in.mkv"), "-o", ws.path("o420.mp4"), "--passthrough", "--pix-fmt", "yuv420p"])
        #expect(r.status == 1 && r.stderrText == "harmonize: \(ws.path("o420.mp4")): yuv420p needs an even width and height, the input is \(width)x\(height) (try --pix-fmt yuv444p)\n",
                "\(r.stderrText)")
    }

    /// A variable-frame-rate mask clip (frames 3 and 4 dropped, the others at their own times): each
    /// input frame takes the last mask frame at or before its time, so frames 3 and 4 hold frame 2.
    @Test func variableFrameRateMaskClipFollowsByTimestamp() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mkv", size: "160x120", seconds: 0.28, codec: ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=25,format=gray,geq=lum='255*between(X-10*N,0,9)',select='not(between(n,3,4))'",
                       "-frames:v", "5", "-fps_mode", "passthrough", "-c:v", "ffv1", ws.path("mvfr.mkv")])
        #expect(try ws.frameTimes(ws.path("mvfr.mkv")) == [0, 0.04, 0.08, 0.2, 0.24])
        let r = try ws.harmonize([clip, "-m", ws.path("mvfr.mkv"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        let a = try ws.frames(clip, pixFmt: "rgb24"), b = try ws.frames(ws.path("out.mkv"), pixFmt: "rgb24")
        #expect(a.count == 7 && b.count == 7)
        for (k, n) in [0, 1, 2, 2, 2, 5, 6].enumerated() where k < min(a.count, b.count) {
            let inside = HarmonizeTests().sameOutside(a[k], b[k], w: 160, x0: 10 * n, x1: 10 * n + 10)
            #expect(inside && a[k] != b[k], "frame \(k) changed outside mask frame \(n)'s column x = \(10 * n)..\(10 * n + 9)")
        }
    }

    /// Standard input that ends inside the first frame: nothing to write, one line, exit 1 (it was
    /// exit 0 with an mp4 holding no stream, which nothing plays). Ending inside the second frame
    /// gives the one whole frame.
    @Test func stdinEndingInsideAFrame() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "3", "-pix_fmt", "yuv420p", ws.path("in.y4m")])
        let y4m = try Data(contentsOf: URL(fileURLWithPath: ws.path("in.y4m")))
        let header = y4m.range(of: Data("FRAME".utf8))!.lowerBound, frame = 6 + 64 * 48 * 3 / 2
        for (name, bytes, frames) in [("half", header + frame / 2, 0), ("one-and-a-half", header + frame + frame / 2, 1)] {
            try y4m.prefix(bytes).write(to: URL(fileURLWithPath: ws.path("\(name).y4m")))
            let r = try ws.harmonize(["-", "-o", ws.path("\(name).mp4"), "--passthrough"],
                                     stdin: try FileHandle(forReadingFrom: URL(fileURLWithPath: ws.path("\(name).y4m"))))
            if frames == 0 {
                #expect(r.status == 1 && r.stderrText == "harmonize: stdin: no whole frame to read (the input ends before its first frame does); nothing written\n",
                        "\(r.status): \(r.stderrText)")
                #expect(!FileManager.default.fileExists(atPath: ws.path("\(name).mp4")))
            } else {
                #expect(r.status == 0, "\(r.stderrText)")
                #expect(try ws.frameTimes(ws.path("\(name).mp4")).count == frames)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.dir.path).filter { $0.contains("partial") }.isEmpty)
    }

    /// The suite's own guard: every harmonize call snapshots its inputs and compares them afterwards.
    /// Here the snapshot must see a file, a folder's file and a pattern's file change.
    @Test func inputSnapshotSeesAnyChange() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("frames"), withIntermediateDirectories: true)
        for name in ["in.mp4", "m.png", "frames/0001.png", "shot_0001.png", "out.mp4"] {
            try Data("original".utf8).write(to: URL(fileURLWithPath: ws.path(name)))
        }
        let args = ["in.mp4", "-m", "m.png", "-o", "out.mp4", "--fg", ws.path("frames"), "--bg", ws.path("shot_%04d.png")]
        let snapshot = InputSnapshot(arguments: args, in: ws.dir)
        #expect(Set(snapshot.contents.keys) == Set(["in.mp4", "m.png", "frames/0001.png", "shot_0001.png"].map(ws.path)))
        try Data("overwritten".utf8).write(to: URL(fileURLWithPath: ws.path("out.mp4")))   // an output may change
        #expect(snapshot.changed().isEmpty)
        for name in ["in.mp4", "frames/0001.png", "shot_0001.png"] {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: ws.path(name)))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("!".utf8))
            try handle.close()
        }
        try FileManager.default.removeItem(atPath: ws.path("m.png"))
        #expect(snapshot.changed() == ["in.mp4", "m.png", "frames/0001.png", "shot_0001.png"].map(ws.path).sorted())
    }
}

/// A png that is only a header claiming `width` x `height` (8-bit RGB) and a little data.
func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let tagged = Array(type.utf8) + body
        return be(UInt32(body.count)) + tagged + be(crc32(tagged))
    }
    let ihdr = be(width) + be(height) + [8, 2, 0, 0, 0]
    let idat: [UInt8] = [0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01]   // empty stored deflate block
    return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
}

func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}

/// The fuzz targets (Fuzz/), built plainly beside harmonize, replay their committed corpora: every
/// input libFuzzer ever found interesting, and every crash it found, stays a regression case.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["model-file", "frame-geometry", "paths", "options"])
    func corpusReplaysCleanly(target: String) throws {
        let ws = try Workspace()
        let binary = URL(fileURLWithPath: harmonizeBinary).deletingLastPathComponent().appendingPathComponent("fuzz-\(target)").path
        let corpus = Self.root.appendingPathComponent("Fuzz/corpus/\(target)").path
        let count = try FileManager.default.contentsOfDirectory(atPath: corpus).count
        #expect(count >= 5)
        let r = try ws.run(binary, [corpus])
        #expect(r.status == 0 && String(decoding: r.stdout, as: UTF8.self) == "replayed \(count) inputs\n", "\(r.status): \(r.stderrText)")
    }
}
