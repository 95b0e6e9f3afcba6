import Foundation
import Logging
import ServiceLifecycle

/// Deletes finished runs older than the retention: at start, then every tenth of it (at most hourly).
struct RetentionService: Service {
    let store: any RunStore
    let retention: Duration
    let logger: Logger

    func run() async throws {
        let every = min(retention / 10, .seconds(3_600))
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let cutoff = Date().timeIntervalSince1970 - Double(retention.components.seconds)
                do {
                    let deleted = try await store.deleteRuns(endedBefore: cutoff)
                    if deleted > 0 { logger.info("deleted runs past the retention", metadata: ["flow-runs": "\(deleted)"]) }
                } catch {
                    logger.error("could not delete runs past the retention", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: every)
            }
        }
    }
}
