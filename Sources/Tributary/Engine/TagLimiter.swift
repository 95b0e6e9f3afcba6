import Synchronization

/// At most N task runs with a tag hold a slot at once. A run takes a slot for each of its limited
/// tags before its message is sent and gives them back when it ends or before a retry; a freed
/// slot goes to the next waiter at once (no polling).
final class TagLimiter: Sendable {
    private let semaphores: [String: AsyncSemaphore]
    /// The tags each run holds slots for, so giving them back is idempotent.
    private let held = Mutex<[String: [String]]>([:])

    init(limits: [String: Int]) {
        semaphores = limits.mapValues { AsyncSemaphore(permits: max(1, $0)) }
    }

    /// Whether any of `tags` is limited here.
    func limits(_ tags: Set<String>) -> Bool {
        tags.contains { semaphores[$0] != nil }
    }

    /// Waits for a slot for each limited tag of the run (taken in name order, so two runs never
    /// wait on each other's half).
    func acquire(runID: String, tags: Set<String>) async {
        let limited = tags.filter { semaphores[$0] != nil }.sorted()
        guard !limited.isEmpty else { return }
        for tag in limited { await semaphores[tag]!.wait() }
        held.withLock { $0[runID] = limited }
    }

    /// Gives back the run's slots, if it holds any.
    func release(runID: String) {
        guard let tags = held.withLock({ $0.removeValue(forKey: runID) }) else { return }
        for tag in tags { semaphores[tag]!.signal() }
    }
}
