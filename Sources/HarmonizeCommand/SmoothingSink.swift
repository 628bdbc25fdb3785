import Engine
import Foundation
import NIOConcurrencyHelpers
import VideoPipe

/// The in-order stage between the workers and the encoder, and the planning step before them:
///
/// 1. On the workers, in frame order (`plan`, the pipeline's in-order step), a `KeyFramePlanner` marks
///    scene cuts and the frames the network runs on (`--infer-every`), from a cheap sketch of each frame.
/// 2. Workers (`predict`) run the network on those frames only.
/// 3. Here, in frame order (`write`): frames between two inferred frames of a shot get curves
///    interpolated between them (held after the last one of a shot); `TemporalSmoother` averages
///    the curves over a centred window behind a fixed delay, reset at cuts; the slope guard caps
///    what is left steeper than `maxSlope` (counted: the model should not need it); then the curves
///    are rendered into the frame and it goes on to the real sink.
///
/// Beyond the pipeline's own window it holds the frames since the last inferred one plus `radius`.
final class SmoothingSink: FrameSink, @unchecked Sendable {
    private let sink: FrameSink
    private let harmonizer: Harmonizer
    private let planner: KeyFramePlanner
    private let smoother: TemporalSmoother<(VideoFrame, Harmonizer.Prediction)>
    private let export: CurveExport?
    private let decisions = NIOLockedValueBox<[Int: KeyFramePlanner.Decision]>([:])
    private let predictions = NIOLockedValueBox<[Int: (Harmonizer.Prediction, KeyFramePlanner.Decision)]>([:])
    /// The last inferred frame (its index and curves) and the frames after it awaiting the next.
    private var lastKey: (index: Int, curves: ToneCurves)?
    private var pending: [(VideoFrame, Harmonizer.Prediction)] = []
    /// Shots found (1 + cuts), and frames the network ran on (mask not empty), for the summary.
    private(set) var shots = 0
    private(set) var inferred = 0
    /// Frames whose curves the slope guard changed.
    private(set) var slopeLimited = 0
    private let maxSlope: Float?
    /// The unpacked mask of the frame being rendered (`Harmonizer.render`).
    private var maskBuffer: [UInt8] = []
    /// Seconds spent rendering curves into frames (on the writer's thread), for `--stats`.
    private(set) var renderSeconds = 0.0

    /// Write input | output side by side (frames twice as wide), for review.
    private let sideBySide: Bool

    /// The source's timing: frame numbers from the clip's start, for the planner's grid.
    private let clock: StreamInfo

    init(sink: FrameSink, harmonizer: Harmonizer, clock: StreamInfo, radius: Int, cutRatio: Float,
         policy: InferencePolicy = .every(1), export: CurveExport?, sideBySide: Bool = false, maxSlope: Float? = nil) {
        self.sink = sink
        self.clock = clock
        self.maxSlope = maxSlope
        self.sideBySide = sideBySide
        self.harmonizer = harmonizer
        self.planner = KeyFramePlanner(policy: policy, detector: SceneCutDetector(ratio: cutRatio))
        self.smoother = TemporalSmoother(radius: radius)
        self.export = export
    }

    /// Frames read before a part of a clip (`--start`) so that its first frame is planned, inferred and
    /// smoothed as in a pass over the whole clip (`TimeRange.warmUpBefore`), and after it.
    static func warmUpFrames(policy: InferencePolicy, radius: Int, cutRatio: Float) -> (before: Int, after: Int) {
        let planner = KeyFramePlanner(policy: policy, detector: SceneCutDetector(ratio: cutRatio))
        // Converged plans, then the inferred frame a first frame's curves come from (up to a gap
        // back) and its smoothing window; after the part, the next inferred frame and the window.
        return (planner.convergenceFrames + policy.maxGap + radius + 2, policy.maxGap + radius + 2)
    }

    /// The in-order step: is this frame a cut, and does the network run on it?
    func plan(_ frame: VideoFrame) {
        let decision = planner.decide(harmonizer.sketch(frame), frame: clock.frameNumber(frame.pts))
        decisions.withLockedValue { $0[frame.index] = decision }
    }

