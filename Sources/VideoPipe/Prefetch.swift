import Foundation
import NIOConcurrencyHelpers

/// A value worked out on a thread of its own, started at once, for a caller that needs it later:
/// `result` waits for it. A run opens its input (for a still, that is its whole decode) while the
/// model and a still mask load beside it.
public final class Prefetch<Value: Sendable>: @unchecked Sendable {
    private let box = NIOLockedValueBox<Result<Value, Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    public init(thread name: String, _ work: @escaping @Sendable () throws -> Value) {
        let (box, done) = (box, done)
        let thread = Thread {
            Thread.current.name = name
            let result = Result { try work() }
            box.withLockedValue { $0 = result }
            done.signal()
        }
        thread.start()
    }

    /// Not left running past its owner (it may be reading a file).
    deinit { _ = result }

    /// The value or the error, once the work is done (waits for it the first time).
    public var result: Result<Value, Error> {
        if let result = box.withLockedValue({ $0 }) { return result }
        done.wait()
        done.signal()       // for the next caller
        return box.withLockedValue { $0! }
    }
}
