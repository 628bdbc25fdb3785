import Foundation
import NIOConcurrencyHelpers
import Synchronization
import Testing
@testable import VideoPipe

/// An in-memory source of numbered frames, with an optional failure at one frame.
final class CountingSource: FrameSource {
    let count: Int
    let failAt: Int?
    private var position = 0
    init(count: Int, failAt: Int? = nil) { self.count = count; self.failAt = failAt }
    var info: StreamInfo {
        StreamInfo(width: 8, height: 4, layout: .rgb8, timeBase: Rational(1, 25), frameRate: Rational(25, 1),
                   sampleAspectRatio: Rational(1, 1), color: ColorTags(), rotation: 0, sourcePixelFormat: nil,
                   expectedFrames: count, bitDepth: 8)
    }
    let passthrough: [PassthroughStream] = []
    let warnings: [String] = []
    func next() throws -> SourceItem? {
        guard position < count else { return nil }
        if position == failAt { throw PipeError("mem", "frame \(position): broken") }
        let f = VideoFrame(width: 8, height: 4, layout: .rgb8, pts: Int64(position), index: position)
        f.row8(0)[0] = UInt8(position % 256)
        position += 1
        return .frame(f)
    }
}

final class RecordingSink: FrameSink {
    var indices: [Int] = []
    var firstBytes: [UInt8] = []
    var finished = false, aborted = false
    let notes: [String] = []
    func write(_ frame: VideoFrame) throws { indices.append(frame.index); firstBytes.append(frame.row8(0)[0]) }
    func write(_ packet: StreamPacket) throws {}
    func finish() throws { finished = true }
    func abort() { aborted = true }
}

@Suite struct PipelineTests {
    @Test func framesComeOutInOrderDespiteUnevenWork() throws {
        let sink = RecordingSink()
        let pipeline = Pipeline(workers: 4) { frame in
            // Later frames finish first: reassembly must restore order.
            usleep(UInt32((7 - frame.index % 8) * 300))
            let row = frame.row8(0)
            row[0] = row[0] &+ 1
        }
        let summary = try pipeline.run(source: CountingSource(count: 200), sink: sink)
        #expect(summary.frames == 200)
        #expect(sink.indices == Array(0..<200))
        #expect(sink.firstBytes == (0..<200).map { UInt8(($0 + 1) % 256) })
        #expect(sink.finished && !sink.aborted)
    }

    @Test func framesInFlightStayBounded() throws {
        /// Frames between the worker that got them and the sink that wrote them.
        final class Gauge: @unchecked Sendable {
            let state = NIOLockedValueBox((live: 0, peak: 0))
            func enter() { state.withLockedValue { $0.live += 1; $0.peak = max($0.peak, $0.live) } }
            func leave() { state.withLockedValue { $0.live -= 1 } }
        }
        final class SlowSink: FrameSink {
            let gauge: Gauge
            init(_ g: Gauge) { gauge = g }
            let notes: [String] = []
            func write(_ frame: VideoFrame) throws { usleep(300); gauge.leave() }
            func write(_ packet: StreamPacket) throws {}
            func finish() throws {}
            func abort() {}
        }
        let gauge = Gauge()
        let pipeline = Pipeline(workers: 3, maxInFlight: 6) { _ in gauge.enter() }
        _ = try pipeline.run(source: CountingSource(count: 300), sink: SlowSink(gauge))
        let peak = gauge.state.withLockedValue { $0.peak }
        #expect(peak <= 6 && peak >= 2, "peak \(peak)")
    }

    /// A sink that takes `delay` microseconds per frame.
    final class DelaySink: FrameSink {
        let delay: UInt32
        init(_ delay: UInt32) { self.delay = delay }
        let notes: [String] = []
        func write(_ frame: VideoFrame) throws { usleep(delay) }
        func write(_ packet: StreamPacket) throws {}
        func finish() throws {}
        func abort() {}
    }

