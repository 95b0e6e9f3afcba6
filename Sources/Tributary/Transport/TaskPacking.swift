import AMQPClient
import Foundation
import Synchronization

/// Decides, for a client's connection, whether a task may travel in a pack and how large one may be.
///
/// A pack goes to its queue's pack queue, which only workers that read packs consume, so tasks are
/// packed only while that queue has as many consumers as the queue of single tasks (every worker
/// reads packs; a worker of an older release never sees one). A pack holds at most
/// `queued / (2 · workers)` tasks (and at most ``WireFormat/maxTasksPerPack``), so a burst still
/// spreads across every worker; below 2, a task goes alone. Consumer counts are asked of the
/// broker when a queue is first used, then at most once a second while tasks are published to it.
final class TaskPacking: Sendable {
    /// How often a queue's consumer counts are asked again.
    static let refreshInterval = Duration.seconds(1)

    let isEnabled: Bool
    private let connection: AMQPConnection
    /// Where tasks sent in packs are counted (a client's statistics), if anywhere.
    private let statistics: StatisticsCounters?
    /// Packers for packs of at most 2...``WireFormat/maxTasksPerPack`` tasks (index = the limit).
    private let packers: [MessagePacker]

    private struct Counts {
        /// Workers of the queue, if every one of them also reads packs; 0 otherwise.
        var packReaders = 0
        var askedAt = ContinuousClock.now
        var asking = false
    }
    private let counts = Mutex<[String: Counts]>([:])

    init(enabled: Bool, connection: AMQPConnection, statistics: StatisticsCounters?) {
        self.isEnabled = enabled
        self.connection = connection
        self.statistics = statistics
        self.packers = (0...WireFormat.maxTasksPerPack).map { limit in
            MessagePacker(maxMessages: max(limit, 2), maxBytes: 256 * 1024) { messages in
                statistics?.tasksSentInPacks.add(messages.count, ordering: .relaxed)
                return WireFormat.packTasks(messages)
            }
        }
    }

    /// The packer for a task of `queue` when `queued` tasks wait for its workers, or nil: it goes alone.
    func packer(for queue: String, queued: Int) -> MessagePacker? {
        let limit = limit(for: queue, queued: queued)
        return limit < 2 ? nil : packers[limit]
    }

    /// Whether `TRIB_TASK_PACKING` (`on`, the default, or `off`) lets tasks travel in packs.
    static func configured(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool {
        switch environment["TRIB_TASK_PACKING"] {
        case nil, "on": return true
        case "off": return false
        case let other?:
            throw TributaryError.invalidConfiguration("TRIB_TASK_PACKING is '\(other)': give 'on' (tasks published "
                + "at the same time may travel in one message) or 'off' (one message per task)")
        }
    }

    /// The most tasks a pack for `queue` may hold when `queued` tasks wait for its workers (below 2:
    /// none); asks the broker again in the background when the counts are older than a second.
    private func limit(for queue: String, queued: Int) -> Int {
        guard isEnabled, queued >= 2 else { return 0 }
        let (readers, stale) = counts.withLock { counts -> (Int, Bool) in
            guard var entry = counts[queue] else { return (0, false) }
            let stale = !entry.asking && entry.askedAt.duration(to: .now) >= Self.refreshInterval
            if stale { entry.asking = true; counts[queue] = entry }
            return (entry.packReaders, stale)
        }
        if stale { Task { await self.refresh(queue) } }
        guard readers > 0 else { return 0 }
        return min(WireFormat.maxTasksPerPack, queued / (2 * readers))
    }

    /// Asks the broker how many consumers `queue` and its pack queue have (both declared already).
    func refresh(_ queue: String) async {
        var readers = 0
        if let plain = try? await connection.inspect(queue: AMQPBroker.amqpQueue(for: queue)).consumers,
           let packs = try? await connection.inspect(queue: AMQPBroker.packQueue(for: queue)).consumers,
           packs == plain {
            readers = plain
        }
        counts.withLock { $0[queue] = Counts(packReaders: readers, askedAt: .now, asking: false) }
    }
}
