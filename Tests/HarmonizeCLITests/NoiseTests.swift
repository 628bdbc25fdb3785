import Foundation
import Testing

/// Issue 13's defect, through the built binary with the shipped model: a bright, saturated, grainy
/// foreground moving over a dark scene must come out darker without its grain turned into blotches.
/// A format 1 curve ends at y(1) = 1, so darkening it jumps 10 levels per level at the top. On this
/// clip (grain and gradient seeded, so it is the same every run; noise gain inside the mask: the
/// pixels whose 3x3 neighbourhood is all foreground) stage 6 measured slope 5.20 and noise gain 2.44,
/// stage 7, trained with the foreground-slope term, 3.77 and 1.90, stage 8 3.76 and 1.84. Stage 9's
/// curves (format 3) bend every piece's slope below 2 by construction: 2.00 and 1.11. The bounds are
/// the target, 3 and 1.25 (stage 8 fails both).
@Suite struct NoiseTests {
    static let shippedModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/harmonize.safetensors").path
    static let (width, height) = (640, 360)

    /// The clip and its matte (the same graphs as training/noise_clip.py, which measures the model card's figures).
    func makeClip(_ ws: Workspace) throws -> (clip: String, matte: String) {
        let (w, h) = (Self.width, Self.height)
        try ws.ffmpeg(["-filter_complex",
                       "color=c=0x1c2a3a:s=\(w)x\(h):r=25:d=1,noise=alls=10:allf=t:all_seed=1[bg];"
                       + "gradients=s=200x260:c0=0xffa040:c1=0xe05018:r=25:d=1:speed=0.01:seed=1,format=rgb24,noise=alls=14:allf=t:all_seed=2[fg];"
                       + "[bg][fg]overlay=x='100+300*t':y=50:shortest=1,format=yuv420p",
                       "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", ws.path("clip.mp4")])
        try ws.ffmpeg(["-filter_complex",
                       "color=c=black:s=\(w)x\(h):r=25:d=1[bg];color=c=white:s=200x260:r=25:d=1[fg];"
                       + "[bg][fg]overlay=x='100+300*t':y=50:shortest=1,format=gray",
                       "-c:v", "ffv1", ws.path("matte.mkv")])
        return (ws.path("clip.mp4"), ws.path("matte.mkv"))
    }

