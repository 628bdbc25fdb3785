import Foundation

/// Follows a second clip along a leading stream: for each leading frame, the clip's frame shown
/// with it, and once, where the clip ended if it ends first (it then holds its last frame).
/// `byTimestamp` (both streams are videos): the clip's last frame at or before the leading frame's
/// time, both counted from each stream's start (as its container declares it, else its first
/// frame; so a pass over a part of the lead, `MediaReader.select`, finds the same frames), so clips of other frame rates or with
/// dropped frames stay in step (half a millisecond of slack absorbs rounding between time bases).
/// Otherwise frame by frame. Used for mask clips and for the second layer of `LayerComposite`.
struct TimelineFollower {
    let clip: FrameSource
    let byTimestamp: Bool
    private var upcoming: VideoFrame?     // by timestamp: the clip's next frame, not yet shown
    private var leadStart: Int64?
    private var clipStart: Int64?
    private var started = false           // a frame of the clip has been shown
    private var ended = false
    private var shownTime = 0.0           // by timestamp: of the frame shown, from the clip's first

    /// Frame by frame over a part of the lead: the lead's timing, to pass over as many of the
    /// clip's frames as come before the lead's first frame (its frame number).
    private var skipToLeadFrame: StreamInfo?

    /// - leadOrigin: the leading stream's start (`StreamInfo.startPts`); nil: its first frame.
    init(_ clip: FrameSource, byTimestamp: Bool, leadOrigin: Int64? = nil) {
        self.clip = clip
        self.byTimestamp = byTimestamp
        leadStart = leadOrigin
        clipStart = clip.info.startPts
    }

    /// The lead delivers a part of its clip (`RangeSelectable.select`), described by `lead`: a clip
    /// followed by timestamp seeks to the same time (a second earlier: the frame shown with the
    /// lead's first may start before it); one followed frame by frame starts at the same frame number.
    mutating func followPart(_ range: TimeRange, lead: StreamInfo) throws {
        if !byTimestamp {
            skipToLeadFrame = lead
        } else if let reader = clip as? MediaReader {
            try reader.select(TimeRange(start: range.start, duration: nil, warmUpBefore: range.warmUpBefore + 1))
        }
    }

    /// Advances to the leading `frame` (whose stream has `timeBase`). `shown` is the clip's newly
    /// shown frame, nil while the one shown before still holds (and on an empty clip). `endedAt`
    /// says, once, where the clip ended ("frame 7", "0.280 s"), when it has ended before `frame`
    /// (by timestamp: by more than one of its frames).
    mutating func advance(to frame: VideoFrame, timeBase: Rational) throws -> (shown: VideoFrame?, endedAt: String?) {
        if ended { return (nil, nil) }
        if let lead = skipToLeadFrame {
            skipToLeadFrame = nil
            var last: VideoFrame?
            for n in 0..<max(0, lead.frameNumber(frame.pts)) {
                guard let next = try clip.nextFrame() else {
                    // The clip ends before the part starts: its last frame holds, as in one pass.
                    ended = true
                    return (last, last.map { _ in "frame \(n)" })
                }
                last = next
            }
        }
        guard byTimestamp else {
            if let next = try clip.nextFrame() {
                started = true
                return (next, nil)
            }
            ended = true
            return (nil, started ? "frame \(frame.index)" : nil)
        }
        let start = leadStart ?? frame.pts
        leadStart = start
        let t = Double(frame.pts - start) * timeBase.double
        if !started, upcoming == nil { upcoming = try clip.nextFrame() }
        var shown: VideoFrame?
        while let candidate = upcoming {
            let cStart = clipStart ?? candidate.pts
            clipStart = cStart
            let tc = Double(candidate.pts - cStart) * clip.info.timeBase.double
            guard !started || tc <= t + 0.0005 else { break }      // the first frame shows at once
            started = true
            shown = candidate
            shownTime = tc
            upcoming = try clip.nextFrame()
        }
        let rate = clip.info.frameRate.isValid ? clip.info.frameRate.double : 25
        if upcoming == nil && started && t > shownTime + 1 / rate + 0.0005 {
            ended = true
            return (shown, String(format: "%.3f s", shownTime))
        }
        return (shown, nil)
    }
}
