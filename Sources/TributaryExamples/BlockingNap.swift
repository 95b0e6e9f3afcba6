import Foundation
import Tributary

/// Blocks its thread for `milliseconds` in a C call (`usleep`), as a synchronous database driver,
/// a file read or a numerics routine would, and reports who ran it and when.
public struct BlockingNap: TaskDefinition {
    public static let name = "blocking-nap"
    public init() {}
    public func run(_ input: Nap.Input, context: TaskContext) async throws -> Nap.Report {
        let started = Date().timeIntervalSince1970
        if input.onlyUpToAttempt == 0 || context.attempt <= input.onlyUpToAttempt {
            usleep(UInt32(input.milliseconds) * 1_000)
        }
        return Nap.Report(workerID: context.workerID, attempt: context.attempt, deliveries: context.deliveries,
                          startedAt: started, finishedAt: Date().timeIntervalSince1970)
    }
}
