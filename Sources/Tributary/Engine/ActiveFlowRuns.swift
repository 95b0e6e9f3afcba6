import Synchronization

/// The flow runs (and subflow runs) a client is running, by id, so that a cancel request — from
/// `trib cancel`, another client, or a worker that heard one first — can reach the one it names.
final class ActiveFlowRuns: Sendable {
    private struct Entry {
        let flowName: String
        let cancel: @Sendable () -> Void
        /// Why it was cancelled from outside, once it was.
        var cancelReason: String?
    }

    private let entries = Mutex<[String: Entry]>([:])

    func register(_ flowRunID: String, flowName: String, cancel: @escaping @Sendable () -> Void) {
        entries.withLock { $0[flowRunID] = Entry(flowName: flowName, cancel: cancel) }
    }

    /// Forgets the run; returns why it was cancelled from outside, if it was.
    func remove(_ flowRunID: String) -> String? {
        entries.withLock { $0.removeValue(forKey: flowRunID)?.cancelReason }
    }

    /// Cancels the run if this client runs it, and returns its flow's name; nil if it does not.
    func cancel(_ flowRunID: String, reason: String) -> String? {
        let entry = entries.withLock { entries -> Entry? in
            guard var entry = entries[flowRunID] else { return nil }
            if entry.cancelReason == nil { entry.cancelReason = reason }
            entries[flowRunID] = entry
            return entry
        }
        entry?.cancel()
        return entry?.flowName
    }
}
