import Foundation

/// The limit of flow runs running at once from one work queue, across all its agents.
public struct WorkQueueLimit: Codable, Sendable, Equatable {
    public var workQueue: String
    public var limit: Int
    /// Grows each time the limit is set; a slot of an older setting is dropped when given back.
    public var generation: Int
    /// While paused (a limit of 0): the limit it had before, which resuming restores (nil: none).
    public var resumeLimit: Int?

    public init(workQueue: String, limit: Int, generation: Int, resumeLimit: Int? = nil) {
        self.workQueue = workQueue
        self.limit = limit
        self.generation = generation
        self.resumeLimit = resumeLimit
    }

    /// Whether the work queue is paused: none of its runs start.
    public var isPaused: Bool { limit == 0 }
}

/// A slot of a limited work queue, held while one of its runs runs.
public struct WorkQueueSlot: Sendable {
    private let giveBack: @Sendable () async -> Void

    public init(giveBack: @escaping @Sendable () async -> Void) {
        self.giveBack = giveBack
    }

    /// A slot of a work queue with no limit: giving it back does nothing.
    public static let unlimited = WorkQueueSlot {}

    /// Returns the slot for the next run (of any agent).
    public func release() async {
        await giveBack()
    }
}
