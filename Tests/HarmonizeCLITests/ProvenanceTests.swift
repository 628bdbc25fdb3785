import Foundation
import Testing

/// What made an output: `--version`, the container's comment tag and the curves' lines name the
/// tool's version, the model's SHA-256 and the options that shape the pictures (issue 16).
@Suite struct ProvenanceTests {
    let model = HarmonizeTests.fixtureModel

    func sha256(_ ws: Workspace, _ path: String) throws -> String {
        let r = try ws.run("/usr/bin/env", ["sha256sum", path])
        return String(r.stdoutText.prefix(64))
    }

    func comment(_ ws: Workspace, _ path: String) throws -> String {
        let r = try ws.run("/usr/bin/env", ["ffprobe", "-v", "error", "-show_entries", "format_tags=comment",
                                            "-of", "default=nw=1:nk=1", path])
        return r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func versionNamesTheToolAndTheModelsHash() throws {
        let ws = try Workspace()
        let r = try ws.harmonize(["--version", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        let lines = r.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("harmonize ") == true && lines.first!.split(separator: ".").count == 3, "\(lines)")
        let hash = try sha256(ws, model)
        #expect(lines.count == 2 && lines[1] == "model: \(model) sha256:\(hash)", "\(lines)")
    }

    @Test func videoOutputsAndCurveLinesCarryVersionModelAndOptions() throws {
        let ws = try Workspace()
        let clip = try ws.makeClip("in.mp4", size: "160x120", seconds: 0.4)
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=80x60,pad=160:120:40:30,format=gray", "-frames:v", "1", ws.path("m.png")])
        let version = try ws.harmonize(["--version"]).stdoutText.split(separator: "\n").first.map(String.init) ?? "?"
        let hash = try sha256(ws, model)
        for name in ["out.mp4", "out.mkv"] {
            let r = try ws.harmonize([clip, "-m", ws.path("m.png"), "-o", ws.path(name), "--model", model, "-q",
                                      "--strength", "0.5", "--infer-every", "3", "--curves-out", ws.path(name + ".jsonl")])
            #expect(r.status == 0, "\(r.stderrText)")
            let tag = try comment(ws, ws.path(name))
            #expect(tag.hasPrefix("\(version); model sha256:\(hash); "), "\(name): \(tag)")
            #expect(tag.contains("--strength 0.5 ") && tag.contains("--infer-every 3 ") && tag.contains("--smoothing 0.25 "), "\(name): \(tag)")
            let lines = try String(contentsOfFile: ws.path(name + ".jsonl"), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 10)
            for line in lines {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(record?["made_by"] as? String == tag)
            }
        }
        // A pass-through names no model.
        let r = try ws.harmonize([clip, "-o", ws.path("pass.mp4"), "--passthrough", "-q"])
        #expect(r.status == 0, "\(r.stderrText)")
        let tag = try comment(ws, ws.path("pass.mp4"))
        #expect(tag == "\(version); --passthrough")
    }
}
