/// What every flow run a client starts shares: who hears its events, its counters, where cached
/// results live, and the largest task input. Subflows inherit their parent's.
struct FlowEnvironment: Sendable {
    let observer: (@Sendable (TaskEvent) -> Void)?
    let statistics: StatisticsCounters
    let resultStore: any ResultStore
    let maxPayloadBytes: Int
    /// Tag limits across every flow run of the client.
    let clientLimits: TagLimiter
}
