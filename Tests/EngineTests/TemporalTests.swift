import Testing
@testable import Engine

/// Curves whose every sample is `v` (a flat, recognisable curve).
func flat(_ v: Float) -> ToneCurves { ToneCurves(size: 4, values: [Float](repeating: v, count: 12)) }

/// Signatures: one histogram per "scene", with a little noise per frame.
func signature(scene: Int, noise: Float) -> [Float] {
    var s = [Float](repeating: 0, count: 8)
    s[scene % 8] = 1 - noise
    s[(scene + 1) % 8] = noise
    return s
}

@Suite struct TemporalTests {
    /// A frame handed out is not held any longer: the window reaching back `radius` frames needs their
    /// curves only. (Frames are the payload in a pipeline: at 1080p each held one is 6 MB of pixels
    /// and 2 MB of matte.)
    @Test func emittedPayloadsAreReleased() {
        final class Frame {}
        let smoother = TemporalSmoother<Frame>(radius: 4)
        var alive: [() -> Frame?] = []
        var emitted = 0
        for _ in 0..<20 {
            let f = Frame()
            alive.append({ [weak f] in f })
            emitted += smoother.push(.identity(), cut: false, payload: f).count
        }
        #expect(emitted == 16)
        let held = alive.filter { $0() != nil }.count
        #expect(held == 4, "frames still alive: \(held) (only the 4 awaiting their later neighbours should be)")
        _ = smoother.finish()
        #expect(alive.allSatisfy { $0() == nil })
    }

    @Test func smoothingReducesJitterBehindAFixedDelay() {
        let smoother = TemporalSmoother<Int>(radius: 3), detector = SceneCutDetector()
        var out: [TemporalSmoother<Int>.Output] = []
        var generator = SeededGenerator(seed: 60)
        var raw: [Float] = []
        for t in 0..<60 {
            let v = 0.5 + Float.random(in: -0.1...0.1, using: &generator)
            raw.append(v)
            let ready = smoother.push(flat(v), cut: detector.isCut(signature(scene: 0, noise: Float(t % 3) * 0.01)), payload: t)
            // Fixed delay: after frame t arrives, frames up to t - 3 are out.
            #expect(ready.map(\.payload) == (t >= 3 ? [t - 3] : []))
            out += ready
        }
        out += smoother.finish()
        #expect(out.map(\.payload) == Array(0..<60))
        func jitter(_ v: [Float]) -> Float { zip(v.dropFirst(), v).map { abs($0 - $1) }.reduce(0, +) / Float(v.count - 1) }
        let smoothed = out.map { $0.curves.values[0] }
        let before = jitter(raw), after = jitter(smoothed)
        #expect(after < 0.5 * before)
        let meanSmoothed = smoothed.reduce(0, +) / 60, meanRaw = raw.reduce(0, +) / 60
        #expect(abs(meanSmoothed - meanRaw) < 0.01)
    }

    @Test func noBleedAcrossACutInEitherDirection() {
        let smoother = TemporalSmoother<Int>(radius: 5), detector = SceneCutDetector()
        var out: [TemporalSmoother<Int>.Output] = []
        for t in 0..<40 {
            let scene = t < 20 ? 0 : 4
            out += smoother.push(flat(scene == 0 ? 0.2 : 0.8), cut: detector.isCut(signature(scene: scene, noise: Float(t % 2) * 0.02)), payload: t)
        }
        out += smoother.finish()
        #expect(out.map(\.payload) == Array(0..<40))
        for o in out {
            let expected: Float = o.payload < 20 ? 0.2 : 0.8
            let error = abs(o.curves.values[0] - expected)
            let shot = o.payload < 20 ? 0 : 1
            #expect(error < 1e-6, "frame \(o.payload): \(o.curves.values[0])")
            #expect(o.shot == shot)
        }
    }

    @Test func radiusZeroIsEveryFrameOnItsOwn() {
        let smoother = TemporalSmoother<Int>(radius: 0)
        for t in 0..<5 {
            let curves = flat(Float(t) / 10)
            let ready = smoother.push(curves, cut: false, payload: t)
            let same = ready.count == 1 && ready[0].curves == curves
            #expect(same)
        }
        #expect(smoother.finish().isEmpty)
    }

    @Test func framesThatDoNotCountStayOutOfTheAverage() {
        // Frame 3 has no mask (identity-like curves of no meaning): its neighbours must not see it.
        let smoother = TemporalSmoother<Int>(radius: 2)
        var out: [TemporalSmoother<Int>.Output] = []
        for t in 0..<7 {
            out += smoother.push(flat(t == 3 ? 9 : 0.5), cut: false, counts: t != 3, payload: t)
        }
        out += smoother.finish()
        #expect(out.map(\.payload) == Array(0..<7))
        let unaffected = out.filter { $0.payload != 3 }.allSatisfy { $0.curves == flat(0.5) }
        #expect(unaffected)
        #expect(out[3].curves == flat(0.5), "a frame that does not count takes its neighbours' average")
    }

    @Test func cutDetectorIgnoresMotionAndFindsCuts() {
        let detector = SceneCutDetector()
        var cuts: [Int] = []
        for t in 0..<90 {
            let scene = t / 30                     // cuts at 30 and 60
            let noise = Float((t * 7) % 5) * 0.03  // within-shot changes (motion)
            if detector.isCut(signature(scene: scene * 3, noise: noise)) { cuts.append(t) }
        }
        #expect(cuts == [30, 60])
    }
}
