import Foundation
import NIOConcurrencyHelpers

/// What happened in a run.
public struct PipelineSummary: Sendable {
    public var frames: Int
    public var seconds: Double
    /// The run stopped early on Ctrl-C/SIGTERM (the output holds what was processed).
    public var interrupted: Bool
    public var warnings: [String]
    public var stats: PipelineStats
    public var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }
}

/// Where a run's time went (`harmonize --stats`): each stage's busy and blocked time, and how full
/// the two places that hold frames between stages were, so the bottleneck shows without a profiler.
public struct PipelineStats: Sendable {
    public struct Stage: Sendable {
        public let name: String
        public let threads: Int
        /// Seconds in the stage's own work (reading and decoding, the frame processor, writing),
        /// summed over its threads.
        public var busy = 0.0
        /// Seconds blocked: on the stage after it (no room in the window or queue: backpressure) or
        /// on the one before it (nothing to take yet), summed over its threads.
        public var waiting = 0.0
        /// CPU seconds its threads used (busy is wall time, which on a machine with more runnable
        /// threads than cores includes time spent descheduled). FFmpeg's own codec threads and
        /// OpenBLAS's are not in any stage: see `processCPU`.
        public var cpu = 0.0

        /// The share of its threads' time over `seconds` of wall time spent working.
        public func load(over seconds: Double) -> Double { seconds > 0 ? busy / (Double(threads) * seconds) : 0 }
    }

    /// How many items a holding place had, sampled once per frame.
    public struct Occupancy: Sendable {
        public let capacity: Int
        public var samples = 0
        public var total = 0
        public var most = 0
        /// Samples at capacity.
        public var full = 0

        public var mean: Double { samples > 0 ? Double(total) / Double(samples) : 0 }
        mutating func add(_ n: Int) {
            samples += 1
            total += n
            most = max(most, n)
            if n >= capacity { full += 1 }
        }
    }

    /// Read and decode (with the in-order planning step); the frame processors; the in-order writer.
    public var decode, work, write: Stage
    /// Decoded frames waiting for a worker, sampled as each is queued.
    public var queued: Occupancy
    /// Frames between the decoder and the writer (the window: at most `maxInFlight`), sampled as the
    /// decoder asks for a slot.
    public var inFlight: Occupancy
    /// CPU seconds of the whole process during the run (every thread, FFmpeg's and OpenBLAS's too).
    public var processCPU = 0.0
}

