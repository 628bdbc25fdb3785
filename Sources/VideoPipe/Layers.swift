import Foundation

/// Layers mode: a foreground (with its own alpha, or a separate matte) composited over a background,
/// one frame at a time. Each composite carries the foreground's matte (`VideoFrame.matte`) so it
/// can be harmonized in the same pass.
///
/// The background sets the size (the foreground and matte are fitted to it, with a note). The
/// timeline is the foreground's when it is a clip, else the background's; the other layer is a
/// still, or a clip that follows it (by timestamp where both are videos, else by frame index) and
/// holds its last frame if it ends first. A matte clip follows a foreground video the same way, like `-m`.
public final class LayerComposite: RangeSelectable {
    private let driver: FrameSource
    private let foregroundDrives: Bool
    private let other: FrameSource
    private let otherPath: String
    private var otherHeld: VideoFrame?
    private var follower: TimelineFollower?   // the other layer when it is a clip; nil: a still
    private var notes: [String] = []
    public private(set) var info: StreamInfo

    /// - matte: the foreground's matte (image, clip, folder or pattern); nil takes its alpha channel.
    public init(foreground: String, background: String, matte: String?, frameRate: Rational = Rational(25, 1)) throws {
        // Step 1: the background decides the size and bit depth.
        let bgProbe = try openSource(background, frameRate: frameRate)
        let (width, height) = (bgProbe.info.width, bgProbe.info.height)
        let deep = bgProbe.info.layout.isDeep
        let fgProbe = try openSource(foreground, frameRate: frameRate, copyStreams: false)
        if matte == nil && !fgProbe.info.layout.hasAlpha {
            throw PipeError(foreground, "the foreground has no alpha channel: give its matte with --fg-matte MATTE")
        }
        if fgProbe.info.width != width || fgProbe.info.height != height {
            notes.append("\(foreground): foreground is \(fgProbe.info.width)x\(fgProbe.info.height), fitted to the background's \(width)x\(height)")
        }
        // Step 2: open both layers at the background's size (the foreground keeps its alpha).
        let fgLayout = PixelLayout(deep: deep, alpha: matte == nil)
        var fg: FrameSource = try openSource(foreground, frameRate: frameRate, fit: (width, height, fgLayout))
        if let matte {
            fg = try MaskedSource(base: fg, basePath: foreground, maskPath: matte)
        }
        let bg = try openSource(background, frameRate: frameRate, fit: (width, height, PixelLayout(deep: deep, alpha: false)))
        // Step 3: the clip sets the timeline.
        let fgIsStill = Endpoint(foreground).isStill, bgIsStill = Endpoint(background).isStill
        foregroundDrives = !fgIsStill || bgIsStill
        driver = foregroundDrives ? fg : bg
        other = foregroundDrives ? bg : fg
        otherPath = foregroundDrives ? background : foreground
        // Two clips stay in step by timestamp where both have them, else frame by frame.
        if foregroundDrives && !bgIsStill {
            follower = TimelineFollower(bg, byTimestamp: Endpoint(foreground).hasTimestamps && Endpoint(background).hasTimestamps,
                                        leadOrigin: fg.info.startPts)
        }
        var info = driver.info
        info.width = width
        info.height = height
        info.layout = PixelLayout(deep: deep, alpha: false)
        // The picture is the background's: its depth, colour tags, aspect and orientation.
        info.bitDepth = bgProbe.info.bitDepth
        info.color = bgProbe.info.color
        info.sourcePixelFormat = bgProbe.info.sourcePixelFormat
        info.sampleAspectRatio = bgProbe.info.sampleAspectRatio
        info.rotation = bgProbe.info.rotation
        info.displayMatrix = bgProbe.info.displayMatrix
        self.info = info
    }

    /// A part of the clip that sets the timeline; the other layer, when a clip, follows it there.
    public func select(_ range: TimeRange) throws {
        guard let driver = driver as? RangeSelectable else {
            throw PipeError(foregroundDrives ? "--fg" : "--bg", "a folder of images has no time to select a part of")
        }
        try driver.select(range)
        try follower?.followPart(range, lead: driver.info)
        info.expectedFrames = driver.info.expectedFrames
    }

    public var selectedSeconds: (start: Double, end: Double?)? { (driver as? RangeSelectable)?.selectedSeconds }

    public var passthrough: [PassthroughStream] { driver.passthrough }
    public var warnings: [String] { notes + driver.warnings + other.warnings }

    public func next() throws -> SourceItem? {
        guard let item = try driver.next() else { return nil }
        guard case .frame(let frame) = item else { return item }
        // The other layer: a clip's frame shown with this one (held once it ends), or the still.
        if var f = follower {
            let (shown, endedAt) = try f.advance(to: frame, timeBase: driver.info.timeBase)
            follower = f
            if let shown { otherHeld = shown }
            if let endedAt { notes.append("\(otherPath): ends at \(endedAt); its last frame holds for the rest") }
        } else if otherHeld == nil {
            otherHeld = try other.nextFrame()
        }
        guard let held = otherHeld else { throw PipeError(otherPath, "no picture could be decoded") }
        let (fg, bg) = foregroundDrives ? (frame, held) : (held, frame)
        // The layers are converted and composited by the worker that takes the frame.
        let out = VideoFrame(width: bg.width, height: bg.height, layout: bg.layout,
                             pts: frame.pts, duration: frame.duration, index: frame.index)
        out.sourceName = frame.sourceName
        out.warmUp = frame.warmUp
        out.deferUntilComplete { out in
            try fg.complete()
            try bg.complete()
            Self.composite(fg, over: bg, into: out)
        }
        return .frame(out)
    }

    /// fg * a + bg * (1 - a), rounded, into `out` (the background's size and layout), which then
    /// carries `a` as its matte.
    private static func composite(_ fg: VideoFrame, over bg: VideoFrame, into out: VideoFrame) {
        let (w, h) = (bg.width, bg.height)
        let alpha = fg.matte ?? alphaPlane(of: fg, useAlpha: true)
        let fs = fg.layout.channels, bs = bg.layout.channels
        for y in 0..<h {
            if bg.layout.isDeep {
                let f = fg.row16(y), b = bg.row16(y), o = out.row16(y)
                for x in 0..<w {
                    let a = UInt32(alpha[y * w + x]) * 257
                    for c in 0..<3 {
                        o[3 * x + c] = UInt16((UInt32(f[fs * x + c]) * a + UInt32(b[bs * x + c]) * (65535 - a) + 32767) / 65535)
                    }
                }
            } else {
                let f = fg.row8(y), b = bg.row8(y), o = out.row8(y)
                for x in 0..<w {
                    let a = UInt32(alpha[y * w + x])
                    for c in 0..<3 {
                        o[3 * x + c] = UInt8((UInt32(f[fs * x + c]) * a + UInt32(b[bs * x + c]) * (255 - a) + 127) / 255)
                    }
                }
            }
        }
        out.matte = alpha
    }
}
