import Foundation
import Testing

/// harmonize with a model: curves applied inside the mask, nothing changed outside it.
@Suite struct HarmonizeTests {
    static let fixtureModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("EngineTests/Fixtures/cascaded.safetensors").path

    /// A picture and a mask whose left half is off and right half on (a soft column between).
    func scene(_ ws: Workspace, size: String = "160x120") throws {
        try ws.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=\(size)", "-frames:v", "1", ws.path("c.png")])
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=black:size=\(size),drawbox=x=iw/2:y=0:w=iw/2:h=ih:color=white:t=fill,format=gray",
                       "-frames:v", "1", ws.path("m.png")])
    }

    @Test func stillImageChangesOnlyInsideTheMask() throws {
        let ws = try Workspace()
        try scene(ws)
        let r = try ws.harmonize([ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("out.png"), "--model", Self.fixtureModel])
        #expect(r.status == 0, "\(r.stderrText)")
        let a = try ws.frames(ws.path("c.png"), pixFmt: "rgb24")[0], b = try ws.frames(ws.path("out.png"), pixFmt: "rgb24")[0]
        let w = 160
        var insideChanged = 0, outsideChanged = 0
        for i in 0..<(a.count / 3) where a[3 * i] != b[3 * i] || a[3 * i + 1] != b[3 * i + 1] || a[3 * i + 2] != b[3 * i + 2] {
            if i % w >= w / 2 { insideChanged += 1 } else { outsideChanged += 1 }
        }
        #expect(outsideChanged == 0)
        #expect(insideChanged > 160 * 120 / 4, "\(insideChanged) pixels changed inside the mask")
        // Strength 0 is the identity.
        let r0 = try ws.harmonize([ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("same.png"), "--model", Self.fixtureModel, "--strength", "0"])
        #expect(r0.status == 0, "\(r0.stderrText)")
        #expect(try ws.frames(ws.path("same.png"), pixFmt: "rgb24") == [a])
    }

    @Test func clipWithStillMaskOfAnotherSize() throws {
        let ws = try Workspace()
        try scene(ws, size: "80x60")
        let clip = try ws.makeClip("in.mkv", size: "160x120", seconds: 0.2, codec: ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        let r = try ws.harmonize([clip, "-m", ws.path("m.png"), "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", Self.fixtureModel])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("mask is 80x60, scaled to 160x120"))
        #expect(try ws.frameTimes(ws.path("out.mkv")) == ws.frameTimes(clip))
        let a = try ws.frames(clip, pixFmt: "rgb24"), b = try ws.frames(ws.path("out.mkv"), pixFmt: "rgb24")
        #expect(a.count == b.count && a != b)
        // The left quarter is outside the mask in every frame: untouched.
        for (x, y) in zip(a, b) {
            for row in 0..<120 { #expect(x[(row * 160 * 3)..<(row * 160 * 3 + 120)] == y[(row * 160 * 3)..<(row * 160 * 3 + 120)]) }
        }
    }

    @Test func missingMaskOrModelAreOneLineErrors() throws {
        let ws = try Workspace()
        try scene(ws)
        var r = try ws.harmonize([ws.path("c.png"), "-o", ws.path("o.png"), "--model", Self.fixtureModel])
        #expect(r.status != 0 && r.stderrText.contains("no mask: give one with -m MASK"))
        let env = ["HARMONIZE_MODEL": ws.path("none.safetensors")]
        r = try ws.harmonize([ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("o.png")], environment: env)
        #expect(r.status != 0 && r.stderrText.contains("none.safetensors: cannot open"), "\(r.stderrText)")
        try Data("junk".utf8).write(to: URL(fileURLWithPath: ws.path("bad.safetensors")))
        r = try ws.harmonize([ws.path("c.png"), "-m", ws.path("m.png"), "-o", ws.path("o.png"), "--model", ws.path("bad.safetensors")])
        #expect(r.status != 0 && r.stderrText.split(separator: "\n").count == 1 && r.stderrText.contains("bad.safetensors: too short"), "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("o.png")))
    }
}
