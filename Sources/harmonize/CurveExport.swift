import Engine
import Foundation
import VideoPipe

/// The curves applied to each frame, for other tools: a JSON line per frame (--curves-out) and a 1D
/// .cube LUT (--lut-out: the curve of a still, the mean applied curve of a clip). Called by the
/// in-order stage as each frame is written, so lines come in frame order and nothing is held.
final class CurveExport: @unchecked Sendable {
    struct Record {
        let stages: [CurveParameters]
        let applied: ToneCurves
    }

    private var jsonl: FileHandle?
    private let jsonlPath: String?
    private let cubePath: String?
    private var sum = [Double](repeating: 0, count: 3 * 256)
    private var count = 0
    private let timeBase: Rational

    init(jsonl: String?, cube: String?, timeBase: Rational, overwrite: Bool) throws {
        for path in [jsonl, cube].compactMap({ $0 }) where !overwrite && FileManager.default.fileExists(atPath: path) {
            throw PipeError(path, "already exists (use -y to overwrite)")
        }
        if let cube, !cube.lowercased().hasSuffix(".cube") {
            throw PipeError(cube, "a LUT is written as a .cube file")
        }
        jsonlPath = jsonl
        cubePath = cube
        self.timeBase = timeBase
        if let jsonl {
            guard FileManager.default.createFile(atPath: jsonl + ".partial", contents: nil),
                  let handle = FileHandle(forWritingAtPath: jsonl + ".partial") else {
                throw PipeError(jsonl, "cannot create: \(String(cString: strerror(errno)))")
            }
            self.jsonl = handle
        }
    }

    /// A frame was written with these curves (identity when its mask was empty); in frame order.
    func written(_ frame: VideoFrame, _ r: Record) {
        let lut = r.applied.size == 256 ? r.applied : r.applied.resampled(256)
        for i in 0..<(3 * 256) { sum[i] += Double(lut.values[i]) }
        count += 1
        guard let jsonl else { return }
        func list(_ v: ArraySlice<Float>) -> String { "[" + v.map { String(format: "%.6g", $0) }.joined(separator: ",") + "]" }
        func channels(_ v: [Float], _ n: Int) -> String { "[" + (0..<3).map { list(v[($0 * n)..<(($0 + 1) * n)]) }.joined(separator: ",") + "]" }
        let seconds = Double(frame.pts) * timeBase.double
        let stages = "[" + r.stages.map { channels($0.weights, $0.pieces) }.joined(separator: ",") + "]"
        let line = "{\"frame\":\(frame.index),\"pts\":\(frame.pts),\"time\":\(String(format: "%.6f", seconds)),\"parameters\":\(stages),\"lut\":\(channels(lut.values, 256))}\n"
        jsonl.write(Data(line.utf8))
    }

    /// Moves the JSON lines into place and writes the .cube.
    func finish() throws {
        if let jsonl, let jsonlPath {
            try jsonl.close()
            if rename(jsonlPath + ".partial", jsonlPath) != 0 {
                throw PipeError(jsonlPath, "cannot move into place: \(String(cString: strerror(errno)))")
            }
        }
        if let cubePath {
            guard count > 0 else { throw PipeError(cubePath, "no frame was harmonized, so there is no curve to write") }
            var text = "# harmonize: the applied colour curves\(count > 1 ? ", mean over \(count) frames" : "")\n"
            text += "TITLE \"harmonize\"\nLUT_1D_SIZE 256\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n"
            for i in 0..<256 {
                text += (0..<3).map { String(format: "%.6f", sum[$0 * 256 + i] / Double(count)) }.joined(separator: " ") + "\n"
            }
            do {
                try text.write(toFile: cubePath, atomically: true, encoding: .utf8)
            } catch {
                throw PipeError(cubePath, "cannot write: \((error as NSError).localizedDescription)")
            }
        }
    }

    func abandon() {
        try? jsonl?.close()
        if let jsonlPath { unlink(jsonlPath + ".partial") }
    }
}