    /// The applied LUT of each frame, from --curves-out.
    func luts(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let channels = try #require(obj["lut"] as? [[Double]])
            return channels.flatMap { $0 }
        }
    }

    /// 99th percentile, over the foreground's pixels and channels, of the LUT's local slope at the pixel's level.
    static func slopeP99(frames: [[UInt8]], mattes: [[UInt8]], luts: [[Double]]) -> Double {
        var hist = [Double](repeating: 0, count: 3 * 256), slopes: [(Double, Double)] = []
        for (f, (m, lut)) in zip(frames, zip(mattes, luts)) {
            for i in 0..<(3 * 256) { hist[i] = 0 }
            for p in 0..<m.count where m[p] >= 128 { for c in 0..<3 { hist[c * 256 + Int(f[3 * p + c])] += 1 } }
            for c in 0..<3 {
                for v in 0..<256 where hist[c * 256 + v] > 0 {
                    let lo = max(v - 1, 0), hi = min(v + 1, 255)
                    slopes.append(((lut[c * 256 + hi] - lut[c * 256 + lo]) * 255 / Double(hi - lo), hist[c * 256 + v]))
                }
            }
        }
        slopes.sort { $0.0 < $1.0 }
        let total = slopes.reduce(0) { $0 + $1.1 }
        var run = 0.0
        for (s, w) in slopes { run += w; if run >= 0.99 * total { return s } }
        return slopes.last?.0 ?? 0
    }

    /// Per pixel, the squared difference from its 3x3 mean (the window clipped at the edges), summed over RGB.
    static func highFrequencyEnergy(_ img: [UInt8], width w: Int, height h: Int) -> [Double] {
        var energy = [Double](repeating: 0, count: w * h)
        var rows = [Double](repeating: 0, count: w * h), counts = [Double](repeating: 0, count: w)
        for c in 0..<3 {
            for y in 0..<h {                       // horizontal 3-sums
                for x in 0..<w {
                    var sum = 0.0
                    for xx in max(0, x - 1)...min(w - 1, x + 1) { sum += Double(img[3 * (y * w + xx) + c]) }
                    rows[y * w + x] = sum
                    counts[x] = Double(min(w - 1, x + 1) - max(0, x - 1) + 1)
                }
            }
            for y in 0..<h {                       // vertical 3-sums of those: the window's mean
                let y0 = max(0, y - 1), y1 = min(h - 1, y + 1)
                for x in 0..<w {
                    var sum = 0.0
                    for yy in y0...y1 { sum += rows[yy * w + x] }
                    let mean = sum / (counts[x] * Double(y1 - y0 + 1))
                    let d = (Double(img[3 * (y * w + x) + c]) - mean) / 255
                    energy[y * w + x] += d * d
                }
            }
        }
        return energy
    }

    /// 90th percentile over 64-px blocks (at least half foreground, not flat) of the output's
    /// high-frequency energy over the input's, inside the mask: at the pixels whose whole 3x3
    /// neighbourhood is foreground (the high-pass of an edge pixel measures the step to the
    /// surroundings, not grain), as training/curve_quality.py.
    static func noiseGainP90(inputs: [[UInt8]], outputs: [[UInt8]], mattes: [[UInt8]], width w: Int, height h: Int) -> Double {
        var gains: [Double] = []
        let flat: Double = 0.5 * 0.5 / (255 * 255)
        for (inp, (out, matte)) in zip(inputs, zip(outputs, mattes)) {
            var m = [UInt8](repeating: 0, count: w * h)     // the matte eroded by one pixel (3x3 minimum)
            for y in 0..<h {
                for x in 0..<w {
                    var low: UInt8 = 255
                    for dy in -1...1 { for dx in -1...1 {
                        let yy = min(max(y + dy, 0), h - 1), xx = min(max(x + dx, 0), w - 1)
                        low = min(low, matte[yy * w + xx])
                    } }
                    m[y * w + x] = low
                }
            }
            let eIn = highFrequencyEnergy(inp, width: w, height: h), eOut = highFrequencyEnergy(out, width: w, height: h)
            for by in stride(from: 0, to: h, by: 64) {
                for bx in stride(from: 0, to: w, by: 64) {
                    var sumIn = 0.0, sumOut = 0.0, on = 0
                    for y in by..<min(h, by + 64) {
                        for x in bx..<min(w, bx + 64) where m[y * w + x] >= 128 {
                            on += 1
                            sumIn += eIn[y * w + x]
                            sumOut += eOut[y * w + x]
                        }
                    }
                    if on * 2 >= 64 * 64, sumIn / Double(on) >= flat { gains.append(sumOut / sumIn) }
                }
            }
        }
        gains.sort()
        return gains.isEmpty ? .nan : gains[min(gains.count - 1, Int(0.9 * Double(gains.count - 1) + 0.5))]
    }

    @Test func brightGrainyForegroundIsDarkenedWithoutAmplifiedGrain() throws {
        let ws = try Workspace()
        let (clip, matte) = try makeClip(ws)
        let r = try ws.harmonize([clip, "-m", matte, "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", Self.shippedModel,
                                  "--max-slope", "0", "--curves-out", ws.path("c.jsonl"), "-q"])
        #expect(r.status == 0, "\(r.stderrText)")
        let inputs = try ws.frames(clip, pixFmt: "rgb24"), outputs = try ws.frames(ws.path("out.mkv"), pixFmt: "rgb24")
        let mattes = try ws.frames(matte, pixFmt: "gray"), luts = try luts(ws.path("c.jsonl"))
        try #require(inputs.count == 25 && outputs.count == 25 && mattes.count == 25 && luts.count == 25)
        // The model does darken it (the case is real: otherwise there is nothing to amplify).
        var before = 0.0, after = 0.0
        for (i, (o, m)) in zip(inputs, zip(outputs, mattes)) {
            for p in 0..<m.count where m[p] >= 128 { for c in 0..<3 { before += Double(i[3 * p + c]); after += Double(o[3 * p + c]) } }
        }
        #expect(after < 0.97 * before, "the foreground should come out darker (\(after / before))")
        let slope = Self.slopeP99(frames: inputs, mattes: mattes, luts: luts)
        let gain = Self.noiseGainP90(inputs: inputs, outputs: outputs, mattes: mattes, width: Self.width, height: Self.height)
        #expect(slope <= 3, "99th-percentile slope at the foreground's levels: \(slope) levels per level")
        #expect(gain <= 1.25, "noise gain inside the mask: \(gain)")
    }

    /// The render-time guard caps a steep curve and the summary says on how many frames it acted.
    @Test func slopeGuardCapsAndReports() throws {
        let ws = try Workspace()
        let (clip, matte) = try makeClip(ws)
        let r = try ws.harmonize([clip, "-m", matte, "-o", ws.path("out.mkv"), "--codec", "ffv1", "--model", HarmonizeTests.fixtureModel,
                                  "--max-slope", "1", "--curves-out", ws.path("c.jsonl")])
        #expect(r.status == 0, "\(r.stderrText)")
        let luts = try luts(ws.path("c.jsonl"))
        var steepest = 0.0
        for lut in luts {
            for c in 0..<3 { for v in 0..<255 { steepest = max(steepest, (lut[c * 256 + v + 1] - lut[c * 256 + v]) * 255) } }
        }
        #expect(steepest <= 1 + 1e-3, "applied LUT steeper than the cap: \(steepest)")
        let acted = try #require(r.stderrText.firstMatch(of: /slope guard on (\d+) of them/)).1
        #expect(Int(acted)! > 0 && Int(acted)! <= 25)
        let off = try ws.harmonize([clip, "-m", matte, "-o", ws.path("off.mkv"), "--codec", "ffv1", "--model", HarmonizeTests.fixtureModel,
                                    "--max-slope", "0"])
        #expect(off.status == 0 && !off.stderrText.contains("slope guard"))
        #expect(try ws.harmonize([clip, "-m", matte, "-o", ws.path("x.mkv"), "--max-slope", "0.5"]).status != 0)
    }
}
