import Engine
import Foundation
import VideoPipe

/// The curves applied to each frame, for other tools: a JSON line per frame (--curves-out) and 1D
/// .cube LUTs (--lut-out): FILE.cube holds the curve of a still, or the mean applied curve of a
/// clip's first shot; DIR/ gets one shot_NNN.cube per shot. Called by the in-order stage as each
/// frame is written, so lines come in frame order and nothing but one shot's running sum is held.
final class CurveExport: @unchecked Sendable {
    struct Record {
        let stages: [CurveParameters]
        let applied: ToneCurves
    }

    private enum CubeTarget {
        case file(String)
        case folder(String)
    }

    private var jsonl: FileHandle?
    private let jsonlPath: String?
    private let cube: CubeTarget?
    private let timeBase: Rational
    /// The running sum of the current shot's 3x256 LUTs and where the shot began.
    private var sum = [Double](repeating: 0, count: 3 * 256)
    private var count = 0
    private var shot = 0
    private var shotStart: (index: Int, time: Double) = (0, 0)
    private var shotEnd: (index: Int, time: Double) = (0, 0)
    private var cubesWritten = 0
    /// What made the curves (`Provenance.line`), repeated on every JSON line: its field, encoded once.
    private let madeByField: String

    init(jsonl: String?, lut: String?, timeBase: Rational, overwrite: Bool, madeBy: String? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        madeByField = madeBy.flatMap { try? encoder.encode($0) }.map { ",\"made_by\":" + String(decoding: $0, as: UTF8.self) } ?? ""
        if let jsonl, !overwrite && FileManager.default.fileExists(atPath: jsonl) {
            throw PipeError(jsonl, "already exists (use -y to overwrite)")
        }
        if let lut {
            if case .folder(let dir) = Endpoint(lut) {
                try CurveExport.prepareFolder(dir, overwrite: overwrite)
                cube = .folder(dir)
            } else {
                guard lut.lowercased().hasSuffix(".cube") else {
                    throw PipeError(lut, "a LUT is written as a .cube file, or one per shot into a folder (DIR/)")
                }
                if !overwrite && FileManager.default.fileExists(atPath: lut) {
                    throw PipeError(lut, "already exists (use -y to overwrite)")
                }
                cube = .file(lut)
            }
        } else {
            cube = nil
        }
        jsonlPath = jsonl
        self.timeBase = timeBase
        if let jsonl {
            guard FileManager.default.createFile(atPath: jsonl + ".partial", contents: nil),
                  let handle = FileHandle(forWritingAtPath: jsonl + ".partial") else {
                throw PipeError(jsonl, "cannot create: \(String(cString: strerror(errno)))")
            }
            self.jsonl = handle
        }
    }

    /// Creates the LUT folder, or checks that it holds no shot LUTs of an earlier run (unless -y).
    private static func prepareFolder(_ dir: String, overwrite: Bool) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw PipeError(dir, "cannot create the LUT folder: \((error as NSError).localizedDescription)")
        }
        let old = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("shot_") && $0.hasSuffix(".cube") }
        if !overwrite, let first = old.sorted().first {
            throw PipeError((dir as NSString).appendingPathComponent(first), "already exists (use -y to overwrite)")
        }
        // With -y the folder is this run's: an earlier run's extra shots must not linger.
        for name in old { unlink((dir as NSString).appendingPathComponent(name)) }
    }

    /// A frame was written with these curves, in frame order; `shot` grows at each scene cut.
    func written(_ frame: VideoFrame, _ r: Record, shot: Int) throws {
        let lut = r.applied.size == 256 ? r.applied : r.applied.resampled(256)
        let seconds = Double(frame.pts) * timeBase.double
        if shot != self.shot {
            try endOfShot()
            self.shot = shot
        }
        if count == 0 { shotStart = (frame.index, seconds) }
        shotEnd = (frame.index, seconds)
        for i in 0..<(3 * 256) { sum[i] += Double(lut.values[i]) }
        count += 1
        guard let jsonl else { return }
        func list(_ v: ArraySlice<Float>) -> String { "[" + v.map { String(format: "%.6g", $0) }.joined(separator: ",") + "]" }
        func channels(_ v: [Float], _ n: Int) -> String { "[" + (0..<3).map { list(v[($0 * n)..<(($0 + 1) * n)]) }.joined(separator: ",") + "]" }
        let stages = "[" + r.stages.map { channels($0.weights, $0.pieces) }.joined(separator: ",") + "]"
        let ends = "[" + r.stages.map { list($0.ends[...]) }.joined(separator: ",") + "]"
        let line = "{\"frame\":\(frame.index),\"pts\":\(frame.pts),\"time\":\(String(format: "%.6f", seconds)),\"shot\":\(shot),\"inferred\":\(!r.stages.isEmpty),\"parameters\":\(stages),\"ends\":\(ends),\"lut\":\(channels(lut.values, 256))\(madeByField)}\n"
        jsonl.write(Data(line.utf8))
    }

    /// Writes the LUT of the shot that just ended (FILE.cube: the first shot only).
    private func endOfShot() throws {
        defer {
            sum = [Double](repeating: 0, count: 3 * 256)
            count = 0
        }
        guard count > 0, let cube else { return }
        let path: String
        switch cube {
        case .file(let file):
            guard cubesWritten == 0 else { return }
            path = file
        case .folder(let dir):
            path = (dir as NSString).appendingPathComponent(String(format: "shot_%03d.cube", shot + 1))
        }
        var text = "# harmonize: the applied colour curves"
        text += count > 1 ? String(format: ", mean over frames %d-%d (%.3f-%.3f s)\n", shotStart.index, shotEnd.index, shotStart.time, shotEnd.time) : "\n"
        text += "TITLE \"harmonize shot \(shot + 1)\"\nLUT_1D_SIZE 256\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n"
        for i in 0..<256 {
            text += (0..<3).map { String(format: "%.6f", sum[$0 * 256 + i] / Double(count)) }.joined(separator: " ") + "\n"
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw PipeError(path, "cannot write: \((error as NSError).localizedDescription)")
        }
        cubesWritten += 1
    }

    /// The last shot's LUT (at the end of the clip, before the output is finalized).
    func endOfClip() throws {
        try endOfShot()
    }

    /// Moves the JSON lines into place.
    func finish() throws {
        if let cube, cubesWritten == 0 {
            let path = switch cube { case .file(let f): f; case .folder(let d): d }
            throw PipeError(path, "no frame was harmonized, so there is no curve to write")
        }
        if let jsonl, let jsonlPath {
            try jsonl.close()
            if rename(jsonlPath + ".partial", jsonlPath) != 0 {
                throw PipeError(jsonlPath, "cannot move into place: \(String(cString: strerror(errno)))")
            }
        }
    }

    func abandon() {
        try? jsonl?.close()
        if let jsonlPath { unlink(jsonlPath + ".partial") }
    }
}
