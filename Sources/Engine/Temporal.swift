/// Temporal smoothing of curves for video (our extension of S2CRNet): per-frame predictions jitter
/// with noise, motion and compression, so each frame's curves are replaced by a centred, weighted
/// average of the curves of the frames around it, behind a fixed delay of `radius` frames. The
/// average is taken over sampled curve values (`ToneCurves`), where averaging is meaningful, never
/// over raw piece weights. A scene cut closes the window on both sides: no frame sees curves from
/// the other shot, so nothing bleeds across a cut in either direction.
public final class TemporalSmoother<Payload> {
    public struct Output {
        public let payload: Payload
        public let curves: ToneCurves
        /// Index of the shot (0, 1, ...): it grows at every detected cut.
        public let shot: Int
    }

    private struct Entry {
        /// Handed out when the frame is emitted, and dropped here: the entry stays for its curves
        /// (later frames' windows reach back `radius` frames), not for its frame.
        var payload: Payload?
        let curves: ToneCurves
        let shot: Int
        let counts: Bool
    }

    public let radius: Int
    private var entries: [Entry] = []      // from the oldest frame still needed (radius back)
    private var nextOut = 0                // index into `entries` of the next frame to emit
    private var shot = 0

    /// - radius: frames on each side (0: every frame on its own); the delay is `radius` frames.
    public init(radius: Int) {
        precondition(radius >= 0)
        self.radius = radius
    }

    /// Adds the next frame's curves, `cut` when it starts a new shot (found by a `SceneCutDetector`,
    /// as `KeyFramePlanner` does); returns the frames now ready, in order. `counts: false` keeps the
    /// frame's curves out of its neighbours' averages (a frame whose mask is empty has no curves of
    /// its own).
    public func push(_ curves: ToneCurves, cut: Bool, counts: Bool = true, payload: Payload) -> [Output] {
        if cut { shot += 1 }
        entries.append(Entry(payload: payload, curves: curves, shot: shot, counts: counts))
        var ready: [Output] = []
        // A frame is ready once `radius` frames of its own shot follow it, or its shot has ended.
        while nextOut < entries.count {
            let e = entries[nextOut]
            let later = entries.count - 1 - nextOut
            guard later >= radius || entries[entries.count - 1].shot != e.shot else { break }
            ready.append(emit(nextOut))
        }
        trim()
        return ready
    }

    /// The frames still held (end of the clip).
    public func finish() -> [Output] {
        var ready: [Output] = []
        while nextOut < entries.count { ready.append(emit(nextOut)) }
        trim()
        return ready
    }

    private func emit(_ i: Int) -> Output {
        let e = entries[i]
        entries[i].payload = nil
        nextOut += 1
        guard radius > 0 else { return Output(payload: e.payload!, curves: e.curves, shot: e.shot) }
        // The window is symmetric: near the start or end of a shot it shrinks on both sides, so a
        // curve that drifts through the shot is not pulled toward the shot's middle at its edges
        // (the first frame after a cut gets exactly its own curves).
        var left = 0, right = 0
        while left < radius, i - left - 1 >= 0, entries[i - left - 1].shot == e.shot { left += 1 }
        while right < radius, i + right + 1 < entries.count, entries[i + right + 1].shot == e.shot { right += 1 }
        let k = min(left, right)
        // Triangular weights over the same shot's frames within the window.
        var sum = [Float](repeating: 0, count: e.curves.values.count)
        var total: Float = 0
        for j in (i - k)...(i + k) where entries[j].counts {
            let w = Float(k + 1 - abs(j - i))
            let v = entries[j].curves.values
            for k in 0..<sum.count { sum[k] += w * v[k] }
            total += w
        }
        guard total > 0 else { return Output(payload: e.payload!, curves: e.curves, shot: e.shot) }
        return Output(payload: e.payload!, curves: ToneCurves(size: e.curves.size, values: sum.map { $0 / total }), shot: e.shot)
    }

    /// Drops frames no later frame's window can reach.
    private func trim() {
        let drop = nextOut - radius
        if drop > 0 {
            entries.removeFirst(drop)
            nextOut -= drop
        }
    }
}

/// Finds scene cuts from a per-frame signature (e.g. `sceneSignature` of the background thumbnail):
/// a cut is a signature distance far above the recent ones (an adaptive threshold, in the manner of
/// FFmpeg's scdet and PySceneDetect's content detector) and above an absolute floor.
public final class SceneCutDetector {
    public let ratio: Float
    public let floor: Float
    public let history: Int
    private var previous: [Float]?
    private var recent: [Float] = []

    /// - ratio: how many times the recent mean distance a cut must reach (the `--scene-threshold`).
    /// - floor: the smallest distance that can be a cut (signatures are histograms: distances in 0...2).
    public init(ratio: Float = 4, floor: Float = 0.25, history: Int = 12) {
        self.ratio = ratio
        self.floor = floor
        self.history = history
    }

    /// Whether `signature` starts a new shot (never for the first frame).
    public func isCut(_ signature: [Float]) -> Bool {
        defer { previous = signature }
        guard let previous, previous.count == signature.count else { return false }
        var d: Float = 0
        for i in 0..<signature.count { d += abs(signature[i] - previous[i]) }
        let mean = recent.isEmpty ? 0 : recent.reduce(0, +) / Float(recent.count)
        // Without history (the first frames of a shot) only a large change counts.
        let cut = recent.isEmpty ? d >= 4 * floor : d >= floor && d > ratio * max(mean, 0.01)
        if cut {
            recent.removeAll()          // the new shot's own motion sets the next threshold
        } else {
            recent.append(d)
            if recent.count > history { recent.removeFirst() }
        }
        return cut
    }
}
