/// Carries submitted flow runs to agents and keeps each run's latest status where any process can
/// read it: RabbitMQ (``AMQPBroker``) or in-process (``InMemoryFlowRuns``).
public protocol FlowRunTransport: Sendable {
    /// Makes sure the queue that flow runs for `workQueue` wait on exists.
    func prepareWorkQueue(_ workQueue: String) async throws
    /// Puts a flow run on its work queue; returns once the broker holds it.
    func publish(flowRun: FlowRunMessage) async throws
    /// Starts taking flow runs from `workQueue`, at most `prefetch` unsettled at a time.
    func consumeFlowRuns(from workQueue: String, prefetch: Int) async throws -> any FlowRunConsumer
    /// How many agents take flow runs from `workQueue` now.
    func agentCount(of workQueue: String) async throws -> Int
    /// Submits a run: makes its status board (kept `retention` after its last change) with the
    /// `pending` status on it, and puts the run on its work queue; returns once the broker holds both.
    func submit(_ flowRun: FlowRunMessage, pending: FlowRunStatus, retention: Duration) async throws
    /// Makes a run's status board ahead of its submission (kept `retention` after its last change),
    /// with its `pending` status on it; returns once the broker holds the status.
    func prepareBoard(pending: FlowRunStatus, retention: Duration) async throws
    /// Submits a run whose board ``prepareBoard(pending:retention:)`` made: only the run, on its
    /// work queue; returns once the broker holds it.
    func submitPrepared(_ flowRun: FlowRunMessage) async throws
    /// Puts a newer status of a run on its board and tells whoever watches the run; returns once
    /// the broker holds it.
    func publish(status: FlowRunStatus) async throws
    /// The run's latest status; nil if no run has that id (or its retention has passed).
    func status(of flowRunID: String) async throws -> FlowRunStatus?
    /// The work queue's limit of runs at once across its agents, if it has one.
    func limit(of workQueue: String) async throws -> WorkQueueLimit?
    /// Sets (or, with nil, removes) the work queue's limit; a limit of 0 pauses it, remembering
    /// `resumeLimit` for when it resumes.
    func setLimit(_ limit: Int?, of workQueue: String, resumeLimit: Int?) async throws
    /// Waits for a free slot of the limited work queue; held until released, or until this
    /// process's connection ends (the broker gives it back).
    func acquireSlot(of limit: WorkQueueLimit) async throws -> WorkQueueSlot
    /// Claims take `epoch` of a run for the caller (`token` is unique to this take): true for the
    /// first claim of that take, false for every later one, made with another copy of the run's
    /// message (an agent that died while it renewed the message can leave two). Kept until
    /// ``releaseClaim(flowRunID:epoch:)``, or `retention` after its last use.
    func claim(flowRunID: String, epoch: Int, token: String, retention: Duration) async throws -> Bool
    /// Forgets a take's claim (its run has ended and its end is recorded).
    func releaseClaim(flowRunID: String, epoch: Int) async
    /// Hears every status of the run published from now on, until the watch is closed.
    func watch(flowRunID: String, _ onStatus: @escaping @Sendable (FlowRunStatus) -> Void) async throws
        -> FlowRunWatch
}

/// Flow runs handed to an agent.
public protocol FlowRunConsumer: Sendable {
    var deliveries: AsyncStream<FlowRunDelivery> { get }
    /// Asks for no more deliveries.
    func stop() async
}

/// A watch on one run's statuses.
public struct FlowRunWatch: Sendable {
    public let close: @Sendable () async -> Void

    public init(close: @escaping @Sendable () async -> Void) {
        self.close = close
    }
}

/// One flow-run message handed to an agent, decoded or not.
public struct FlowRunDelivery: Sendable {
    public let content: Result<FlowRunMessage, MalformedTask>
    public let redelivered: Bool
    private let settleAction: @Sendable (Settlement) -> Void
    private let claimAction: @Sendable () -> Bool

    public init(content: Result<FlowRunMessage, MalformedTask>, redelivered: Bool,
                claim: @escaping @Sendable () -> Bool = { true }, settle: @escaping @Sendable (Settlement) -> Void) {
        self.content = content
        self.redelivered = redelivered
        self.claimAction = claim
        self.settleAction = settle
    }

    /// Claims the run's message for this agent to act on (run, re-count, discard). False if it
    /// waited for a free slot here so long that it was handed back to its work queue for another
    /// agent: this agent then leaves it alone.
    public func claim() -> Bool {
        claimAction()
    }

    /// Tells the broker what became of the run's message.
    public func settle(_ settlement: Settlement) {
        settleAction(settlement)
    }
}
