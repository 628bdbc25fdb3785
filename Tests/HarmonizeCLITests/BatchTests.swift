import Foundation
import Testing

/// `harmonize batch`: jobs from a list or a pair of folders, a broken job among good ones, reruns.
@Suite struct BatchTests {
    let model = HarmonizeTests.fixtureModel

    /// Three good clips, one file that is not a video, and a still mask, in `ws`.
    func media(_ ws: Workspace) throws {
        try FileManager.default.createDirectory(atPath: ws.path("in"), withIntermediateDirectories: true)
        for name in ["a", "b", "c"] { _ = try ws.makeClip("in/\(name).mp4", size: "160x120", seconds: 0.4) }
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: ws.path("in/bad.mp4")))
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=80x60,pad=160:120:40:30,format=gray", "-frames:v", "1", ws.path("m.png")])
    }

    func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    @Test func aBrokenJobFailsAloneAndARerunSkipsWhatIsDone() throws {
        let ws = try Workspace()
        try media(ws)
        let list = ["# shots", "in/a.mp4\tm.png\tout/a.mp4", "in/bad.mp4\tm.png\tout/bad.mp4", "", "in/b.mp4\tm.png\tout/b.mp4", "in/c.mp4\tm.png\tout/c.mp4"]
        try list.joined(separator: "\n").write(toFile: ws.path("list.tsv"), atomically: true, encoding: .utf8)
        let r = try ws.harmonize(["batch", ws.path("list.tsv"), "--jobs", "2", "--", "--model", model])
        #expect(r.status == 1, "\(r.stderrText)")
        #expect(r.stderrText.contains("batch of 4: 3 done, 1 failed, 0 skipped"), "\(r.stderrText)")
        let failedRow = r.stderrText.split(separator: "\n").first { $0.contains("failed") && $0.contains("out/bad.mp4") }
        #expect(failedRow?.contains("in/bad.mp4") == true, "the summary names the broken input and why: \(r.stderrText)")
        for name in ["a", "b", "c"] {
            #expect(try ws.frameTimes(ws.path("out/\(name).mp4")).count == 10, "out/\(name).mp4")
        }
        #expect(!FileManager.default.fileExists(atPath: ws.path("out/bad.mp4")))
        let times = ["a", "b", "c"].map { modified(ws.path("out/\($0).mp4")) }

        let again = try ws.harmonize(["batch", ws.path("list.tsv"), "--jobs", "2", "--", "--model", model])
        #expect(again.status == 1, "\(again.stderrText)")
        #expect(again.stderrText.contains("batch of 4: 0 done, 1 failed, 3 skipped"), "\(again.stderrText)")
        #expect(["a", "b", "c"].map { modified(ws.path("out/\($0).mp4")) } == times, "a rerun leaves finished outputs alone")
    }

    @Test func aRerunRedoesItsOwnCutOffJobButNotAForeignFile() throws {
        let ws = try Workspace()
        try media(ws)
        try FileManager.default.createDirectory(atPath: ws.path("out"), withIntermediateDirectories: true)
        try ["in/a.mp4\tm.png\tout/a.mp4", "in/b.mp4\tm.png\tout/b.mp4"].joined(separator: "\n")
            .write(toFile: ws.path("list.tsv"), atomically: true, encoding: .utf8)
        // As an interrupted batch leaves them: a started job with a partial output, and a file of someone else's.
        try "started \(ws.path("out/a.mp4"))\n".write(toFile: ws.path("list.tsv.state"), atomically: true, encoding: .utf8)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: ws.path("out/a.mp4")))
        try Data("someone else's".utf8).write(to: URL(fileURLWithPath: ws.path("out/b.mp4")))
        let r = try ws.harmonize(["batch", ws.path("list.tsv"), "--", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("batch of 2: 1 done, 0 failed, 1 skipped"), "\(r.stderrText)")
        #expect(try ws.frameTimes(ws.path("out/a.mp4")).count == 10)
        #expect(try String(contentsOfFile: ws.path("out/b.mp4"), encoding: .utf8) == "someone else's")
        #expect(r.stderrText.contains("not made by this batch"))
    }

    /// A SIGTERM to the batch alone (a scheduler stopping it) reaches the running jobs: they stop,
    /// keeping what they processed; the batch says which were interrupted and exits 130; a rerun
    /// redoes those (its own cut-off outputs) and finishes.
    @Test func aSignalToTheBatchStopsItsJobsAndARerunFinishesThem() throws {
        let ws = try Workspace()
        try FileManager.default.createDirectory(atPath: ws.path("in"), withIntermediateDirectories: true)
        for name in ["a", "b", "c"] { _ = try ws.makeClip("in/\(name).mp4", size: "320x240", seconds: 2) }
        try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=160x120,pad=320:240:80:60,format=gray", "-frames:v", "1", ws.path("m.png")])
        try ["in/a.mp4\tm.png\tout/a.mp4", "in/b.mp4\tm.png\tout/b.mp4", "in/c.mp4\tm.png\tout/c.mp4"].joined(separator: "\n")
            .write(toFile: ws.path("list.tsv"), atomically: true, encoding: .utf8)
        let options = ["--", "--model", model]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: harmonizeBinary)
        p.arguments = ["batch", ws.path("list.tsv"), "--jobs", "2"] + options
        let err = Pipe()
        p.standardError = err
        try p.run()
        // Once both first jobs have opened their outputs (a partial file each), and a moment more
        // for them to decode some frames, stop the batch.
        func started() -> Bool {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: ws.path("out"))) ?? []
            return names.filter { $0.contains("partial") }.count == 2
        }
        for _ in 0..<600 {
            if started() { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 1.5)
        p.terminate()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(p.terminationStatus): \(message)")
        #expect(message.contains("batch of 3: 0 done, 0 failed, 0 skipped, 3 interrupted"), "\(message)")
        // The jobs that ran stopped with the batch (no harmonize left writing), keeping a playable part.
        let running = try ws.run("/usr/bin/env", ["pgrep", "-f", ws.path("list.tsv")])
        #expect(running.stdoutText.isEmpty, "still running: \(running.stdoutText)")
        let kept = try ws.frameTimes(ws.path("out/a.mp4")).count
        #expect(kept > 0 && kept < 50, "\(kept) frames")
        #expect(!FileManager.default.fileExists(atPath: ws.path("out/c.mp4")), "the third job never started")

        let again = try ws.harmonize(["batch", ws.path("list.tsv"), "--jobs", "2"] + options)
        #expect(again.status == 0 && again.stderrText.contains("batch of 3: 3 done, 0 failed, 0 skipped"), "\(again.stderrText)")
        for name in ["a", "b", "c"] { #expect(try ws.frameTimes(ws.path("out/\(name).mp4")).count == 50) }
    }

    @Test func aFolderOfClipsWithAFolderOfMasksOfTheSameNames() throws {
        let ws = try Workspace()
        try media(ws)
        try FileManager.default.removeItem(atPath: ws.path("in/bad.mp4"))
        try FileManager.default.createDirectory(atPath: ws.path("masks"), withIntermediateDirectories: true)
        for name in ["a", "b", "c"] {
            try ws.ffmpeg(["-f", "lavfi", "-i", "color=white:size=80x60:rate=25,pad=160:120:40:30,format=gray", "-t", "0.4",
                           "-c:v", "ffv1", "-f", "matroska", ws.path("masks/\(name).mp4")])
        }
        let r = try ws.harmonize(["batch", "--inputs", ws.path("in"), "--masks", ws.path("masks"), "-o", ws.path("out"), "--jobs", "2",
                                  "--", "--model", model])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("batch of 3: 3 done, 0 failed, 0 skipped"), "\(r.stderrText)")
        for name in ["a", "b", "c"] { #expect(try ws.frameTimes(ws.path("out/\(name).mp4")).count == 10) }
    }
}
