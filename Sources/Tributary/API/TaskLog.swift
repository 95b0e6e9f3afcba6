import Foundation
import Logging
import Synchronization

/// One line a task logged on a worker, as it travels back with the task's result.
public struct TaskLogRecord: Codable, Sendable, Equatable {
    /// The swift-log level's name: trace, debug, info, notice, warning, error, critical.
    public var level: String
    public var message: String
    /// When it was logged (seconds since 1970, the worker's clock).
    public var at: Double
}

/// What a task logs during one attempt, bounded: the first `limit` bytes of messages are kept and
/// the rest only counted, so a chatty task cannot blow up its result message.
final class TaskLogBuffer: Sendable {
    static let defaultLimit = 16 * 1024
    private let limit: Int
    private let state = Mutex<(records: [TaskLogRecord], bytes: Int, dropped: Int)>(([], 0, 0))

    init(limit: Int = TaskLogBuffer.defaultLimit) {
        self.limit = limit
    }

    func append(level: Logger.Level, message: String) {
        let record = TaskLogRecord(level: level.rawValue, message: message, at: Date().timeIntervalSince1970)
        state.withLock { state in
            let size = message.utf8.count + 32
            if state.bytes + size > limit {
                state.dropped += 1
            } else {
                state.records.append(record)
                state.bytes += size
            }
        }
    }

    /// The kept records, and a last one saying how many were dropped, if any were.
    var records: [TaskLogRecord] {
        state.withLock { state in
            guard state.dropped > 0 else { return state.records }
            return state.records + [TaskLogRecord(level: Logger.Level.warning.rawValue,
                                                  message: "\(state.dropped) more log lines were not shipped (limit \(limit) bytes)",
                                                  at: Date().timeIntervalSince1970)]
        }
    }
}

/// Logs to the worker's own handler (at its level) and keeps a copy for the flow.
struct ShippingLogHandler: LogHandler {
    var upstream: any LogHandler
    let buffer: TaskLogBuffer

    var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    /// Info and above are kept for the flow (its log and the server record them, as Prefect's
    /// do) even when the worker's own handler shows less; more when it shows more.
    var logLevel: Logger.Level {
        get { min(upstream.logLevel, .info) }
        set { upstream.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level >= upstream.logLevel { upstream.log(event: event) }
        buffer.append(level: event.level, message: "\(event.message)")
    }
}
