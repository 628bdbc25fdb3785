import Foundation
import NIOConcurrencyHelpers

/// What happened in a run.
public struct PipelineSummary: Sendable {
    public var frames: Int
    public var seconds: Double
    /// The run stopped early on Ctrl-C/SIGTERM (the output holds what was processed).
    public var interrupted: Bool
    public var warnings: [String]
    public var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }
}

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
/// Each stage has its own thread. Frames move through a bounded work queue and a reorder window, so
/// at most `maxInFlight` frames exist at once however long the clip is. The first error in any stage
/// cancels the others and is rethrown; the end of input or an interrupt drains the stages and
/// finalizes the sink.
public struct Pipeline {
    public var workers: Int
    public var maxInFlight: Int
    public var process: FrameProcessor
    /// Called on the sink thread after each frame is written (progress display).
    public var onFrameWritten: (@Sendable (VideoFrame) -> Void)?
    /// Called on the decode thread for each frame, in order, before any worker sees it: for cheap
    /// decisions that depend on the frames before (which frames to run a network on).
    public var inDecodeOrder: (@Sendable (VideoFrame) throws -> Void)?

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
        let work = BoundedQueue<Job>(capacity: maxInFlight)
        let done = ReorderBuffer<SourceItem>(window: maxInFlight)
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        let process = self.process
        let inDecodeOrder = self.inDecodeOrder
        let sourceBox = UncheckedBox(source)

        @Sendable func fail(_ error: any Error) {
            let first = failure.withLockedValue { current -> Bool in
                if current == nil { current = error; return true }
                return false
            }
            if first {
                work.close(discarding: true)
                done.cancel()
            }
        }

        // Stage 1: read and decode, in order, each item taking a slot of the window first.
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            defer { readerDone.signal() }
            var produced = 0
            do {
                while let sequence = done.reserve() {
                    guard let item = try sourceBox.value.next() else { break }
                    if let inDecodeOrder, case .frame(let frame) = item { try inDecodeOrder(frame) }
                    if !work.push(Job(sequence: sequence, item: item)) { break }
                    produced += 1
                }
            } catch {
                fail(error)
            }
            done.finishProducing(count: produced)
            work.close()
        }
        reader.name = "harmonize.decode"

        // Stage 2: workers process frames (packets of copied streams pass straight through).
        let group = DispatchGroup()
        for n in 0..<workers {
            group.enter()
            let worker = Thread {
                defer { group.leave() }
                while let job = work.pop() {
                    do {
                        if case .frame(let frame) = job.item { try process(frame) }
                        done.deliver(job.item, at: job.sequence)
                    } catch {
                        fail(error)
                    }
                }
            }
            worker.name = "harmonize.work\(n)"
            worker.start()
        }
        reader.start()

        // Stage 3 (this thread): write in order.
        var frames = 0
        while let item = done.next() {
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
        do {
            try sink.finish()
        } catch {
            sink.abort()
            throw error
        }
        return PipelineSummary(frames: frames, seconds: Date().timeIntervalSince(start),
                               interrupted: Interrupt.isRequested, warnings: source.warnings + sink.notes)
    }
}

/// Hands a non-Sendable reference to exactly one other thread (the source to the decode stage).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
