import Foundation

/// A part of a clip to process (`harmonize --start T --duration D`): the frames whose timestamps
/// fall in [start, start + duration), in seconds from the stream's start, frame-accurately. Frames
/// are also read for `warmUpBefore` seconds before it and `warmUpAfter` after it, so that whatever
/// looks at a frame's neighbours (temporal smoothing, scene cuts, the choice of frames to infer)
/// sees the same ones as a pass over the whole clip; those frames are marked `VideoFrame.warmUp`
/// and not written. Ranges that tile a clip give parts that join into the single pass's result.
public struct TimeRange: Sendable, Equatable {
    public var start: Double
    /// nil: to the end of the clip.
    public var duration: Double?
    public var warmUpBefore: Double
    public var warmUpAfter: Double

    public init(start: Double, duration: Double?, warmUpBefore: Double = 0, warmUpAfter: Double = 0) {
        self.start = start
        self.duration = duration
        self.warmUpBefore = warmUpBefore
        self.warmUpAfter = warmUpAfter
    }

    public var end: Double? { duration.map { start + $0 } }

    /// "start+duration" ("4.000000+2.000000", "4.000000+" to the end), as outputs record it.
    public var label: String {
        String(format: "%.6f+", start) + (duration.map { String(format: "%.6f", $0) } ?? "")
    }

    /// Parses a `label`.
    public init?(label: String) {
        let parts = label.split(separator: "+", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Double(parts[0]) else { return nil }
        let duration = parts[1].isEmpty ? nil : Double(parts[1])
        if !parts[1].isEmpty && duration == nil { return nil }
        self.init(start: start, duration: duration)
    }
}

/// A source that can deliver a part of its clip (`harmonize --start/--duration`): a video reader,
/// and what wraps one (a mask clip's or a layer's follower follows it to the same time).
public protocol RangeSelectable: FrameSource {
    /// Deliver only `range` and its warm-up (frames marked `warmUp`). Call before the first `next()`.
    func select(_ range: TimeRange) throws
    /// The selected range on the container's clock (seconds), for `RangeSink`; nil before `select`.
    var selectedSeconds: (start: Double, end: Double?)? { get }
}

/// Seconds from a time given as seconds ("90", "12.5") or [[hh:]mm:]ss[.fraction] ("1:30",
/// "00:01:30.500"), as FFmpeg's -ss takes it; nil if it is neither, or beyond 10^9 s (31 years:
/// no clip is that long, and stream ticks of such a time could overflow).
public func parseTime(_ text: String) -> Double? {
    let fields = text.split(separator: ":", omittingEmptySubsequences: false)
    guard (1...3).contains(fields.count) else { return nil }
    var seconds = 0.0
    for (i, field) in fields.enumerated() {
        let last = i == fields.count - 1
        // Minutes and hours are whole numbers; the seconds field may have a fraction.
        guard !field.isEmpty, field.allSatisfy({ $0.isASCII && ($0.isNumber || (last && $0 == ".")) }),
              let value = Double(field), value.isFinite else { return nil }
        if i > 0 && value >= 60 { return nil }
        seconds = seconds * 60 + value
    }
    return seconds <= 1e9 ? seconds : nil
}