    /// The worker stage: predict (where planned) and keep the result for the in-order stage.
    func predict(_ frame: VideoFrame) {
        guard let d = decisions.withLockedValue({ $0.removeValue(forKey: frame.index) }) else {
            preconditionFailure("frame \(frame.index) reached a worker without a plan")
        }
        let p = harmonizer.predict(frame, infer: d.infer)
        predictions.withLockedValue { $0[frame.index] = (p, d) }
    }

    var notes: [String] { sink.notes }

    func write(_ frame: VideoFrame) throws {
        guard let (p, d) = predictions.withLockedValue({ $0.removeValue(forKey: frame.index) }) else {
            throw PipeError("", "frame \(frame.index): no prediction (internal error)")
        }
        guard d.infer else {
            pending.append((frame, p))
            return
        }
        if p.stages != nil { inferred += 1 }
        // The frames since the last inferred one: interpolated within a shot, held before a cut.
        if d.cut {
            try flushPending(next: nil)
            lastKey = nil               // nothing of the last shot carries into this one
        }
        // A frame whose mask is empty has no curves of its own: it holds the shot's last ones (or
        // the identity) and stays out of its neighbours' averages.
        let curves = p.stages == nil ? (lastKey?.curves ?? p.curves) : p.curves
        try flushPending(next: (frame.index, curves))
        try emit(smoother.push(curves, cut: d.cut, counts: p.stages != nil, payload: (frame, p)))
        lastKey = (frame.index, curves)
    }

    private func flushPending(next: (index: Int, curves: ToneCurves)?) throws {
        for (frame, p) in pending {
            var curves = lastKey?.curves ?? next?.curves ?? .identity()
            if let a = lastKey, let b = next {
                curves = ToneCurves.interpolate(a.curves, b.curves, Float(frame.index - a.index) / Float(b.index - a.index))
            }
            try emit(smoother.push(curves, cut: false, payload: (frame, p)))
        }
        pending.removeAll()
    }

    func write(_ packet: StreamPacket) throws { try sink.write(packet) }

    func finish() throws {
        try flushPending(next: nil)
        try emit(smoother.finish())
        try export?.endOfClip()
        try sink.finish()
    }

    func abort() { sink.abort() }

    /// A frame twice as wide with `frame` (the input, before rendering) in its left half.
    static func doubleWidth(_ frame: VideoFrame) -> VideoFrame {
        let pair = VideoFrame(width: 2 * frame.width, height: frame.height, layout: frame.layout, pts: frame.pts,
                              duration: frame.duration, index: frame.index)
        pair.sourceName = frame.sourceName
        copy(frame, into: pair, at: 0)
        return pair
    }

    static func copy(_ frame: VideoFrame, into pair: VideoFrame, at x: Int) {
        let bytes = frame.width * frame.layout.bytesPerPixel
        for y in 0..<frame.height {
            (pair.data + y * pair.rowBytes + x * frame.layout.bytesPerPixel).copyMemory(from: frame.data + y * frame.rowBytes, byteCount: bytes)
        }
    }

    private func emit(_ ready: [TemporalSmoother<(VideoFrame, Harmonizer.Prediction)>.Output]) throws {
        for out in ready {
            let (frame, p) = out.payload
            if frame.warmUp {           // only its curves were needed (the sink drops it)
                try sink.write(frame)
                continue
            }
            shots = max(shots, out.shot + 1)
            let pair = sideBySide ? SmoothingSink.doubleWidth(frame) : nil
            var curves = out.curves
            if let maxSlope {
                let guarded = curves.limitingSlope(maxSlope)
                if guarded.limited { slopeLimited += 1 }
                curves = guarded.curves
            }
            let start = DispatchTime.now().uptimeNanoseconds
            harmonizer.render(frame, mask: p.mask, curves: curves, buffer: &maskBuffer)
            renderSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if let pair {
                SmoothingSink.copy(frame, into: pair, at: frame.width)
                try sink.write(pair)
            } else {
                try sink.write(frame)
            }
            try export?.written(frame, .init(stages: p.stages ?? [], applied: curves), shot: out.shot)
        }
    }
}
