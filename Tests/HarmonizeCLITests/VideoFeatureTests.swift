import Foundation
import Testing

/// The video features of `harmonize`: key frames (--infer-every), layers mode, mask clips synced by
/// timestamp, LUTs per shot, and finding the shipped weights after an install.
@Suite struct VideoFeatureTests {
    let model = HarmonizeTests.fixtureModel

    /// The per-frame records of a --curves-out file.
    func records(_ file: String) throws -> [[String: Any]] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    func lut(_ r: [String: Any]) -> [Double] { (r["lut"] as? [[Double]] ?? []).flatMap { $0 } }

    /// 12 frames of one scene cut to 8 frames of another; a still half-frame mask.
    func cutClip(_ ws: Workspace) throws -> String {
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120,drawbox=x=iw/2:y=0:w=iw/2:h=ih:color=white:t=fill,format=gray",
                       "-frames:v", "1", ws.path("m.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "smptebars=size=160x120:rate=25",
                       "-filter_complex", "[0:v]trim=end_frame=12,setpts=PTS-STARTPTS[a];[1:v]trim=end_frame=8,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1[v]",
                       "-map", "[v]", "-c:v", "ffv1", "-pix_fmt", "bgr0", ws.path("cut.mkv")])
        return ws.path("cut.mkv")
    }

    @Test func inferEveryNInterpolatesWithinAShotAndInfersAtTheCut() throws {
        let ws = try Workspace()
        let clip = try cutClip(ws)
        let r = try ws.harmonize([clip, "-m", ws.path("m.png"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model,
                                  "--infer-every", "5", "--smoothing", "0", "--curves-out", ws.path("c.jsonl")])
        #expect(r.status == 0, "\(r.stderrText)")
        let recs = try records(ws.path("c.jsonl"))
        #expect(recs.count == 20)
        let inferred = recs.enumerated().filter { $0.element["inferred"] as? Bool == true }.map(\.offset)
        #expect(inferred == [0, 5, 10, 12, 15], "on the clip's grid of 5 frames, and at the cut: \(inferred)")
        #expect(r.stderrText.contains("2 shots, network on 5 of them"), "\(r.stderrText)")
        let shots: [Int] = recs.map { $0["shot"] as? Int ?? -1 }
        #expect(shots == Array(repeating: 0, count: 12) + Array(repeating: 1, count: 8))
        // Frame 2 lies 2/5 of the way from frame 0's curves to frame 5's.
        let (k0, k5, f2) = (lut(recs[0]), lut(recs[5]), lut(recs[2]))
        var worst = 0.0
        for i in 0..<k0.count {
            let expected: Double = 0.6 * k0[i] + 0.4 * k5[i]
            worst = max(worst, abs(f2[i] - expected))
        }
        #expect(worst < 1e-4)
        #expect(k0 != k5)
        // Frame 11, after the shot's last inferred frame, holds it (nothing from across the cut).
        #expect(lut(recs[11]) == lut(recs[10]))
        #expect(lut(recs[19]) == lut(recs[17]))
    }

    /// By default the network runs where something changed (`auto`): on a shot whose background and
    /// mask stay put, on its first frame and then at most every 12th; a cut forces a run. `1` runs it
    /// on every frame.
    @Test func theNetworkRunsOnKeyFramesByDefaultAndOnEveryFrameWithInferEvery1() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120,drawbox=x=iw/2:y=0:w=iw/2:h=ih:color=white:t=fill,format=gray",
                       "-frames:v", "1", ws.path("m.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "smptebars=size=160x120:rate=25", "-frames:v", "30", "-c:v", "ffv1", "-pix_fmt", "bgr0", ws.path("still.mkv")])
        let auto = try ws.harmonize([ws.path("still.mkv"), "-m", ws.path("m.png"), "-o", ws.path("a.mkv"), "--codec", "ffv1",
                                     "--model", model, "--curves-out", ws.path("a.jsonl")])
        #expect(auto.status == 0, "\(auto.stderrText)")
        let inferred = try records(ws.path("a.jsonl")).enumerated().filter { $0.element["inferred"] as? Bool == true }.map(\.offset)
        #expect(inferred == [0, 12, 24], "network ran on \(inferred)")
        #expect(auto.stderrText.contains("network on 3 of them"), "\(auto.stderrText)")
        let every = try ws.harmonize([ws.path("still.mkv"), "-m", ws.path("m.png"), "-o", ws.path("e.mkv"), "--codec", "ffv1",
                                      "--model", model, "--infer-every", "1", "--curves-out", ws.path("e.jsonl")])
        #expect(every.status == 0, "\(every.stderrText)")
        #expect(try records(ws.path("e.jsonl")).allSatisfy { $0["inferred"] as? Bool == true })
        #expect(!every.stderrText.contains("network on"), "\(every.stderrText)")
    }

    @Test func statsPrintEachStageEvenWhenQuiet() throws {
        let ws = try Workspace()
        let clip = try cutClip(ws)
        let r = try ws.harmonize([clip, "-m", ws.path("m.png"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model,
                                  "-q", "--stats", "--threads", "2", "--infer-every", "10"])
        #expect(r.status == 0, "\(r.stderrText)")
        let lines = r.stderrText.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("harmonize: stats over ") == true && lines.first?.hasSuffix(", 20 frames:") == true, "\(r.stderrText)")
        var load = [String: Double]()
        for name in ["decode", "work", "write"] {
            let row = lines.first { $0.hasPrefix("harmonize:   \(name) ") }?.split(separator: " ").map(String.init) ?? []
            // name, threads, busy, blocked, load, %, ms/frame, cpu
            #expect(row.count == 9, "\(name): \(row)")
            guard row.count == 9, let threads = Int(row[2]), let busy = Double(row[3]), let percent = Double(row[5]) else { continue }
            #expect(threads == (name == "work" ? 2 : 1))
            #expect(busy > 0 && percent >= 0 && percent <= 100, "\(name): \(row)")
            load[name] = percent
        }
        #expect(lines.contains { $0.hasPrefix("harmonize:   (write: ") && $0.contains("rendering the curves") })
        #expect(lines.contains { $0.hasPrefix("harmonize:   CPU: ") && $0.contains("s for the process") })
        let busiest = lines.first { $0.hasPrefix("harmonize:   busiest: ") } ?? ""
        #expect(busiest.contains("\(load.max { $0.value < $1.value }?.key ?? "?") ("), "\(busiest) with loads \(load)")
        #expect(!r.stderrText.contains("frames in"), "-q still drops the summary line")
    }

    @Test func inferEveryAutoRunsRarelyOnAStillShotAndOftenOnAMovingMask() throws {
        let ws = try Workspace()
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", ws.path("c.png")])
        try ws.ffmpeg(["-loop", "1", "-i", ws.path("c.png"), "-r", "25", "-frames:v", "25", "-c:v", "ffv1", ws.path("still.mkv")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=25,drawbox=x=30:y=30:w=60:h=60:color=white:t=fill,format=gray",
                       "-frames:v", "25", "-c:v", "ffv1", ws.path("fixed.mkv")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=25,format=gray,geq=lum='255*between(X-4*N,20,80)*between(Y,30,90)'",
                       "-frames:v", "25", "-c:v", "ffv1", ws.path("moving.mkv")])
        var counts: [String: Int] = [:]
        for mask in ["fixed", "moving"] {
            let r = try ws.harmonize([ws.path("still.mkv"), "-m", ws.path("\(mask).mkv"), "-o", ws.path("\(mask)-out.mkv"), "--codec", "ffv1",
                                      "--model", model, "--infer-every", "auto", "--curves-out", ws.path("\(mask).jsonl")])
            #expect(r.status == 0, "\(r.stderrText)")
            counts[mask] = try records(ws.path("\(mask).jsonl")).filter { $0["inferred"] as? Bool == true }.count
            #expect(try ws.frameTimes(ws.path("\(mask)-out.mkv")).count == 25)
        }
        #expect(counts["fixed"] == 3, "a still shot is inferred every 12 frames: \(counts)")
        #expect((counts["moving"] ?? 0) >= 8, "a moving mask is re-inferred often: \(counts)")
    }

    @Test func lutPerShotIntoAFolder() throws {
        let ws = try Workspace()
        let clip = try cutClip(ws)
        let args = [clip, "-m", ws.path("m.png"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model, "--lut-out", ws.path("luts") + "/"]
        let r = try ws.harmonize(args)
        #expect(r.status == 0, "\(r.stderrText)")
        let files = try FileManager.default.contentsOfDirectory(atPath: ws.path("luts")).sorted()
        #expect(files == ["shot_001.cube", "shot_002.cube"])
        let a = try String(contentsOfFile: ws.path("luts/shot_001.cube"), encoding: .utf8)
        let b = try String(contentsOfFile: ws.path("luts/shot_002.cube"), encoding: .utf8)
        #expect(a.contains("frames 0-11") && b.contains("frames 12-19") && a.split(separator: "\n").count == 261)
        // Both load in FFmpeg.
        for f in files {
            try ws.ffmpeg(["-i", ws.path("m.png"), "-vf", "format=rgb24,lut1d=file=\(ws.path("luts/" + f))", ws.path(f + ".png")])
        }
        let again = try ws.harmonize(args.map { $0 == ws.path("out.mkv") ? ws.path("out2.mkv") : $0 })
        #expect(again.status != 0 && again.stderrText.contains("shot_001.cube: already exists"), "\(again.stderrText)")
    }

    @Test func maskClipsOfAnotherFrameRateFollowByTimestamp() throws {
        let ws = try Workspace()
        // Input at 25 fps; the mask at 50 fps is a 10-pixel column at x = 10 n in its frame n, so input
        // frame k (t = k/25) must take mask frame 2k: the column at x = 20 k.
        let clip = try ws.makeClip("in.mkv", size: "160x120", seconds: 0.28, codec: ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=50,format=gray,geq=lum='255*between(X-10*N,0,9)'",
                       "-frames:v", "14", "-c:v", "ffv1", ws.path("m50.mkv")])
        let r = try ws.harmonize([clip, "-m", ws.path("m50.mkv"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(!r.stderrText.contains("mask ends"), "\(r.stderrText)")
        let a = try ws.frames(clip, pixFmt: "rgb24"), b = try ws.frames(ws.path("out.mkv"), pixFmt: "rgb24")
        #expect(a.count == 7 && b.count == 7)
        for k in 0..<min(a.count, b.count) {
            let inside = HarmonizeTests().sameOutside(a[k], b[k], w: 160, x0: 20 * k, x1: 20 * k + 10)
            #expect(inside && a[k] != b[k], "frame \(k) changed outside x = \(20 * k)..\(20 * k + 9)")
        }
    }

    @Test func layersCompositeTheForegroundOverTheBackground() throws {
        let ws = try Workspace()
        // A 80x60 foreground clip with a round alpha over a 160x120 background still; strength 0
        // shows the composite itself.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=80x60:rate=25", "-vf",
                       "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*lt(hypot(X-40,Y-30),20)'",
                       "-frames:v", "5", "-c:v", "png", ws.path("fg.mov")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=0x3060a0:size=160x120,format=rgb24", "-frames:v", "1", ws.path("bg.png")])
        var r = try ws.harmonize(["--fg", ws.path("fg.mov"), "--bg", ws.path("bg.png"), "-o", ws.path("comp.mkv"), "--codec", "ffv1",
                                  "--model", model, "--strength", "0"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("foreground is 80x60, fitted to the background's 160x120"), "\(r.stderrText)")
        let comp = try ws.frames(ws.path("comp.mkv"), pixFmt: "rgb24")
        #expect(comp.count == 5)
        // Far from the circle: the background; at its centre: the foreground (a testsrc2 colour).
        let corner = Array(comp[0][0..<3]), centre = Array(comp[0][(3 * (60 * 160 + 80))..<(3 * (60 * 160 + 80) + 3)])
        #expect(corner == [0x30, 0x60, 0xa0])
        #expect(centre != corner)
        // Harmonized: changed inside the circle only.
        r = try ws.harmonize(["--fg", ws.path("fg.mov"), "--bg", ws.path("bg.png"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        let out = try ws.frames(ws.path("out.mkv"), pixFmt: "rgb24")
        let outsideSame = HarmonizeTests().sameOutside(comp[0], out[0], w: 160, x0: 36, x1: 124)
        #expect(outsideSame && comp[0] != out[0])
        // A foreground without alpha takes --fg-matte; without it, a one-line error.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", ws.path("fg.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120,drawbox=x=40:y=30:w=80:h=60:color=white:t=fill,format=gray", "-frames:v", "1", ws.path("matte.png")])
        r = try ws.harmonize(["--fg", ws.path("fg.png"), "--bg", ws.path("bg.png"), "-o", ws.path("o.png"), "--model", model])
        #expect(r.status != 0 && r.stderrText.contains("fg.png: the foreground has no alpha channel: give its matte with --fg-matte"))
        r = try ws.harmonize(["--fg", ws.path("fg.png"), "--bg", ws.path("bg.png"), "--fg-matte", ws.path("matte.png"), "-o", ws.path("o.png"),
                              "--model", model, "--strength", "0"])
        #expect(r.status == 0, "\(r.stderrText)")
        let still = try ws.frames(ws.path("o.png"), pixFmt: "rgb24")[0], fgStill = try ws.frames(ws.path("fg.png"), pixFmt: "rgb24")[0]
        let i = 3 * (60 * 160 + 80), j = 3 * (5 * 160 + 5)
        #expect(Array(still[i..<(i + 3)]) == Array(fgStill[i..<(i + 3)]) && Array(still[j..<(j + 3)]) == [0x30, 0x60, 0xa0])
        // A background clip with a still foreground: the background sets the timeline.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "7", "-c:v", "ffv1", ws.path("bg.mkv")])
        r = try ws.harmonize(["--fg", ws.path("fg.png"), "--fg-matte", ws.path("matte.png"), "--bg", ws.path("bg.mkv"), "-o", ws.path("o.mkv"),
                              "--codec", "ffv1", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try ws.frameTimes(ws.path("o.mkv")) == ws.frameTimes(ws.path("bg.mkv")))
    }

    @Test func layerClipsOfAnotherFrameRateFollowByTimestamp() throws {
        let ws = try Workspace()
        // A 25 fps foreground whose alpha is a small disc in the corner, over a 50 fps background
        // whose frame n is a 10-pixel white column at x = 10 n: at strength 0 (the composite itself),
        // output frame k (t = k/25) must show background frame 2k, the column at x = 20 k.
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-vf",
                       "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*lt(hypot(X-145,Y-105),10)'",
                       "-frames:v", "7", "-c:v", "png", ws.path("fg.mov")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=50,format=rgb24,geq=r='255*between(X-10*N,0,9)':g='255*between(X-10*N,0,9)':b='255*between(X-10*N,0,9)'",
                       "-frames:v", "16", "-c:v", "ffv1", ws.path("bg50.mkv")])
        let r = try ws.harmonize(["--fg", ws.path("fg.mov"), "--bg", ws.path("bg50.mkv"), "-o", ws.path("comp.mkv"), "--codec", "ffv1",
                                  "--model", model, "--strength", "0"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(!r.stderrText.contains("holds for the rest"), "\(r.stderrText)")
        let comp = try ws.frames(ws.path("comp.mkv"), pixFmt: "rgb24")
        #expect(comp.count == 7)
        for (k, frame) in comp.enumerated() {
            let row = 10 * 160 * 3                                   // row 10: background only
            let white = (0..<160).filter { frame[row + 3 * $0] > 128 }
            #expect(white == Array((20 * k)..<(20 * k + 10)), "frame \(k): white at \(white)")
        }
        // A background that ends first holds its last frame, with a warning naming it.
        try ws.ffmpeg(["-i", ws.path("bg50.mkv"), "-frames:v", "6", "-c:v", "ffv1", ws.path("bgshort.mkv")])
        let s = try ws.harmonize(["--fg", ws.path("fg.mov"), "--bg", ws.path("bgshort.mkv"), "-o", ws.path("short.mkv"), "--codec", "ffv1",
                                  "--model", model, "--strength", "0"])
        #expect(s.status == 0 && s.stderrText.contains("bgshort.mkv: ends at 0.100 s; its last frame holds for the rest"), "\(s.stderrText)")
        #expect(try ws.frames(ws.path("short.mkv"), pixFmt: "rgb24").count == 7)
    }

    @Test func folderWithMaskFolderToFolderKeepsNamesAndCount() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: ws.path("masks"), withIntermediateDirectories: true)
        let names = ["shot2.png", "shot10.png", "shot1.png"]              // natural order: 1, 2, 10
        for (k, name) in ["shot1.png", "shot2.png", "shot10.png"].enumerated() {
            try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=96x64", "-vf", "hue=h=\(40 * k)", "-frames:v", "1", ws.path("in/" + name)])
            try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=96x64,drawbox=x=\(32 * k):y=0:w=32:h=ih:color=white:t=fill,format=gray",
                           "-frames:v", "1", ws.path("masks/m\(k + 1).png")])
        }
        let r = try ws.harmonize([ws.path("in"), "-m", ws.path("masks"), "-o", ws.path("out") + "/", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path("out")).sorted() == names.sorted())
        for (k, name) in ["shot1.png", "shot2.png", "shot10.png"].enumerated() {
            let a = try ws.frames(ws.path("in/" + name), pixFmt: "rgb24")[0], b = try ws.frames(ws.path("out/" + name), pixFmt: "rgb24")[0]
            let onlyInside = HarmonizeTests().sameOutside(a, b, w: 96, x0: 32 * k, x1: 32 * k + 32)
            #expect(onlyInside && a != b, "\(name) must change in its own mask's column only")
        }
    }

    @Test func stdinToStdoutWithAMaskClipKeepsFramesAndTimes() throws {
        let ws = try Workspace()
        let input = try ws.makeClip("in.nut", size: "160x120", seconds: 0.8, codec: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=160x120:rate=25,drawbox=x=40:y=20:w=80:h=80:color=white:t=fill,format=gray",
                       "-frames:v", "20", "-c:v", "ffv1", ws.path("m.mkv")])
        // The same pipe without harmonizing is the reference (4:2:0 in and out is not bit-exact).
        for (name, flags) in [("out.nut", ["-m", ws.path("m.mkv"), "--model", model]), ("ref.nut", ["--passthrough"])] {
            let inHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
            _ = FileManager.default.createFile(atPath: ws.path(name), contents: nil)
            let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: ws.path(name)))
            let r = try ws.harmonize(["-", "-o", "-"] + flags, stdin: inHandle, stdout: outHandle)
            try outHandle.close()
            #expect(r.status == 0, "\(r.stderrText)")
        }
        #expect(try ws.frameTimes(ws.path("out.nut")) == ws.frameTimes(input))
        let a = try ws.frames(ws.path("ref.nut"), pixFmt: "rgb24"), b = try ws.frames(ws.path("out.nut"), pixFmt: "rgb24")
        #expect(a.count == 20 && b.count == 20)
        let changedInsideOnly = zip(a, b).allSatisfy { HarmonizeTests().sameOutside($0, $1, w: 160, x0: 40, x1: 120) && $0 != $1 }
        #expect(changedInsideOnly)
    }

    @Test func installedBinaryFindsTheShippedWeights() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("prefix/bin"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: ws.path("prefix/share/harmonize"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: harmonizeBinary, toPath: ws.path("prefix/bin/harmonize"))
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", ws.path("c.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=64x48,format=gray", "-frames:v", "1", ws.path("m.png")])
        var r = try ws.run(ws.path("prefix/bin/harmonize"), [ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("o.png")],
                           environment: ["HARMONIZE_MODEL": ""])
        #expect(r.status != 0 && r.stderrText.contains("no model found"), "\(r.stderrText)")
        try FileManager.default.copyItem(atPath: model, toPath: ws.path("prefix/share/harmonize/harmonize.safetensors"))
        r = try ws.run(ws.path("prefix/bin/harmonize"), [ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("o.png")],
                       environment: ["HARMONIZE_MODEL": ""])
        #expect(r.status == 0, "\(r.stderrText)")
    }
}
