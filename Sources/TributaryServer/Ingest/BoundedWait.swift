import Synchronization

/// A store write that gave no answer within its limit.
struct StoreWriteTimedOut: Error, CustomStringConvertible {
    let limit: Duration
    var description: String {
        "the store gave no answer to a write within \(limit) (a database restarted mid-transaction?); it is tried again"
    }
}

/// Runs `work` and waits for it at most `limit`: past it, cancels it and throws
/// ``StoreWriteTimedOut`` without waiting for it to end. A write whose database connection was
/// cut in the middle of its transaction can wait for ever for an answer, cancelled or not, and
/// must not hold up the writes after it.
func waitBounded(_ limit: Duration, _ work: @escaping @Sendable () async throws -> Void) async throws {
    let outcome = BoundedOutcome()
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        outcome.start(continuation, limit: limit, work: work)
    }
}

/// The caller's continuation, resumed once: by the work's end or by the alarm, whichever comes first.
private final class BoundedOutcome: Sendable {
    private let waiter = Mutex<CheckedContinuation<Void, any Error>?>(nil)
    private let job = Mutex<Task<Void, Never>?>(nil)

    func start(_ continuation: CheckedContinuation<Void, any Error>, limit: Duration,
               work: @escaping @Sendable () async throws -> Void) {
        waiter.withLock { $0 = continuation }
        let alarm = Task {
            try? await Task.sleep(for: limit)
            guard !Task.isCancelled, self.finish(.failure(StoreWriteTimedOut(limit: limit))) else { return }
            self.job.withLock { $0 }?.cancel()
        }
        let task = Task {
            defer { alarm.cancel() }
            do {
                try await work()
                _ = self.finish(.success(()))
            } catch {
                _ = self.finish(.failure(error))
            }
        }
        job.withLock { $0 = task }
    }

    /// Resumes the caller: true for the first outcome, false for any later one.
    private func finish(_ result: Result<Void, any Error>) -> Bool {
        guard let continuation = waiter.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
}
