import Foundation
import Logging
import Synchronization

/// Watches the task queues a client's flow runs wait on: while task runs sent to a queue have had
/// no word from a worker, it asks the broker every ``interval`` how many consumers the queue has.
/// A queue with none for ``patience`` is reported once (a warning in the log, and a
/// ``QueueAlert/unserved(queue:waiting:workerCommand:)`` to the client's listener), and reported
/// served again when a worker comes.
final class QueueWatch: Sendable {
    static let interval = Duration.seconds(1)
    static let patience = Duration.seconds(3)

    private struct Watched {
        let broker: any Broker
        /// Task runs sent to the queue that no worker has reported on yet.
        var waiting: Set<String> = []
        var unservedSince: ContinuousClock.Instant?
        var warned = false
    }

    private struct State {
        var queues: [String: Watched] = [:]
        var poller: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let listener: (@Sendable (QueueAlert) -> Void)?

    init(logger: Logger, listener: (@Sendable (QueueAlert) -> Void)?) {
        self.logger = logger
        self.listener = listener
    }

    /// Task run `runID` was sent to `queue` through `broker`.
    func sent(_ runID: String, to queue: String, via broker: any Broker) {
        state.withLock { state in
            state.queues[queue, default: Watched(broker: broker)].waiting.insert(runID)
            if state.poller == nil {
                state.poller = Task { [weak self] in await self?.poll() }
            }
        }
    }

    /// How many task runs sent to `queue` no worker has reported on yet.
    func waiting(on queue: String) -> Int {
        state.withLock { $0.queues[queue]?.waiting.count ?? 0 }
    }

    /// A worker reported on task run `runID` (or it ended).
    func heard(_ runID: String, on queue: String) {
        state.withLock { _ = $0.queues[queue]?.waiting.remove(runID) }
    }

    private func poll() async {
        while true {
            try? await Task.sleep(for: Self.interval)
            let toAsk = state.withLock { state -> [(String, any Broker)]? in
                let watched = state.queues.filter { !$0.value.waiting.isEmpty || $0.value.warned }
                guard !watched.isEmpty else {
                    state.queues = [:]
                    state.poller = nil
                    return nil
                }
                return watched.map { ($0.key, $0.value.broker) }
            }
            guard let toAsk else { return }
            for (queue, broker) in toAsk {
                guard let consumers = try? await broker.consumerCount(of: queue) else { continue }
                record(queue, consumers: consumers)
            }
        }
    }

    private func record(_ queue: String, consumers: Int, now: ContinuousClock.Instant = .now) {
        let alert = state.withLock { state -> QueueAlert? in
            guard var watched = state.queues[queue] else { return nil }
            defer { state.queues[queue] = watched }
            if consumers > 0 {
                watched.unservedSince = nil
                guard watched.warned else { return nil }
                watched.warned = false
                return .served(queue: queue)
            }
            let since = watched.unservedSince ?? now
            watched.unservedSince = since
            guard !watched.warned, !watched.waiting.isEmpty, since.duration(to: now) >= Self.patience else { return nil }
            watched.warned = true
            return .unserved(queue: queue, waiting: watched.waiting.count, workerCommand: Self.workerCommand(for: queue))
        }
        guard let alert else { return }
        switch alert {
        case .unserved(let queue, let waiting, let command):
            logger.warning("no worker takes tasks from queue '\(queue)': \(waiting) task runs wait on it; start one with `\(command)` (a worker whose registry has these tasks), or check the queue name", metadata: [
                "queue": "\(queue)", "waiting": "\(waiting)",
            ])
        case .served(let queue):
            logger.info("a worker takes tasks from queue '\(queue)' now", metadata: ["queue": "\(queue)"])
        }
        listener?(alert)
    }

    /// `<this program> worker --queue <queue>`: the CLI that runs a flow starts its workers too.
    static func workerCommand(for queue: String) -> String {
        "\(ProcessInfo.processInfo.processName) worker --queue \(queue)"
    }
}
