import Foundation
import Tributary

/// Fails every attempt before `succeedOnAttempt`, then returns `value`.
public struct Flaky: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var succeedOnAttempt: Int
        public var value: Int
        public init(succeedOnAttempt: Int, value: Int) {
            self.succeedOnAttempt = succeedOnAttempt
            self.value = value
        }
    }

    public struct TransientFailure: Error, CustomStringConvertible {
        public let attempt: Int
        public var description: String { "simulated transient failure on attempt \(attempt)" }
    }

    public static let name = "flaky"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Int {
        if context.attempt < input.succeedOnAttempt { throw TransientFailure(attempt: context.attempt) }
        return input.value
    }
}

/// Always throws, with the given message.
public struct AlwaysFails: TaskDefinition {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static let name = "always-fails"
    public init() {}
    public func run(_ message: String, context: TaskContext) async throws -> Int {
        throw Failure(message: message)
    }
}

/// Sleeps (cooperatively) and returns who ran it: for timeouts and graceful shutdown.
public struct Nap: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var milliseconds: Int
        /// Sleep only on attempts up to this one (0: every attempt).
        public var onlyUpToAttempt: Int
        public init(milliseconds: Int, onlyUpToAttempt: Int = 0) {
            self.milliseconds = milliseconds
            self.onlyUpToAttempt = onlyUpToAttempt
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var workerID: String
        public var attempt: Int
        /// More than 1 when the message was redelivered after a worker was lost.
        public var deliveries: Int
        /// When the worker started and finished it (seconds since 1970, the worker's clock).
        public var startedAt: Double
        public var finishedAt: Double

        public init(workerID: String, attempt: Int, deliveries: Int, startedAt: Double, finishedAt: Double) {
            self.workerID = workerID
            self.attempt = attempt
            self.deliveries = deliveries
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    public static let name = "nap"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Report {
        let started = Date().timeIntervalSince1970
        if input.onlyUpToAttempt == 0 || context.attempt <= input.onlyUpToAttempt {
            try await Task.sleep(for: .milliseconds(input.milliseconds))
        }
        return Report(workerID: context.workerID, attempt: context.attempt, deliveries: context.deliveries,
                      startedAt: started, finishedAt: Date().timeIntervalSince1970)
    }
}

/// `value + 1` after sleeping: a fan-out slow enough to kill workers in the middle of.
public struct SlowIncrement: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var value: Int
        public var milliseconds: Int
        public init(value: Int, milliseconds: Int) {
            self.value = value
            self.milliseconds = milliseconds
        }
    }

    public static let name = "slow-inc"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Int {
        try await Task.sleep(for: .milliseconds(input.milliseconds))
        return input.value + 1
    }
}

/// Brings down the worker process that runs it, every time: a poison task.
public struct CrashWorker: TaskDefinition {
    public static let name = "crash-worker"
    public init() {}
    public func run(_ reason: String, context: TaskContext) async throws -> Int {
        fatalError("poison task: \(reason)")
    }
}

/// Blocks its thread in a C call for `milliseconds`, ignoring cancellation: a hung task.
public struct BlockThread: TaskDefinition {
    public static let name = "block-thread"
    public init() {}
    public func run(_ milliseconds: Int, context: TaskContext) async throws -> Int {
        usleep(UInt32(milliseconds) * 1_000)
        return milliseconds
    }
}

/// A string of `count` characters: for size limits.
public struct Blob: TaskDefinition {
    public static let name = "blob"
    public init() {}
    public func run(_ count: Int, context: TaskContext) async throws -> String {
        String(repeating: "x", count: max(count, 0))
    }
}

/// Logs `count` numbered lines through its context's logger, publishes a markdown artifact saying so,
/// and returns how many: for log and artifact shipping.
public struct Chatty: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var count: Int
        public var text: String
        public init(count: Int, text: String) {
            self.count = count
            self.text = text
        }
    }

    public static let name = "chatty"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Int {
        let logger = context.logger
        for line in 1...max(input.count, 1) { logger.info("\(input.text) \(line)") }
        // What it said, as a markdown artifact of its task run, under a key of its own.
        try context.publish(.markdown("## \(input.text)\n\n\(input.count) lines logged"), key: "chatty-summary",
                            description: "what chatty said")
        return input.count
    }
}

/// Brings down the agent process that runs it, every time: a poison flow run.
public struct CrashAgent: FlowDefinition {
    public static let name = "crash-agent"
    public init() {}
    public func run(_ reason: String, flow: FlowContext) async throws -> Int {
        fatalError("poison flow: \(reason)")
    }
}
