/// Polls `condition` until it holds; throws naming `what` after `limit`.
func waitUntil(_ what: String, within limit: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WorkerProcessError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}
