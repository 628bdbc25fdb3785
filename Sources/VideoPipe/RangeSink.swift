import CFFmpeg

/// The last stage of a pass over a part of a clip (`MediaReader.select`): writes the frames of the
/// range and drops its warm-up frames, and keeps the copied streams' packets whose time falls in
/// the range, so that the parts of a clip cut at the same times share out its audio exactly.
public final class RangeSink: FrameSink {
    private let sink: FrameSink
    private let start: Double
    private let end: Double?
    private let timeBases: [Int32: Double]
    /// Frames written (the range's), and warm-up frames dropped.
    public private(set) var written = 0
    public private(set) var dropped = 0

    private let input: String
    private let range: TimeRange

    /// - window: the range on the container's clock (`RangeSelectable.selectedSeconds`).
    /// - input, range: the input's name and the range as asked for, for messages.
    public init(sink: FrameSink, window: (start: Double, end: Double?), passthrough: [PassthroughStream],
                input: String, range: TimeRange) {
        self.sink = sink
        start = window.start
        end = window.end
        timeBases = Dictionary(passthrough.map { ($0.inputIndex, av_q2d($0.timeBase)) }, uniquingKeysWith: { a, _ in a })
        self.input = input
        self.range = range
    }

    public var notes: [String] { sink.notes }

    public func write(_ frame: VideoFrame) throws {
        if frame.warmUp {
            dropped += 1
            return
        }
        written += 1
        try sink.write(frame)
    }

    public func write(_ packet: StreamPacket) throws {
        let p = packet.packet.pointee
        let pts = p.pts != AV_NOPTS ? p.pts : p.dts
        if pts != AV_NOPTS, let timeBase = timeBases[packet.streamIndex] {
            let t = Double(pts) * timeBase
            if t < start || (end.map { t >= $0 } ?? false) { return }
        }
        try sink.write(packet)
    }

    /// A range that held no frame gives no output (an empty video would not play), and neither
    /// does an interrupted one: a part is written whole or not at all, since `join` takes its
    /// range from its tag, and a retry must not find a short part in its place.
    public func finish() throws {
        if Interrupt.isRequested { throw PartInterrupted(frames: written) }
        if written == 0 {
            let span = String(format: "from %.3f s", range.start) + (range.end.map { String(format: " to %.3f s", $0) } ?? " to the end")
            throw PipeError(input, "no frame falls in the range \(span) (the input ends before it); nothing written")
        }
        try sink.finish()
    }

    public func abort() { sink.abort() }
}

/// A pass over a part of a clip was interrupted: nothing was written (`RangeSink.finish`).
public struct PartInterrupted: Error, Sendable {
    public let frames: Int
}
