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

    /// Holds a place for a run that is about to start (an agent took it), so that a cancel
    /// request heard before it starts is kept and cancels it as it starts.
    func reserve(_ flowRunID: String, flowName: String) {
        entries.withLock { entries in
            if entries[flowRunID] == nil { entries[flowRunID] = Entry(flowName: flowName, cancel: {}) }
        }
    }

    /// Whether a cancel request for the run was heard (it was reserved or runs here).
    func cancelReason(of flowRunID: String) -> String? {
        entries.withLock { $0[flowRunID]?.cancelReason }
    }

    /// Records the run; one cancelled while it was reserved is cancelled at once.
    func register(_ flowRunID: String, flowName: String, cancel: @escaping @Sendable () -> Void) {
        let cancelledEarly = entries.withLock { entries -> Bool in
            let reason = entries[flowRunID]?.cancelReason
            entries[flowRunID] = Entry(flowName: flowName, cancel: cancel, cancelReason: reason)
            return reason != nil
        }
        if cancelledEarly { cancel() }
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
