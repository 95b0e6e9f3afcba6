import Synchronization

/// What a client absorbed so that user code never saw it, counted over every flow it ran.
public struct ClientStatistics: Sendable, Equatable {
    /// Results that arrived for a run or attempt that had already ended and were ignored: duplicates
    /// from redelivery (a worker lost after publishing a result but before acknowledging the task)
    /// and late results from a worker that was cut off. Each task's result reaches the flow once.
    public var duplicateResultsIgnored = 0
    /// Messages on a reply queue that were not valid results; each was dead-lettered with its reason.
    public var malformedRepliesDeadLettered = 0
    /// Tasks sent in packs (several tasks for one queue in one message; see ``TaskOptions/packing``).
    public var tasksSentInPacks = 0
    /// Tasks that came back unrun in a pack handed to a worker again (the worker holding it died or
    /// lost its connection) and were sent again alone.
    public var tasksReturnedFromPacks = 0
}

/// The live counters behind ``ClientStatistics``, shared by a client's coordinators.
final class StatisticsCounters: Sendable {
    let duplicateResults = Atomic<Int>(0)
    let malformedReplies = Atomic<Int>(0)
    let tasksSentInPacks = Atomic<Int>(0)
    let tasksReturnedFromPacks = Atomic<Int>(0)

    var snapshot: ClientStatistics {
        ClientStatistics(duplicateResultsIgnored: duplicateResults.load(ordering: .relaxed),
                         malformedRepliesDeadLettered: malformedReplies.load(ordering: .relaxed),
                         tasksSentInPacks: tasksSentInPacks.load(ordering: .relaxed),
                         tasksReturnedFromPacks: tasksReturnedFromPacks.load(ordering: .relaxed))
    }
}
