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

    /// How it ended, or nil while it still runs: Foundation traps on reading the termination
    /// reason or status of a process it has not yet seen exit (on a loaded machine that can take
    /// seconds after a SIGKILL).
    var ending: (reason: TerminationReason, status: Int32)? {
        isRunning ? nil : (terminationReason, terminationStatus)
    }
}
