import CKernels
import Foundation

/// Three colour curves of K linear pieces, as the network predicts them (S2CRNet's CRM output).
///
/// Curve c maps x in [0, 1] to y(x) = min(1, (e_c K / sum p_c) * sum_i clamp(x - i/K, 0, 1/K) * p_c[i]):
/// positive piece weights p (the network takes exp of its raw output) shared out over the end value
/// y(1) = e_c. Every curve rises monotonically from 0; equal weights and e = 1 are the identity.
/// Format 1 models fix e = 1, so a darkening curve has to jump back up to 1 at the top; format 2
/// predicts e (up to 1.25, the output clipped at 1).
public struct CurveParameters: Sendable, Equatable {
    public let pieces: Int
    /// Channel-major: weights[c * pieces + i].
    public let weights: [Float]
    /// y(1) per channel.
    public let ends: [Float]

    public init(pieces: Int, weights: [Float], ends: [Float] = [1, 1, 1]) {
        precondition(pieces > 0 && weights.count == 3 * pieces, "need 3 x \(pieces) weights")
        precondition(weights.allSatisfy { $0 > 0 && $0.isFinite }, "curve weights must be positive")
        precondition(ends.count == 3 && ends.allSatisfy { $0 > 0 && $0.isFinite }, "curve ends must be 3 positive numbers")
        self.pieces = pieces
        self.weights = weights
        self.ends = ends
    }

    public static func identity(pieces: Int = 64) -> CurveParameters {
        CurveParameters(pieces: pieces, weights: [Float](repeating: 1, count: 3 * pieces))
    }

    /// y(x) for channel `c`: the prefix sum of the weights below x's piece plus its share of that piece.
    public func evaluate(channel c: Int, _ x: Float) -> Float {
        let w = weights[(c * pieces)..<((c + 1) * pieces)]
        let t = min(max(x, 0), 1) * Float(pieces)
        let k = min(Int(t), pieces - 1)
        var before: Float = 0
        for i in 0..<k { before += w[w.startIndex + i] }
        return min(1, (before + (t - Float(k)) * w[w.startIndex + k]) * scale(c))
    }

    /// `evaluate(channel: c, _:)` of `count` values from `x` into `y`: the same arithmetic, with the
    /// prefix sums made once instead of once a value.
    func evaluate(channel c: Int, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        weights.withUnsafeBufferPointer { all in
            let w = all.baseAddress! + c * pieces
            withUnsafeTemporaryAllocation(of: Float.self, capacity: pieces) { before in
                var run: Float = 0
                for i in 0..<pieces { before[i] = run; run += w[i] }
                hz_apply_pieces(x, y, count, before.baseAddress!, w, scale(c), Int32(pieces))
            }
        }
    }

    /// What turns channel c's weights into output units: its end value over the weights' sum.
    func scale(_ c: Int) -> Float {
        var total: Float = 0
        for i in 0..<pieces { total += weights[c * pieces + i] }
        return ends[c] / total
    }

    /// Each piece's rise, y((i+1)/K) - y(i/K) before the clip at 1, channel-major: the form the
    /// reference (training/model.py) works in.
    public var increments: [Float] {
        var out = weights
        for c in 0..<3 {
            let scale = scale(c)
            for i in 0..<pieces { out[c * pieces + i] *= scale }
        }
        return out
    }

    /// Format 3's curves (training/model.py, bound_slopes): each piece's slope s bent below `bound`,
    /// s itself up to `knee`, knee + (bound - knee) tanh((s - knee) / (bound - knee)) above, with
    /// the end value y(1) the sum of the bent pieces. A curve that has to darken therefore ends low
    /// instead of jumping back up at the top.
    public func boundingSlopes(below bound: Float, knee: Float) -> CurveParameters {
        precondition(bound > knee && knee > 0)
        let span = Double(bound - knee), K = Double(pieces)
        let bent = increments.map { d -> Float in
            let s = Double(d) * K
            return Float((s > Double(knee) ? Double(knee) + span * tanh((s - Double(knee)) / span) : s) / K)
        }
        let ends = (0..<3).map { c in bent[(c * pieces)..<((c + 1) * pieces)].reduce(0, +) }
        return CurveParameters(pieces: pieces, weights: bent, ends: ends)
    }

