/// Polls `condition` until it holds; throws naming `what` after `limit`.
func waitUntil(_ what: String, within limit: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WorkerProcessError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// The task's value, or, once `limit` has passed, an error naming `what` (and the task is cancelled):
/// a lost message fails the test instead of hanging it.
func value<T: Sendable>(of task: Task<T, any Error>, _ what: String, within limit: Duration) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await task.value }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard case .some(.some(let value)) = try await group.next() else {
            task.cancel()
            throw WorkerProcessError("timed out waiting for \(what)")
        }
        return value
    }
}
