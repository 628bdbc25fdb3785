import Foundation
import Testing
@testable import Engine

/// A w x h RGB picture from a function of (x, y, channel), in [0, 255].
func picture(_ w: Int, _ h: Int, _ f: (Int, Int, Int) -> Int) -> [UInt8] {
    var px = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h { for x in 0..<w { for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8(max(0, min(255, f(x, y, c)))) } } }
    return px
}

func sketch(_ px: [UInt8], _ mask: [UInt8], _ w: Int, _ h: Int) -> FrameSketch {
    var px = px
    return px.withUnsafeMutableBytes { p in
        mask.withUnsafeBufferPointer { m in
            FrameSketch(image: ImageView(width: w, height: h, channels: 3, bytesPerSample: 1, rowBytes: w * 3, data: p.baseAddress!),
                        mask: MaskView(width: w, height: h, rowBytes: w, data: m.baseAddress!))
        }
    }
}

@Suite struct PlanningTests {
    let w = 192, h = 108
    var box: [UInt8] { (0..<(192 * 108)).map { i in (i % 192 >= 60 && i % 192 < 120) ? 255 : 0 } }

    @Test func everyNKeepsToTheClipsGridAndInfersAtACut() {
        let planner = KeyFramePlanner(policy: .every(3))
        let a = picture(w, h) { x, y, c in (x * 3 + y * 2 + c * 60) % 256 }
        let b = picture(w, h) { x, y, c in c == 2 ? 220 : (x * y) % 40 }
        var inferred: [Int] = [], cuts: [Int] = []
        for t in 0..<14 {
            let d = planner.decide(sketch(t < 7 ? a : b, box, w, h), frame: t)
            if d.infer { inferred.append(t) }
            if d.cut { cuts.append(t) }
        }
        #expect(cuts == [7])
        #expect(inferred == [0, 3, 6, 7, 9, 12])
    }

    @Test func autoFollowsChangesOfPictureAndMask() {
        let planner = KeyFramePlanner(policy: .automatic)
        let base = picture(w, h) { x, y, c in 40 + (x + 2 * y + 50 * c) % 150 }
        var inferred: [Int] = []
        for t in 0..<40 {
            // Still for 20 frames, then the mask slides 6 pixels a frame.
            let shift = t < 20 ? 0 : 6 * (t - 19)
            let mask = (0..<(w * h)).map { i in (i % w >= 20 + shift && i % w < 60 + shift) ? UInt8(255) : 0 }
            if planner.decide(sketch(base, mask, w, h), frame: t).infer { inferred.append(t) }
        }
        #expect(inferred.filter { $0 < 20 } == [0, 12], "a still shot: every 12 frames")
        #expect(inferred.filter { $0 >= 20 }.count >= 8, "a moving mask: \(inferred)")
    }

    /// A pan across texture finer than the sketch's cells (stripes 24 px apart, moving 3 px a frame)
    /// changes no statistics the network sees and runs it only once per block of 12; with 16 cells
    /// across it ran on every frame. A light on half the frame moves the cells' colour by half
    /// its step, past the threshold, however coarse the cells.
    @Test func aPanAcrossTextureDoesNotTriggerButALightDoes() {
        func frame(_ t: Int, light: Bool = false) -> FrameSketch {
            let px = picture(w, h) { x, y, c in
                let stripe = 100 + Int(60 * sin(Double(x + 3 * t) * 2 * Double.pi / 24))
                return stripe + c * 20 + (light && x < w / 2 ? 40 : 0)
            }
            return sketch(px, box, w, h)
        }
        let planner = KeyFramePlanner(policy: .automatic)
        #expect((0..<24).filter { planner.decide(frame($0), frame: $0).infer } == [0, 12])
        let light = frame(0, light: true).change(since: frame(0)).colour
        #expect(abs(light - 20 / 255) < 0.002 && light > 0.04)
    }

