import Foundation
import NIOConcurrencyHelpers

/// An 8-bit alpha plane from a frame: its own alpha channel (`useAlpha`), else the luma of its RGB
/// (BT.601 weights), which for grey masks is the grey value itself.
public func alphaPlane(of frame: VideoFrame, useAlpha: Bool = false) -> [UInt8] {
    let (width, height, step) = (frame.width, frame.height, frame.layout.channels)
    var alpha = [UInt8](repeating: 0, count: width * height)
    let fromAlpha = useAlpha && frame.layout.hasAlpha
    @inline(__always) func luma(_ r: UInt32, _ g: UInt32, _ b: UInt32) -> UInt32 { 77 * r + 150 * g + 29 * b }
    for y in 0..<height {
        if frame.layout.isDeep {
            let row = frame.row16(y)
            for x in 0..<width {
                let p = x * step
                let v: UInt32 = fromAlpha ? (UInt32(row[p + 3]) + 128) / 257
                    : (luma(UInt32(row[p]), UInt32(row[p + 1]), UInt32(row[p + 2])) + 32896) / 65792
                alpha[y * width + x] = UInt8(v)
            }
        } else {
            let row = frame.row8(y)
            for x in 0..<width {
                let p = x * step
                alpha[y * width + x] = fromAlpha ? row[p + 3]
                    : UInt8((luma(UInt32(row[p]), UInt32(row[p + 1]), UInt32(row[p + 2])) + 128) >> 8)
            }
        }
    }
    return alpha
}

/// Opens a mask given as an image, clip, folder or pattern, delivering frames of `width` x `height`
/// (scaled with a note when its size differs). A frame's alpha is its `matte` where the reader took
/// it straight from the luma plane, else `alphaPlane` of its pixels.
func openMask(_ path: String, width: Int, height: Int) throws -> (source: FrameSource, note: String?) {
    let probe = try openSource(path, copyStreams: false, matteOnly: true)
    if probe.info.width == width && probe.info.height == height { return (probe, nil) }
    let note = "\(path): mask is \(probe.info.width)x\(probe.info.height), scaled to \(width)x\(height)"
    switch Endpoint(path) {
    case .folder:
        return (try FolderSource(folder: path, fit: (width, height, .rgb8)), note)
    default:
        return (try MediaReader(path: path, copyStreams: false, fit: (width, height, .rgb8), matteOnly: true), note)
    }
}

/// A still mask as an 8-bit alpha plane of a given size.
public struct StillMask: Sendable {
    public let width: Int
    public let height: Int
    public let alpha: [UInt8]
    public let note: String?

    public init(path: String, width: Int, height: Int) throws {
        let (source, note) = try openMask(path, width: width, height: height)
        guard let frame = try source.nextFrame() else { throw PipeError(path, "no picture could be decoded from the mask") }
        try frame.complete()
        self.width = width
        self.height = height
        self.alpha = frame.matte ?? alphaPlane(of: frame)
        self.note = note
    }
}

/// The input's frames, each carrying one still mask as its `matte`. The mask file is read on a
/// thread of its own, started here, while the decode thread reads the input's first frame: for a
/// single picture the two decodes overlap (a 3840x2160 png mask takes ~0.1 s of a 1.8 s run). A mask
/// that cannot be read fails the run at the first frame, with the same message as before.
public final class StillMaskSource: FrameSource {
    private let base: FrameSource
    private let loaded = NIOLockedValueBox<Result<StillMask, Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    public init(base: FrameSource, maskPath: String) {
        self.base = base
        let (width, height, loaded, done) = (base.info.width, base.info.height, loaded, done)
        let thread = Thread {
            Thread.current.name = "harmonize.mask"
            let result = Result { try StillMask(path: maskPath, width: width, height: height) }
            loaded.withLockedValue { $0 = result }
            done.signal()
        }
        thread.start()
    }

    deinit { _ = mask }     // the loading thread reads the mask file: not left running past its source

