import Synchronization

/// The runs whose status boards this scheduler made ahead of their time, each with what its
/// Pending status says (flow and work queue), shared by the scheduler's loops. A run whose
/// deployment moved to another work queue since is prepared again at its push.
final class PreparedBoards: Sendable {
    private let boards = Mutex<[String: UpcomingRun]>([:])

    /// Whether `run`'s board was made with its Pending status as `run` says it.
    func holds(_ run: UpcomingRun) -> Bool { boards.withLock { $0[run.flowRunID] == run } }
    func insert(_ run: UpcomingRun) { boards.withLock { $0[run.flowRunID] = run } }
    func remove(_ ids: [String]) { boards.withLock { for id in ids { $0[id] = nil } } }

    /// Forgets, and returns, the prepared runs due within `window` that `listed` (every waiting run
    /// due within it) no longer has: dropped before their time (their deployment paused, changed
    /// or deleted). Forgets too the runs due before `forgetBefore` (another server pushed them).
    func takeDropped(listed: Set<String>, window: ClosedRange<Double>, forgetBefore: Double) -> [UpcomingRun] {
        boards.withLock { boards in
            let dropped = boards.values.filter { window.contains($0.scheduledAt) && !listed.contains($0.flowRunID) }
            for run in dropped { boards[run.flowRunID] = nil }
            boards = boards.filter { $0.value.scheduledAt >= forgetBefore }
            return dropped
        }
    }
}
