import Foundation
import Logging
import ServiceLifecycle

/// Sends a worker's or agent's ``Heartbeat`` every `interval` (`TRIB_HEARTBEAT_INTERVAL` seconds,
/// default 10) while it runs, and a last one marked stopped when it shuts down. A heartbeat that
/// cannot be sent is skipped: it never stops the process.
public struct HeartbeatService: Service {
    public typealias Send = @Sendable (_ body: [UInt8]) async throws -> Void

    let kind: Heartbeat.Kind
    let id: String
    let queues: [String]
    let concurrency: Int
    let interval: Duration
    let activity: @Sendable () -> Activity
    let send: Send
    let logger: Logger

    public init(kind: Heartbeat.Kind, id: String, queues: [String], concurrency: Int,
                interval: Duration = HeartbeatService.configuredInterval, logger: Logger,
                activity: @escaping @Sendable () -> Activity, send: @escaping Send) {
        self.kind = kind
        self.id = id
        self.queues = queues
        self.concurrency = concurrency
        self.interval = interval
        self.activity = activity
        self.send = send
        self.logger = logger
    }

    /// `TRIB_HEARTBEAT_INTERVAL` seconds, or 10.
    public static var configuredInterval: Duration {
        ProcessInfo.processInfo.environment["TRIB_HEARTBEAT_INTERVAL"].flatMap(Double.init).flatMap {
            $0 > 0 ? .milliseconds(Int($0 * 1_000)) : nil
        } ?? .seconds(10)
    }

    public func run() async throws {
        let started = Date().timeIntervalSince1970
        var sequence = 0
        func beat(stopped: Bool) async {
            sequence += 1
            let now = activity()
            let heartbeat = Heartbeat(kind: kind, id: id, queues: queues, concurrency: concurrency,
                                      running: now.running, completed: now.completed, failed: now.failed,
                                      durations: now.durations, flowRuns: now.flowRuns,
                                      startedAt: started, interval: interval.timeInterval,
                                      sequence: sequence, stopped: stopped)
            do {
                try await send(try JSONEncoder().encode(heartbeat).map { $0 })
            } catch {
                logger.debug("could not send a heartbeat", metadata: ["error": "\(error)"])
            }
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await beat(stopped: false)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        await beat(stopped: true)
    }
}
