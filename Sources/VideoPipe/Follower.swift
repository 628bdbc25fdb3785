/// Follows a second clip along a leading stream's timeline: for each leading frame, the frame of
/// the clip shown at the same time, both times counted from each stream's first frame (the clip's
/// last frame at or before that time, so clips of other frame rates or with dropped frames stay in
/// step). Half a millisecond of slack absorbs rounding between time bases. Used for mask clips and
/// for the second layer of `LayerComposite`.
struct TimelineFollower {
    let clip: FrameSource
    private var upcoming: VideoFrame?     // the clip's next frame, not yet shown
    private var leadStart: Int64?
    private var clipStart: Int64?
    private var started = false
    /// The time of the clip's frame now shown, from its first frame.
    private(set) var shownTime = 0.0

    init(_ clip: FrameSource) { self.clip = clip }

    /// Advances to the leading `frame` (whose stream has `timeBase`). `shown` is the clip's newly
    /// shown frame, nil while the one shown before still holds (and on an empty clip); `pastEnd`
    /// says the clip has ended more than one of its frames before `frame`'s time.
    mutating func advance(to frame: VideoFrame, timeBase: Rational) throws -> (shown: VideoFrame?, pastEnd: Bool) {
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
        return (shown, upcoming == nil && started && t > shownTime + 1 / rate + 0.0005)
    }
}
