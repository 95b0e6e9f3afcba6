import Foundation

/// Polls `condition` until it holds; throws naming `what` after `limit`.
func waitUntil(_ what: String, within limit: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WorkerProcessError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// The task's value, or, once `limit` has passed, an error naming `what` (and the task is cancelled):
/// a lost message fails the test instead of hanging it. It returns at the limit even if the task
/// ignores its cancellation (a flow whose cleanup waits on a broker that never answers).
func value<T: Sendable>(of task: Task<T, any Error>, _ what: String, within limit: Duration) async throws -> T {
    let outcome = OneShot<Result<T, any Error>>()
    let waiter = Task { outcome.resolve(await task.result) }
    let timer = Task {
        try? await Task.sleep(for: limit)
        outcome.resolve(.failure(WorkerProcessError("timed out waiting for \(what)")))
    }
    let result = await outcome.value
    timer.cancel()
    if case .failure = result {
        task.cancel()
        waiter.cancel()
    }
    return try result.get()
}

/// A value set once, awaited by one caller; later sets are ignored.
private final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value_: Value?
    private var waiter: CheckedContinuation<Value, Never>?

    func resolve(_ value: Value) {
        lock.lock()
        guard value_ == nil else { return lock.unlock() }
        value_ = value
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: value)
    }

    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                lock.lock()
                if let value = value_ {
                    lock.unlock()
                    continuation.resume(returning: value)
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        }
    }
}
