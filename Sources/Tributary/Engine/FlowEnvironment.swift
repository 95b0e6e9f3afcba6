/// What every flow run a client starts shares: who hears its events, its counters, where cached
/// results live, the largest task input, its tag limits and rates, its running flow runs and the queues it waits on. Subflows inherit their parent's.
struct FlowEnvironment: Sendable {
    let observer: (@Sendable (TaskEvent) -> Void)?
    let statistics: StatisticsCounters
    let resultStore: any ResultStore
    let maxPayloadBytes: Int
    /// Tag limits across every flow run of the client.
    let clientLimits: TagLimiter
    /// Tag rate limits across every flow run of the client.
    let rateLimiter: RateLimiter
    /// Every flow run of the client still running, for cancel requests by id.
    let activeFlowRuns: ActiveFlowRuns
    /// The task queues the client's runs wait on, and whether any worker takes from them.
    let queueWatch: QueueWatch
    /// Where the runs' events go, if anywhere.
    let events: (any EventSink)?
}
