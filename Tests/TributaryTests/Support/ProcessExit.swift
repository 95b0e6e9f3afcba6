import Foundation

extension Process {
    /// Waits (polling, never blocking a thread) for the process to exit and returns its status,
    /// or nil after `limit`.
    func waitForExit(within limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return terminationStatus
    }
}