    /// The prefix sums per channel, scaled to the end value: cumulative[c * (K + 1) + i] = e sum_{j<i} p / sum p.
    func cumulative() -> [Float] {
        var out = [Float](repeating: 0, count: 3 * (pieces + 1))
        for c in 0..<3 {
            let scale = scale(c)
            var run: Float = 0
            for i in 0..<pieces {
                out[c * (pieces + 1) + i] = run * scale
                run += weights[c * pieces + i]
            }
            out[c * (pieces + 1) + pieces] = ends[c]
        }
        return out
    }
}

/// Curves sampled at `size` evenly spaced inputs 0...1 per channel: the form in which curves are
/// composed (cascades), averaged over time, weakened (`strength`) and turned into lookup tables.
public struct ToneCurves: Sendable, Equatable {
    public let size: Int
    /// Channel-major: values[c * size + i] = curve_c(i / (size - 1)).
    public var values: [Float]

    public init(size: Int, values: [Float]) {
        precondition(size >= 2 && values.count == 3 * size)
        self.size = size
        self.values = values
    }

    public static func identity(size: Int = 256) -> ToneCurves {
        let ramp = (0..<size).map { Float($0) / Float(size - 1) }
        return ToneCurves(size: size, values: ramp + ramp + ramp)
    }

    /// The network's curves, sampled.
    public init(_ p: CurveParameters, size: Int = 256) {
        self = ToneCurves.identity(size: size).then(p)
    }

    /// A cascade's stages applied one after the other, sampled: the single curve set to render.
    public init(composing stages: [CurveParameters], size: Int = 256) {
        self = stages.reduce(ToneCurves.identity(size: size)) { $0.then($1) }
    }

    /// These curves followed by `p` (a cascade's second stage acts on the first one's output).
    public func then(_ p: CurveParameters) -> ToneCurves {
        let cum = p.cumulative()
        let K = p.pieces
        var out = values
        for c in 0..<3 {
            let scale = p.scale(c)
            for i in 0..<size {
                let t = min(max(values[c * size + i], 0), 1) * Float(K)
                let k = min(Int(t), K - 1)
                out[c * size + i] = min(1, cum[c * (K + 1) + k] + (t - Float(k)) * p.weights[c * K + k] * scale)
            }
        }
        return ToneCurves(size: size, values: out)
    }

    /// The steepest rise between neighbouring samples, in output levels per input level (1 is the identity).
    public var maxSlope: Float {
        var steepest: Float = 0
        for c in 0..<3 { for i in 0..<(size - 1) { steepest = max(steepest, values[c * size + i + 1] - values[c * size + i]) } }
        return steepest * Float(size - 1)
    }

    /// The curves with every rise between neighbouring samples capped at `slope` levels per level
    /// (the render-time guard against amplified noise; a capped jump lowers the curve above it), and
    /// whether anything was capped.
    public func limitingSlope(_ slope: Float) -> (curves: ToneCurves, limited: Bool) {
        let step = slope / Float(size - 1)
        var out = values
        var limited = false
        for c in 0..<3 {
            for i in 1..<size {
                let rise = values[c * size + i] - values[c * size + i - 1]
                if rise > step * 1.0001 { limited = true }
                out[c * size + i] = out[c * size + i - 1] + min(rise, step)
            }
        }
        return limited ? (ToneCurves(size: size, values: out), true) : (self, false)
    }

    /// Curve value at any x in [0, 1], linearly interpolated between samples.
    public func value(channel c: Int, at x: Float) -> Float {
        let t = min(max(x, 0), 1) * Float(size - 1)
        let i = min(Int(t), size - 2)
        let f = t - Float(i)
        return values[c * size + i] * (1 - f) + values[c * size + i + 1] * f
    }

    /// (1 - t) a + t b, sample by sample (curves of the same size).
    public static func interpolate(_ a: ToneCurves, _ b: ToneCurves, _ t: Float) -> ToneCurves {
        precondition(a.size == b.size)
        return ToneCurves(size: a.size, values: zip(a.values, b.values).map { $0 * (1 - t) + $1 * t })
    }

    /// The curves weakened toward the identity: 0 is the identity, 1 the curves themselves.
    public func strength(_ s: Float) -> ToneCurves {
        ToneCurves.interpolate(.identity(size: size), self, s)
    }

    /// Resampled to `n` entries per channel (e.g. 1024 for 10-bit work).
    public func resampled(_ n: Int) -> ToneCurves {
        var v = [Float](repeating: 0, count: 3 * n)
        for c in 0..<3 { for i in 0..<n { v[c * n + i] = value(channel: c, at: Float(i) / Float(n - 1)) } }
        return ToneCurves(size: n, values: v)
    }
}
