import Foundation

/// A first-in first-out queue that holds at most `capacity` elements: `push` blocks while it is full,
/// which is how a fast producer is held back (backpressure), and `pop` blocks while it is empty.
/// Stages run on their own threads because FFmpeg's reads and writes block.
final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    let capacity: Int
    private let condition = NSCondition()
    private var items: [Element?] = []
    private var head = 0
    private var closed = false

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        items.reserveCapacity(capacity)
    }

    private var count: Int { items.count - head }

    /// Elements waiting now (for `--stats`).
    var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return count
    }

    /// Adds an element, waiting for room. Returns false (dropping it) once the queue is closed.
    @discardableResult
    func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while count >= capacity && !closed { condition.wait() }
        if closed { return false }
        if head > capacity { items.removeFirst(head); head = 0 }
        items.append(element)
        condition.broadcast()
        return true
    }

    /// The oldest element, waiting for one; nil once the queue is closed and empty.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while count == 0 && !closed { condition.wait() }
        guard count > 0 else { return nil }
        let element = items[head].take()
        head += 1
        condition.broadcast()
        return element
    }

    /// No more pushes; pops drain what is left. With `discarding`, what is left is dropped.
    func close(discarding: Bool = false) {
        condition.lock()
        closed = true
        if discarding { items.removeAll(); head = 0 }
        condition.broadcast()
        condition.unlock()
    }
}

/// Puts results that finish out of order back into sequence order. At most `window` items exist
/// between the producer and the consumer: `reserve` blocks the producer until the consumer has
/// `release`d an earlier one, so a slow item cannot make the buffer grow without bound.
final class ReorderBuffer<Element: Sendable>: @unchecked Sendable {
    let window: Int
    private let condition = NSCondition()
    private var pending: [Int: Element] = [:]
    private var nextOut = 0
    private var released = 0
    private var reserved = 0
    private var closedAt: Int? = nil
    private var cancelled = false

    init(window: Int) {
        precondition(window > 0)
        self.window = window
    }

    /// Items between `reserve` and `release` now: how full the window is (for `--stats`).
    var held: Int {
        condition.lock()
        defer { condition.unlock() }
        return reserved - released
    }

    /// Claims a sequence number for an item about to be produced, waiting while the window is full.
    /// Returns nil if the pipeline was cancelled.
    func reserve() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while reserved - released >= window && !cancelled { condition.wait() }
        if cancelled { return nil }
        reserved += 1
        return reserved - 1
    }

    /// Delivers the result for sequence number `sequence` (any order).
    func deliver(_ element: Element, at sequence: Int) {
        condition.lock()
        pending[sequence] = element
        condition.broadcast()
        condition.unlock()
    }

    /// The producer is done after `count` items (a last reservation may have gone unused).
    func finishProducing(count: Int) {
        condition.lock()
        closedAt = count
        condition.broadcast()
        condition.unlock()
    }

    /// Stops everyone: waiting producers and the consumer return nil.
    func cancel() {
        condition.lock()
        cancelled = true
        pending.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// The consumer is done with an item from `next()`: its slot is free for the producer.
    func release() {
        condition.lock()
        released += 1
        condition.broadcast()
        condition.unlock()
    }

    /// The next result in sequence order, waiting for it; nil at the end or on cancellation.
    /// Each item returned holds a slot of the window until `release()`.
    func next() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if cancelled { return nil }
            if let element = pending.removeValue(forKey: nextOut) {
                nextOut += 1
                return element
            }
            if let end = closedAt, nextOut >= end { return nil }
            condition.wait()
        }
    }
}

/// Lets the workers through one sequence number at a time, in order, for a step that must see the
/// frames in order (the key-frame planner) without running on the decode thread: `wait(for:)`
/// returns once every earlier number has `pass`ed. Workers take items in sequence order, so the
/// holder of the lowest number never waits on anyone and the others wait only for it.
final class Turnstile: @unchecked Sendable {
    private let condition = NSCondition()
    private var next = 0
    private var cancelled = false

    /// Waits for `sequence`'s turn; false once cancelled (the pipeline failed).
    func wait(for sequence: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while next != sequence && !cancelled { condition.wait() }
        return !cancelled
    }

    /// `sequence` is through: the next may go.
    func pass(_ sequence: Int) {
        condition.lock()
        next = sequence + 1
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes every waiter with false.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
