import DequeModule
import Synchronization

/// Holds back the sending of task runs so that, per tag, at most `count` *start* in any window of
/// `period`, shared by every flow run of a client.
///
/// The window counts starts as the coordinator hears them (a worker's `running` report), not
/// sends: a run that was sent but has not started yet holds its place in the window, and frees
/// it one period after its start is heard. So a run let through now starts at least one period
/// after the run whose place it takes, however long the broker or a busy worker delayed either
/// of them. A run that ends without a start report (refused, cancelled, lost) counts as started
/// when it ends. Waiters are let through in the order they came, with no polling: a start
/// report, an end or the one timer for the earliest window to open wakes them.
final class RateLimiter: Sendable {
    /// A run counted in a tag's window.
    private struct Entry {
        let runID: String
        /// When its start was heard; nil while it is sent and not started yet.
        var startedAt: ContinuousClock.Instant?
    }

    private struct Waiter {
        let id: UInt64
        let runID: String
        let tags: [String]
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var windows: [String: [Entry]] = [:]
        var waiters: Deque<Waiter> = []
        var nextWaiterID: UInt64 = 0
        /// Waiters cancelled before they were queued.
        var cancelledEarly: Set<UInt64> = []
        /// The timer that wakes the waiters when the earliest full window opens.
        var timer: (deadline: ContinuousClock.Instant, task: Task<Void, Never>)?
    }

    private let limits: [String: RateLimit]
    private let state = Mutex(State())

    init(limits: [String: RateLimit]) {
        self.limits = limits
    }

    /// Why a run with `tags` cannot be sent: a limit of one of them cannot be met.
    func problem(tags: Set<String>) -> String? {
        guard !limits.isEmpty else { return nil }
        return tags.sorted().lazy.compactMap { tag in self.limits[tag]?.problem(tag: tag) }.first
    }

    /// Whether any of `tags` is rate-limited here.
    func limits(_ tags: Set<String>) -> Bool {
        tags.contains { limits[$0] != nil }
    }

    /// Waits until the run may be sent without more than `count` runs of any of its limited tags
    /// starting within a period, and counts it in each tag's window. A cancelled waiter is let
    /// through at once (its run is ending; `settle` frees its place).
    func acquire(runID: String, tags: Set<String>) async {
        let limited = tags.filter { limits[$0] != nil }.sorted()
        guard !limited.isEmpty else { return }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let granted = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    if state.cancelledEarly.remove(id) != nil {
                        Self.count(runID: runID, in: limited, &state)
                        return [continuation]
                    }
                    state.waiters.append(Waiter(id: id, runID: runID, tags: limited, continuation: continuation))
                    return pump(&state)
                }
                for continuation in granted { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                    state.cancelledEarly.insert(id)
                    return nil
                }
                let waiter = state.waiters.remove(at: index)
                Self.count(runID: waiter.runID, in: waiter.tags, &state)
                return waiter
            }
            waiter?.continuation.resume()
        }
    }

    /// The run's worker has started it: its place frees one period from now.
    func started(runID: String) {
        mark(runID: runID)
    }

    /// The run's attempt has ended or will not be sent; if its start was never heard, it counts
    /// as started now. Idempotent.
    func settle(runID: String) {
        mark(runID: runID)
    }

    private func mark(runID: String) {
        guard !limits.isEmpty else { return }
        let granted = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let now = ContinuousClock.now
            var changed = false
            for tag in state.windows.keys {
                guard let index = state.windows[tag]!.firstIndex(where: { $0.runID == runID && $0.startedAt == nil })
                else { continue }
                state.windows[tag]![index].startedAt = now
                changed = true
            }
            return changed ? pump(&state) : []
        }
        for continuation in granted { continuation.resume() }
    }

    private static func count(runID: String, in tags: [String], _ state: inout State) {
        for tag in tags { state.windows[tag, default: []].append(Entry(runID: runID, startedAt: nil)) }
    }

    /// Lets through every waiter, in order, whose tags all have room; returns their continuations
    /// to resume outside the lock, and sets the timer for the earliest full window to open.
    private func pump(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        let now = ContinuousClock.now
        for tag in state.windows.keys {
            let period = limits[tag]!.period
            state.windows[tag]!.removeAll { entry in entry.startedAt.map { $0 + period <= now } ?? false }
        }
        var granted: [CheckedContinuation<Void, Never>] = []
        var full: Set<String> = []
        var kept: Deque<Waiter> = []
        while let waiter = state.waiters.popFirst() {
            if full.count == limits.count {
                kept.append(waiter)
                kept.append(contentsOf: state.waiters)
                state.waiters.removeAll()
                break
            }
            let blocked = waiter.tags.filter { tag in
                full.contains(tag) || state.windows[tag, default: []].count >= limits[tag]!.count
            }
            if blocked.isEmpty {
                Self.count(runID: waiter.runID, in: waiter.tags, &state)
                granted.append(waiter.continuation)
            } else {
                full.formUnion(blocked)
                kept.append(waiter)
            }
        }
        state.waiters = kept
        armTimer(&state, full: full)
        return granted
    }

    /// Sets one timer for the moment the first of the full windows frees a place by time alone
    /// (a window full of runs not started yet waits for their reports instead).
    private func armTimer(_ state: inout State, full: Set<String>) {
        let opening = full.compactMap { tag -> ContinuousClock.Instant? in
            let period = limits[tag]!.period
            return state.windows[tag]?.compactMap { $0.startedAt.map { $0 + period } }.min()
        }.min()
        guard let opening else { return }
        if let timer = state.timer, timer.deadline <= opening { return }
        state.timer?.task.cancel()
        state.timer = (opening, Task { [self] in
            do { try await Task.sleep(until: opening) } catch { return }
            let granted = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
                if state.timer?.deadline == opening { state.timer = nil }
                return pump(&state)
            }
            for continuation in granted { continuation.resume() }
        })
    }
}