    /// The loaded mask (waits for the loading thread the first time).
    private var mask: Result<StillMask, Error> {
        if let result = loaded.withLockedValue({ $0 }) { return result }
        done.wait()
        done.signal()       // for the next caller
        return loaded.withLockedValue { $0! }
    }

    public var info: StreamInfo { base.info }
    public var passthrough: [PassthroughStream] { base.passthrough }
    public var warnings: [String] {
        let note = (try? mask.get())?.note
        return (note.map { [$0] } ?? []) + base.warnings
    }

    public func next() throws -> SourceItem? {
        guard let item = try base.next() else { return nil }
        guard case .frame(let frame) = item else { return item }
        let mask = self.mask        // after the frame is decoded: the two reads overlap
        frame.deferUntilComplete { $0.matte = try mask.get().alpha }
        return .frame(frame)
    }
}

/// The input's frames, each carrying the matching frame of a mask clip as its `matte`: by frame
/// index, or by timestamp when both are videos (each frame takes the last mask frame shown at or
/// before its time, counted from each stream's first frame, so clips of other frame rates or with
/// dropped frames stay in step). A mask clip that ends before the input holds
/// its last frame, with a warning.
public final class MaskedSource: RangeSelectable {
    private let base: FrameSource
    private let mask: FrameSource
    private let maskPath: String
    private var follower: TimelineFollower
    private var last: SharedMatte?
    private var notes: [String] = []

    /// `basePath` is where `base` was opened from; it and `maskPath` decide index or timestamp sync.
    /// Over a part of the input (`select`, here or on a reader before it is wrapped), the mask clip
    /// follows it (`TimelineFollower.followPart`).
    public init(base: FrameSource, basePath: String, maskPath: String) throws {
        self.base = base
        self.maskPath = maskPath
        let (source, note) = try openMask(maskPath, width: base.info.width, height: base.info.height)
        mask = source
        let byTimestamp = Endpoint(basePath).hasTimestamps && Endpoint(maskPath).hasTimestamps
        follower = TimelineFollower(source, byTimestamp: byTimestamp, leadOrigin: base.info.startPts)
        if let range = (base as? MediaReader)?.selected { try follower.followPart(range, lead: base.info) }
        if let note { notes.append(note) }
    }

    public func select(_ range: TimeRange) throws {
        guard let base = base as? RangeSelectable else { throw PipeError(maskPath, "the input has no time to select a part of") }
        try base.select(range)
        try follower.followPart(range, lead: base.info)
    }

    public var selectedSeconds: (start: Double, end: Double?)? { (base as? RangeSelectable)?.selectedSeconds }

    public var info: StreamInfo { base.info }
    public var passthrough: [PassthroughStream] { base.passthrough }
    public var warnings: [String] { notes + base.warnings + mask.warnings }

    public func next() throws -> SourceItem? {
        guard let item = try base.next() else { return nil }
        guard case .frame(let frame) = item else { return item }
        let (shown, endedAt) = try follower.advance(to: frame, timeBase: base.info.timeBase)
        if let shown { last = SharedMatte(shown) }      // only the frames shown are converted
        if let endedAt { notes.append("\(maskPath): mask ends at \(endedAt); its last frame holds for the rest") }
        guard let last else { throw PipeError(maskPath, "no picture could be decoded from the mask") }
        frame.deferUntilComplete { $0.matte = try last.alpha() }
        return .frame(frame)
    }
}

/// A mask frame's alpha plane, made once by whichever worker needs it first: one mask frame may be
/// the matte of several input frames (a mask clip at a lower rate, or one that ended and holds).
final class SharedMatte: @unchecked Sendable {
    private let lock = NIOLock()
    private var frame: VideoFrame?
    private var plane: [UInt8]?

    init(_ frame: VideoFrame) { self.frame = frame }

    func alpha() throws -> [UInt8] {
        try lock.withLock {
            if let plane { return plane }
            guard let frame else { preconditionFailure("mask frame released before its alpha was made") }
            try frame.complete()
            let made = frame.matte ?? alphaPlane(of: frame)
            plane = made
            self.frame = nil            // its pixels are not needed again
            return made
        }
    }
}
