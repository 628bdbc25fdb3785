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
/// (scaled with a note when its size differs; its own size when they are nil). A frame's alpha is its `matte` where the reader took
/// it straight from the luma plane, else `alphaPlane` of its pixels. `ownSize`, where the caller
/// knows it, spares opening the mask once at its own size only to learn it (an image file is
/// decoded as it opens).
func openMask(_ path: String, width: Int?, height: Int?, ownSize: (width: Int, height: Int)? = nil) throws -> (source: FrameSource, note: String?) {
    func atOwnSize() throws -> FrameSource { try openSource(path, copyStreams: false, matteOnly: true) }
    let probe = ownSize == nil ? try atOwnSize() : nil
    let own = ownSize ?? (probe!.info.width, probe!.info.height)
    guard let width, let height, own.width != width || own.height != height else { return (try probe ?? atOwnSize(), nil) }
    let note = "\(path): mask is \(own.width)x\(own.height), scaled to \(width)x\(height)"
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

    /// The mask at `width` x `height` (scaled, with a note, when its own size differs), or at its
    /// own size when they are nil; `ownSize` where it is known already.
    public init(path: String, width: Int? = nil, height: Int? = nil, ownSize: (width: Int, height: Int)? = nil) throws {
        let (source, note) = try openMask(path, width: width, height: height, ownSize: ownSize)
        guard let frame = try source.nextFrame() else { throw PipeError(path, "no picture could be decoded from the mask") }
        try frame.complete()
        self.width = frame.width
        self.height = frame.height
        self.alpha = frame.matte ?? alphaPlane(of: frame)
        self.note = note
    }

    /// Starts reading the mask at its own size on a thread of its own (`StillMaskSource`).
    public static func prefetch(_ path: String) -> Prefetch<StillMask> {
        Prefetch(thread: "harmonize.mask") { try StillMask(path: path) }
    }
}

/// The input's frames, each carrying one still mask as its `matte`. The mask file is read on a
/// thread of its own (`StillMask.prefetch`), started before the input is opened, so that the two
/// decodes overlap (a 3840x2160 png mask takes ~40 ms; a single image is decoded as it opens). A
/// mask of another size than the input is read again, scaled, at the first frame. A mask that cannot
/// be read fails the run at the first frame, with the same message as before.
public final class StillMaskSource: FrameSource {
    private let base: FrameSource
    private let maskPath: String
    /// The mask being read at its own size, until it is fitted to the input's (then let go: a mask
    /// of another size is not kept twice).
    private let state: NIOLockedValueBox<(loading: Prefetch<StillMask>?, fitted: Result<StillMask, Error>?)>

    /// - loading: the mask being read at its own size; nil starts reading it now.
    public init(base: FrameSource, maskPath: String, loading: Prefetch<StillMask>? = nil) {
        self.base = base
        self.maskPath = maskPath
        state = NIOLockedValueBox((loading ?? StillMask.prefetch(maskPath), nil))
    }

    /// The mask at the input's size (waits for the loading thread the first time).
    private var mask: Result<StillMask, Error> {
        let (width, height, maskPath) = (base.info.width, base.info.height, maskPath)
        return state.withLockedValue { state in
            if let fitted = state.fitted { return fitted }
            let result = state.loading!.result.flatMap { mask in
                mask.width == width && mask.height == height ? .success(mask)
                    : Result { try StillMask(path: maskPath, width: width, height: height, ownSize: (mask.width, mask.height)) }
            }
            state = (nil, result)
            return result
        }
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
        let mask = self.mask        // waits for the loading thread at the first frame
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