    /// A change counts for its area wherever it is: 54 sample rows on a 16:9 frame make cell rows
    /// of 24, 24 and 6, and the thin bottom row once weighed as much as a whole one (a strip of
    /// subtitles at the bottom triggered four times as easily as the same strip at the top).
    @Test func aStripCountsForItsAreaAtTheTopOrTheBottom() {
        let base = picture(w, h) { x, y, c in 60 + (x + y + 40 * c) % 90 }
        func strip(_ rows: Range<Int>) -> Float {
            let lit = picture(w, h) { x, y, c in 60 + (x + y + 40 * c) % 90 + (rows.contains(y) ? 60 : 0) }
            return sketch(lit, box, w, h).change(since: sketch(base, box, w, h)).colour
        }
        let top = strip(0..<10), bottom = strip((h - 10)..<h)
        #expect(top > 0 && abs(bottom - top) <= 0.05 * top, "top \(top), bottom \(bottom)")
    }

    @Test func aMaskThinnerThanTheSamplesStillCounts() {
        // 96 sample columns over 1920 px: one every 20 px, at x = 10, 30, ... A 4-px line at
        // x = 12..15 falls between them, yet the mask appearing there must trigger inference.
        let (w, h) = (1920, 108)
        let px = picture(w, h) { x, y, c in (x / 7 + y + c * 50) % 256 }
        let empty = [UInt8](repeating: 0, count: w * h)
        let line = (0..<(w * h)).map { i in (12..<16).contains(i % w) ? UInt8(255) : 0 }
        let thin = sketch(px, line, w, h)
        #expect(thin.coverage.allSatisfy { $0 == 0 })       // the samples miss it
        #expect(thin.hasMask && !sketch(px, empty, w, h).hasMask)
        let planner = KeyFramePlanner(policy: .every(8))
        let inferred = (0..<6).filter { planner.decide(sketch(px, $0 < 3 ? empty : line, w, h), frame: $0).infer }
        #expect(inferred == [0, 3])
    }

    /// A pass over a part of a clip (`--start`) decides as a pass over all of it once its planner
    /// has seen `convergenceFrames` frames: the same cuts, the same frames inferred.
    @Test(arguments: [InferencePolicy.every(4), .automatic])
    func aPlannerStartedPartwayAgreesAfterItsWarmUp(policy: InferencePolicy) {
        let scenes = [picture(w, h) { x, y, c in 40 + (x + 2 * y + 50 * c) % 150 },
                      picture(w, h) { x, y, c in c == 1 ? 180 - y : 30 + (x * 3) % 90 }]
        // 90 frames: a drifting exposure, a mask that moves in spurts, a cut at 50.
        let frames = (0..<90).map { t -> FrameSketch in
            let px = scenes[t < 50 ? 0 : 1].map { UInt8(min(255, Int($0) + (t % 50) / 3)) }
            let shift = (t / 9) * 7
            let mask = (0..<(w * h)).map { i in (i % w >= 20 + shift && i % w < 60 + shift) ? UInt8(255) : 0 }
            return sketch(px, mask, w, h)
        }
        let whole = KeyFramePlanner(policy: policy)
        let decisions = frames.enumerated().map { whole.decide($1, frame: $0) }
        #expect(decisions[50].cut, "cuts at \(decisions.indices.filter { decisions[$0].cut })")
        for start in [5, 23, 41] {
            let part = KeyFramePlanner(policy: policy)
            let agreed = start + part.convergenceFrames
            let partial = (start..<90).map { part.decide(frames[$0], frame: $0) }
            #expect(Array(partial.dropFirst(agreed - start)) == Array(decisions[agreed...]), "started at \(start)")
        }
    }

    @Test func sketchHistogramIgnoresExposureButNotContent() {
        let a = picture(w, h) { x, y, c in 30 + (x * 5 + y * 3 + c * 70) % 180 }
        let brighter = picture(w, h) { x, y, c in Int(Double(30 + (x * 5 + y * 3 + c * 70) % 180) * 1.25) }
        let other = picture(w, h) { x, y, c in c == 0 ? 200 - y : 60 + (x % 7) }
        func distance(_ p: FrameSketch, _ q: FrameSketch) -> Float { zip(p.histogram, q.histogram).map { abs($0 - $1) }.reduce(0, +) }
        let (sa, sb, so) = (sketch(a, box, w, h), sketch(brighter, box, w, h), sketch(other, box, w, h))
        #expect(distance(sa, sb) < 0.3 * distance(sa, so))
        #expect(abs(sa.histogram.reduce(0, +) - 1) < 1e-4)
    }
}
