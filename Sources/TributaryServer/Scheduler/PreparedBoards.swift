import Synchronization

/// The runs whose status boards this scheduler is making or has made ahead of their time, each
/// with what its Pending status says (flow and work queue), shared by the scheduler's loops. A
/// push waits for a board being made, so that Pending never lands on a board after the run's
/// push (and after an agent's Running). A run whose deployment moved to another work queue since
/// is prepared again at its push.
final class PreparedBoards: Sendable {
    private enum Board {
        case preparing(UpcomingRun)
        case prepared(UpcomingRun)
    }

    private let boards = Mutex<[String: Board]>([:])

    /// Whether `run`'s board was made with its Pending status as `run` says it.
    func holds(_ run: UpcomingRun) -> Bool {
        boards.withLock { if case .prepared(run) = $0[run.flowRunID] { true } else { false } }
    }

    /// Notes that `run`'s board is being made; false if it is already, or was made as `run` says.
    func begin(_ run: UpcomingRun) -> Bool {
        boards.withLock { boards in
            switch boards[run.flowRunID] {
            case .preparing?: return false
            case .prepared(let made)? where made == run: return false
            default:
                boards[run.flowRunID] = .preparing(run)
                return true
            }
        }
    }

    /// Notes that making `run`'s board ended, with its Pending on it or not.
    func finish(_ run: UpcomingRun, made: Bool) {
        boards.withLock { $0[run.flowRunID] = made ? .prepared(run) : nil }
    }

    /// Waits while the board of run `flowRunID` is being made (a few seconds at most).
    func waitWhilePreparing(_ flowRunID: String) async {
        for _ in 0..<1_000 {
            guard boards.withLock({ if case .preparing? = $0[flowRunID] { true } else { false } }) else { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    func remove(_ ids: [String]) { boards.withLock { for id in ids { $0[id] = nil } } }

    /// Forgets the runs due before `time` (pushed by another server, or dropped).
    func forget(dueBefore time: Double) {
        boards.withLock { boards in
            boards = boards.filter {
                switch $0.value {
                case .preparing: true
                case .prepared(let run): run.scheduledAt >= time
                }
            }
        }
    }
}