    @Test func statsNameSlowWorkersAsTheBottleneck() throws {
        let pipeline = Pipeline(workers: 1, maxInFlight: 4) { _ in usleep(4000) }
        let summary = try pipeline.run(source: CountingSource(count: 40), sink: DelaySink(0))
        let s = summary.stats
        #expect(s.work.busy >= 0.16, "work busy \(s.work.busy)")
        #expect(s.work.load(over: summary.seconds) > max(s.decode.load(over: summary.seconds), s.write.load(over: summary.seconds)))
        // The decoder spends its time held back by the full window, the writer waiting for frames.
        #expect(s.decode.waiting > s.decode.busy && s.write.waiting > s.write.busy)
        #expect(s.inFlight.samples == 40 + 1 && s.inFlight.full >= 30, "window full at \(s.inFlight.full) of \(s.inFlight.samples)")
        #expect(s.queued.samples == 40 && s.queued.most <= 4)
        #expect(s.work.busy + s.work.waiting <= summary.seconds * 1.05)
        // Sleeping is busy (wall) time but no CPU; the process's CPU covers every stage's.
        #expect(s.work.cpu < 0.5 * s.work.busy, "work cpu \(s.work.cpu) of busy \(s.work.busy)")
        #expect(s.processCPU >= s.decode.cpu + s.work.cpu + s.write.cpu - 0.01)
    }

    @Test func statsNameASlowWriterAsTheBottleneck() throws {
        let pipeline = Pipeline(workers: 2, maxInFlight: 6) { _ in }
        let summary = try pipeline.run(source: CountingSource(count: 40), sink: DelaySink(4000))
        let s = summary.stats
        #expect(s.write.busy >= 0.16 && s.write.busy <= summary.seconds, "write busy \(s.write.busy) of \(summary.seconds)")
        #expect(s.write.load(over: summary.seconds) > 0.6, "write load \(s.write.load(over: summary.seconds))")
        #expect(s.work.waiting > 10 * s.work.busy, "workers wait for frames: \(s.work.waiting) vs \(s.work.busy)")
        #expect(s.decode.waiting > s.decode.busy)
        #expect(s.inFlight.mean > 4, "window mean \(s.inFlight.mean)")
    }

    @Test func sourceErrorAbortsTheSinkAndIsRethrown() throws {
        let sink = RecordingSink()
        let pipeline = Pipeline(workers: 2) { _ in }
        #expect(throws: PipeError.self) { try pipeline.run(source: CountingSource(count: 50, failAt: 20), sink: sink) }
        #expect(sink.aborted && !sink.finished)
        #expect(sink.indices.count <= 20)
    }

    @Test func workerErrorStopsEverything() throws {
        let sink = RecordingSink()
        let pipeline = Pipeline(workers: 2) { frame in
            if frame.index == 7 { throw PipeError("mem", "frame 7: engine failed") }
        }
        let error = #expect(throws: PipeError.self) { try pipeline.run(source: CountingSource(count: 1000), sink: sink) }
        #expect(error?.description == "mem: frame 7: engine failed")
        #expect(sink.aborted)
        #expect(sink.indices.count < 7 + 20)
    }

    /// A source that only decodes: each frame's pixels are filled by a deferred step, as MediaReader
    /// defers its colour conversion. Records the threads that decoded and that ran the steps.
    final class DeferringSource: FrameSource {
        let count: Int
        let failAt: Int?
        let threads = NIOLockedValueBox<Set<UInt>>([])
        let decodeThreads = NIOLockedValueBox<Set<UInt>>([])
        private var position = 0
        init(count: Int, failAt: Int? = nil) { self.count = count; self.failAt = failAt }
        var info: StreamInfo { CountingSource(count: count).info }
        let passthrough: [PassthroughStream] = []
        let warnings: [String] = []
        func next() throws -> SourceItem? {
            guard position < count else { return nil }
            decodeThreads.withLockedValue { _ = $0.insert(UInt(pthread_self())) }
            let f = VideoFrame(width: 8, height: 4, layout: .rgb8, pts: Int64(position), index: position)
            let (n, failAt, threads) = (position, failAt, threads)
            f.deferUntilComplete { frame in
                threads.withLockedValue { _ = $0.insert(UInt(pthread_self())) }
                if n == failAt { throw PipeError("mem", "frame \(n): cannot convert") }
                usleep(UInt32((3 - n % 4) * 200))       // uneven, so workers finish out of order
                frame.row8(0)[0] = UInt8(n % 256)
            }
            position += 1
            return .frame(f)
        }
    }

