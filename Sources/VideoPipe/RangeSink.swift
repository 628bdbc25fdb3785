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

    /// - window: the range on the container's clock (`MediaReader.selectedSeconds`).
    public init(sink: FrameSink, window: (start: Double, end: Double?), passthrough: [PassthroughStream]) {
        self.sink = sink
        start = window.start
        end = window.end
        timeBases = Dictionary(passthrough.map { ($0.inputIndex, av_q2d($0.timeBase)) }, uniquingKeysWith: { a, _ in a })
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

    /// A range that held no frame gives no output (an empty video would not play).
    public func finish() throws {
        if written == 0 {
            let range = String(format: "%.3f", max(0, start)) + (end.map { String(format: "-%.3f s", $0) } ?? " s to the end")
            throw PipeError("", "no frame of the input falls in the range \(range)\(dropped > 0 ? "" : " (it starts after the input ends)"); nothing written")
        }
        try sink.finish()
    }
    public func abort() { sink.abort() }
}