/// CPU seconds used so far by the calling thread, and by the whole process.
func threadCPUSeconds() -> Double { cpuSeconds(CLOCK_THREAD_CPUTIME_ID) }
func processCPUSeconds() -> Double { cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) }
private func cpuSeconds(_ clock: clockid_t) -> Double {
    var t = timespec()
    clock_gettime(clock, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Monotonic nanoseconds.
@inline(__always) func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
@inline(__always) func seconds(since start: UInt64) -> Double { Double(nanoseconds() &- start) / 1e9 }

/// The input ended (or was interrupted) before its first whole frame: nothing to write, and an
/// output without a frame would not play, so the sink is aborted rather than finished.
public struct NoFrameError: Error, Sendable {
    public let interrupted: Bool
}

/// Per-frame work: called on a worker thread with a frame it owns until it returns; it may change
/// the pixels in place. Frames are processed concurrently and handed to the sink in their order.
public typealias FrameProcessor = @Sendable (VideoFrame) throws -> Void

/// decode -> N concurrent workers -> in-order reassembly -> encode.
///
/// The decode stage only demuxes and decodes; each worker completes a frame (its deferred colour
/// conversion, matte and compositing: `VideoFrame.complete()`), passes it through the in-order step
/// in turn, and runs the frame processor on it. Each stage has its own thread. Frames move through a bounded work queue and a reorder window, so
/// at most `maxInFlight` frames exist at once however long the clip is. The first error in any stage
/// cancels the others and is rethrown; the end of input or an interrupt drains the stages and
/// finalizes the sink.
public struct Pipeline {
    public var workers: Int
    public var maxInFlight: Int
    public var process: FrameProcessor
    /// Called on the sink thread after each frame is written (progress display).
    public var onFrameWritten: (@Sendable (VideoFrame) -> Void)?
    /// Called on a worker for each frame, in frame order (each call waits for the one before it to
    /// return), after the frame is complete and before `process`: for cheap decisions that depend on
    /// the frames before (which frames to run a network on). It runs on the workers rather than the
    /// decode thread so that the decode thread only decodes.
    public var inFrameOrder: (@Sendable (VideoFrame) throws -> Void)?

    public init(workers: Int = ProcessInfo.processInfo.activeProcessorCount, maxInFlight: Int? = nil,
                process: @escaping FrameProcessor) {
        self.workers = max(1, workers)
        self.maxInFlight = max(2, maxInFlight ?? 2 * self.workers + 2)
        self.process = process
    }

    private struct Job: Sendable {
        let sequence: Int
        let item: SourceItem
    }

    /// Moves every item from `source` to `sink`. On success the sink is finished (output in place);
    /// on failure it is aborted (partial output removed) and the error rethrown, and so it is when
    /// not one frame came (`NoFrameError`).
    public func run(source: FrameSource, sink: FrameSink) throws -> PipelineSummary {
        let start = Date()
        let startCPU = processCPUSeconds()
        let work = BoundedQueue<Job>(capacity: maxInFlight)
        let done = ReorderBuffer<SourceItem>(window: maxInFlight)
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        let process = self.process
        let inFrameOrder = self.inFrameOrder
        let turnstile = Turnstile()
        let sourceBox = UncheckedBox(source)
        let stats = NIOLockedValueBox(PipelineStats(
            decode: .init(name: "decode", threads: 1), work: .init(name: "work", threads: workers),
            write: .init(name: "write", threads: 1),
            queued: .init(capacity: maxInFlight), inFlight: .init(capacity: maxInFlight)))

        @Sendable func fail(_ error: any Error) {
            let first = failure.withLockedValue { current -> Bool in
                if current == nil { current = error; return true }
                return false
            }
            if first {
                work.close(discarding: true)
                done.cancel()
                turnstile.cancel()
            }
        }

        // Stage 1: read and decode, in order, each item taking a slot of the window first.
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            defer { readerDone.signal() }
            // Named from inside (Linux names only the running thread), in at most 15 bytes.
            Thread.current.name = "harmonize.read"
            var produced = 0
            var (mine, queued, inFlight) = stats.withLockedValue { ($0.decode, $0.queued, $0.inFlight) }
            let cpu0 = threadCPUSeconds()
            defer {
                mine.cpu = threadCPUSeconds() - cpu0
                stats.withLockedValue { $0.decode = mine; $0.queued = queued; $0.inFlight = inFlight }
            }
            do {
                while true {
                    inFlight.add(done.held)
                    var t = nanoseconds()
                    guard let sequence = done.reserve() else { break }
                    mine.waiting += seconds(since: t)
                    t = nanoseconds()
                    guard let item = try sourceBox.value.next() else { break }
                    mine.busy += seconds(since: t)
                    t = nanoseconds()
                    if !work.push(Job(sequence: sequence, item: item)) { break }
                    mine.waiting += seconds(since: t)
                    queued.add(work.depth)
                    produced += 1
                }
            } catch {
                fail(error)
            }
            done.finishProducing(count: produced)
            work.close()
        }

        // Stage 2: workers process frames (packets of copied streams pass straight through).
        let group = DispatchGroup()
        for n in 0..<workers {
            group.enter()
            let worker = Thread {
                defer { group.leave() }
                Thread.current.name = "harmonize.work\(n)"
                var busy = 0.0, waiting = 0.0
                let cpu0 = threadCPUSeconds()
                defer {
                    let cpu = threadCPUSeconds() - cpu0
                    stats.withLockedValue { $0.work.busy += busy; $0.work.waiting += waiting; $0.work.cpu += cpu }
                }
                while true {
                    var t = nanoseconds()
                    guard let job = work.pop() else { break }
                    waiting += seconds(since: t)
                    t = nanoseconds()
                    let frame: VideoFrame? = if case .frame(let f) = job.item { f } else { nil }
                    do {
                        // 1. Complete the frame (in parallel). 2. The in-order step, in turn: every
                        // item passes the turnstile in sequence, packets too (a failure cancels the
                        // turnstile, so no one waits for a number that will not pass). 3. The frame's work.
                        try frame?.complete()
                        busy += seconds(since: t)
                        t = nanoseconds()
                        guard turnstile.wait(for: job.sequence) else { break }
                        waiting += seconds(since: t)
                        t = nanoseconds()
                        if let frame, let inFrameOrder { try inFrameOrder(frame) }
                        turnstile.pass(job.sequence)
                        if let frame { try process(frame) }
                        done.deliver(job.item, at: job.sequence)
                    } catch {
                        fail(error)
                    }
                    busy += seconds(since: t)
                }
            }
            worker.start()
        }
        reader.start()

        // Stage 3 (this thread): write in order.
        var frames = 0
        var writer = stats.withLockedValue { $0.write }
        let writerCPU = threadCPUSeconds()
        while true {
            var t = nanoseconds()
            guard let item = done.next() else { break }
            writer.waiting += seconds(since: t)
            t = nanoseconds()
            defer { writer.busy += seconds(since: t) }
            do {
                switch item {
                case .frame(let frame):
                    try sink.write(frame)
                    frames += 1
                    onFrameWritten?(frame)
                case .packet(let packet):
                    try sink.write(packet)
                }
            } catch {
                fail(error)
                break
            }
            done.release()
        }
        group.wait()
        if let error = failure.withLockedValue({ $0 }) {
            // The reader stops at its next item; it is not waited for, as it may be blocked on stdin.
            sink.abort()
            throw error
        }
        readerDone.wait()
        if frames == 0 {
            sink.abort()
            throw NoFrameError(interrupted: Interrupt.isRequested)
        }
        let finishing = nanoseconds()
        do {
            try sink.finish()           // the encoder's delayed frames, the trailer: the writer's work
            writer.busy += seconds(since: finishing)
        } catch {
            sink.abort()
            throw error
        }
        writer.cpu = threadCPUSeconds() - writerCPU
        var final = stats.withLockedValue { $0 }
        final.write = writer
        final.processCPU = processCPUSeconds() - startCPU
        return PipelineSummary(frames: frames, seconds: Date().timeIntervalSince(start),
                               interrupted: Interrupt.isRequested, warnings: source.warnings + sink.notes, stats: final)
    }
}

/// Hands a non-Sendable reference to exactly one other thread (the source to the decode stage).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
