import Engine
import Foundation
import Synchronization
import VideoPipe

/// The in-order stage between the workers and the encoder: takes each frame's predicted curves,
/// smooths them over time (`TemporalSmoother`: a centred window behind a fixed delay, reset at scene
/// cuts), renders them into the frame and hands it to the real sink. It holds at most `radius`
/// frames beyond the pipeline's own window.
final class SmoothingSink: FrameSink, @unchecked Sendable {
    private let sink: FrameSink
    private let harmonizer: Harmonizer
    private let smoother: TemporalSmoother<(VideoFrame, Harmonizer.Prediction)>
    private let export: CurveExport?
    private let predictions = Mutex<[Int: Harmonizer.Prediction]>([:])
    private var lastCurves: ToneCurves?
    private var lastSignature: [Float] = []
    /// Shots found (1 + cuts), for the summary.
    private(set) var shots = 0

    /// Write input | output side by side (frames twice as wide), for review.
    private let sideBySide: Bool

    init(sink: FrameSink, harmonizer: Harmonizer, radius: Int, cutRatio: Float, export: CurveExport?, sideBySide: Bool = false) {
        self.sink = sink
        self.sideBySide = sideBySide
        self.harmonizer = harmonizer
        self.smoother = TemporalSmoother(radius: radius, detector: SceneCutDetector(ratio: cutRatio))
        self.export = export
    }

    /// The worker stage: predict and keep the result for the in-order stage.
    func predict(_ frame: VideoFrame) {
        let p = harmonizer.predict(frame)
        predictions.withLock { $0[frame.index] = p }
    }

    var notes: [String] { sink.notes }

    func write(_ frame: VideoFrame) throws {
        guard let p = predictions.withLock({ $0.removeValue(forKey: frame.index) }) else {
            throw PipeError("", "frame \(frame.index): no prediction (internal error)")
        }
        // A frame without a mask borrows its predecessor's curves, so it neither pulls its
        // neighbours toward the identity nor looks like a cut.
        let curves = p.stages == nil ? (lastCurves ?? p.curves) : p.curves
        let signature = p.signature.isEmpty ? lastSignature : p.signature
        lastCurves = curves
        lastSignature = signature
        try emit(smoother.push(curves, signature: signature, payload: (frame, p)))
    }

    func write(_ packet: StreamPacket) throws { try sink.write(packet) }

    func finish() throws {
        try emit(smoother.finish())
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
            shots = max(shots, out.shot + 1)
            let pair = sideBySide ? SmoothingSink.doubleWidth(frame) : nil
            if p.stages != nil { harmonizer.render(frame, alpha: p.alpha, curves: out.curves) }
            if let pair {
                SmoothingSink.copy(frame, into: pair, at: frame.width)
                try sink.write(pair)
            } else {
                try sink.write(frame)
            }
            export?.written(frame, .init(stages: p.stages ?? [], applied: p.stages == nil ? .identity() : out.curves))
        }
    }
}