    @Test func deferredStepsRunOnTheWorkersAndTheInOrderStepSeesFrameOrder() throws {
        let source = DeferringSource(count: 120)
        let sink = RecordingSink()
        let seen = NIOLockedValueBox<[Int]>([])
        let firstBytes = NIOLockedValueBox<[UInt8]>([])
        var pipeline = Pipeline(workers: 3) { _ in }
        pipeline.inFrameOrder = { frame in
            seen.withLockedValue { $0.append(frame.index) }
            firstBytes.withLockedValue { $0.append(frame.row8(0)[0]) }       // already complete
        }
        let summary = try pipeline.run(source: source, sink: sink)
        #expect(summary.frames == 120)
        #expect(seen.withLockedValue { $0 } == Array(0..<120))
        #expect(firstBytes.withLockedValue { $0 } == (0..<120).map { UInt8($0) })
        #expect(sink.firstBytes == (0..<120).map { UInt8($0) })
        // Not on the decode thread: on the workers, more than one of them.
        let steps = source.threads.withLockedValue { $0 }, decode = source.decodeThreads.withLockedValue { $0 }
        #expect(decode.count == 1 && steps.isDisjoint(with: decode) && steps.count > 1)
    }

    @Test func aFailedDeferredStepStopsThePipelineWithoutHangingTheInOrderStep() throws {
        let sink = RecordingSink()
        var pipeline = Pipeline(workers: 3) { _ in }
        pipeline.inFrameOrder = { _ in }
        let error = #expect(throws: PipeError.self) { try pipeline.run(source: DeferringSource(count: 500, failAt: 30), sink: sink) }
        #expect(error?.description == "mem: frame 30: cannot convert")
        #expect(sink.aborted && sink.indices.count <= 30)
    }

    @Test func frameBuffersAreReused() {
        let pool = FrameBufferPool(limit: 1 << 20)
        let a = pool.take(byteCount: 4096)
        pool.give(a, byteCount: 4096)
        #expect(pool.take(byteCount: 4096) == a)           // the same buffer back, no new mapping
        let big = pool.take(byteCount: 2 << 20)             // over the limit: freed, not kept
        pool.give(big, byteCount: 2 << 20)
        let other = pool.take(byteCount: 8192)
        #expect(other != a)
        pool.give(other, byteCount: 8192)
        pool.give(a, byteCount: 4096)
    }

    @Test func boundedQueueBlocksWhenFullAndDrainsAfterClose() {
        let q = BoundedQueue<Int>(capacity: 2)
        #expect(q.push(1) && q.push(2))
        let pushed = Atomic<Bool>(false)
        let t = Thread { q.push(3); pushed.store(true, ordering: .relaxed) }
        t.start()
        usleep(50_000)
        #expect(pushed.load(ordering: .relaxed) == false)
        #expect(q.pop() == 1)
        // The blocked push goes through once there is room (waited for: a loaded machine, the
        // sanitizer suites in parallel, can leave the thread unscheduled for a while).
        for _ in 0..<1000 where !pushed.load(ordering: .relaxed) { usleep(10_000) }
        #expect(pushed.load(ordering: .relaxed) == true)
        q.close()
        #expect(q.pop() == 2 && q.pop() == 3 && q.pop() == nil)
        #expect(q.push(4) == false)
    }
}

@Suite struct NamingTests {
    @Test func naturalOrder() {
        let names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.png", "frame02.png", "a.png", "frame.png"]
        #expect(names.sorted(by: naturalLess) == ["Frame3.png", "a.png", "frame.png", "frame1.png", "frame2.png", "frame02.png", "frame10.png"])
        #expect(naturalLess("shot_9", "shot_10"))
        #expect(!naturalLess("shot_10", "shot_9"))
        #expect(!naturalLess("x", "x"))
    }

    @Test func endpointsAreRecognised() {
        #expect(Endpoint("-") == .standardStream)
        #expect(Endpoint("out/") == .folder("out"))
        #expect(Endpoint("shot_%04d.png") == .pattern("shot_%04d.png"))
        #expect(Endpoint("a.PNG") == .image("a.PNG"))
        #expect(Endpoint("clip.mov") == .video("clip.mov"))
        #expect(isPrintfPattern("dir/f%d.jpg") && !isPrintfPattern("100%.png"))
    }
}
