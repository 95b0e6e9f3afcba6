import DequeModule
import Synchronization

/// Holds back the sending of task runs so that, per tag, at most `count` start in any window of
/// `period`: a sliding window over the latest sends, shared by every flow run of a client.
final class RateLimiter: Sendable {
    private let limits: [String: RateLimit]
    /// Per tag, when the latest runs (at most `count`) were let through.
    private let sent = Mutex<[String: Deque<ContinuousClock.Instant>]>([:])

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

    /// Waits until a run with `tags` may be sent without going over any of its tags' rates, and
    /// counts it. Returns early if the waiting task is cancelled.
    func acquire(tags: Set<String>) async {
        let limited = tags.filter { limits[$0] != nil }
        guard !limited.isEmpty else { return }
        while true {
            let wait = sent.withLock { sent -> ContinuousClock.Instant? in
                let now = ContinuousClock.now
                // The earliest moment every tag has room: the oldest of its last `count` sends, plus the period.
                var earliest = now
                for tag in limited {
                    let limit = limits[tag]!
                    if let history = sent[tag], history.count >= limit.count, let oldest = history.first {
                        earliest = max(earliest, oldest + limit.period)
                    }
                }
                guard earliest <= now else { return earliest }
                for tag in limited {
                    sent[tag, default: []].append(now)
                    if sent[tag]!.count > limits[tag]!.count { sent[tag]!.removeFirst() }
                }
                return nil
            }
            guard let wait else { return }
            do { try await Task.sleep(until: wait) } catch { return }
        }
    }
}
