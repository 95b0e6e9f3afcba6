/// Moves task messages to workers and results back: RabbitMQ (``AMQPBroker``) or in-process
/// (``InMemoryBroker``).
public protocol Broker: Sendable {
    /// Makes sure the queue that tasks for `queue` are published to exists.
    func prepareTaskQueue(_ queue: String) async throws
    /// Publishes a task; `onConfirm` gets nil once the broker holds it, or the error.
    func publish(task: TaskMessage, onConfirm: @escaping @Sendable ((any Error)?) -> Void)
    /// Publishes a task that may travel in one message with others published at the same time (a
    /// pack), where the transport packs: `queued` is how many tasks of the sender (this one
    /// included) wait for the queue's workers, which bounds a pack so a burst still spreads.
    func publish(task: TaskMessage, queued: Int, onConfirm: @escaping @Sendable ((any Error)?) -> Void)
    /// Opens a queue of this process's own for results, named `name`; it goes away with the process.
    /// `onResult` is called for each result as it arrives (on the transport's thread: keep it short);
    /// `onMalformed` for each message (or result of a pack) that is not a valid result, after it was
    /// dead-lettered, with why and what it says of itself.
    func openReplyQueue(named name: String, onResult: @escaping @Sendable (ResultMessage) -> Void,
                        onMalformed: @escaping @Sendable (MalformedTask) -> Void) async throws -> ReplyQueue
    /// Opens a flow run's journal `name`: a durable queue of its results that outlives this process
    /// (kept until `deleteJournal`, or `retention` after its last use), consumed without
    /// acknowledging anything, so that when this process dies everything it held goes back on the
    /// queue for the agent that resumes the run. `held` is how many messages it had when opened;
    /// `onRead` hears once per message read, after its results (a pack holds several).
    func openJournal(named name: String, retention: Duration, onResult: @escaping @Sendable (ResultMessage) -> Void,
                     onMalformed: @escaping @Sendable (MalformedTask) -> Void,
                     onRead: @escaping @Sendable () -> Void) async throws -> (queue: ReplyQueue, held: Int)
    /// Deletes a journal and the results it holds (its run has ended).
    func deleteJournal(named name: String) async
    /// Starts taking tasks from `queue`, at most `prefetch` unacknowledged at a time (and, where
    /// tasks travel in packs, as many again in packs: each task of a pack is a delivery of its own,
    /// settled on its own; a consumer with prefetch 1 takes no packs). Each is handed
    /// to `onDelivery` on the transport's thread (RabbitMQ's connection thread, or the publisher's
    /// in one process): keep it short, hand the work on. `onEnd` hears once that no more will come.
    /// `onLost` (on the transport's thread too) hears when the broker took back every delivery it
    /// had handed over and not yet had settled (RabbitMQ closed the channel); they go to workers again.
    func consumeTasks(from queue: String, prefetch: Int, onDelivery: @escaping @Sendable (TaskDelivery) -> Void,
                      onEnd: @escaping @Sendable () -> Void,
                      onLost: @escaping @Sendable (DeliveriesLost) -> Void) async throws -> any TaskConsumer
    /// How many consumers (workers) take tasks from `queue` now.
    func consumerCount(of queue: String) async throws -> Int
    /// Publishes a result (or a running report); `onConfirm` gets nil once the broker holds it, or the error.
    func publish(result: ResultMessage, to replyQueue: String, onConfirm: @escaping @Sendable ((any Error)?) -> Void)
    /// Starts hearing control messages: every one published to all, and answers sent to the
    /// subscription's own queue. `onMessage` is called on the transport's thread: keep it short.
    func subscribeControl(_ onMessage: @escaping @Sendable (ControlMessage) -> Void) async throws
        -> ControlSubscription
    /// Publishes a control message to every subscriber, or, with `queue`, to that subscription alone.
    func publish(control: ControlMessage, to queue: String?, onConfirm: @escaping @Sendable ((any Error)?) -> Void)
    /// Closes the broker's connection.
    func close() async
}

extension Broker {
    /// A transport that does not pack sends each task alone.
    public func publish(task: TaskMessage, queued: Int, onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        publish(task: task, onConfirm: onConfirm)
    }
}

/// An open reply queue.
public struct ReplyQueue: Sendable {
    public let name: String
    /// Stops consuming and removes the queue.
    public let close: @Sendable () async -> Void

    public init(name: String, close: @escaping @Sendable () async -> Void) {
        self.name = name
        self.close = close
    }
}

/// Takes tasks for a worker (see ``Broker/consumeTasks(from:prefetch:onDelivery:onEnd:onLost:)``).
public protocol TaskConsumer: Sendable {
    /// Asks for no more deliveries; the consumer's `onEnd` is called after those already sent.
    func stop() async
}

/// What a worker does with a delivery once it is done with it.
public enum Settlement: Sendable, Equatable {
    /// Done: the broker forgets the message.
    case ack
    /// Not done: the broker gives the message to a worker again.
    case requeue
    /// Cannot ever be done: the message goes to the dead-letter queue with the reason.
    case deadLetter(reason: String)
}

/// The broker took back the deliveries a consumer held (RabbitMQ closed its channel), and why.
public struct DeliveriesLost: Sendable, Equatable {
    /// The broker's reason, for logs.
    public var reason: String
    /// Set when the reason was a delivery held past the broker's acknowledgement timeout
    /// (RabbitMQ's `consumer_timeout`): the timeout the broker used, `.zero` if it did not say.
    public var deliveryTimeout: Duration?

    public init(reason: String, deliveryTimeout: Duration?) {
        self.reason = reason
        self.deliveryTimeout = deliveryTimeout
    }
}

/// One task message handed to a worker, decoded or not.
public struct TaskDelivery: Sendable {
    public let content: Result<TaskMessage, MalformedTask>
    public let redelivered: Bool
    /// When the worker was handed it.
    public let receivedAt: ContinuousClock.Instant
    private let settleAction: @Sendable (Settlement) -> Void
    private let heldCheck: @Sendable () -> Bool
    private let claimAction: @Sendable () -> Bool

    /// `isHeld` says whether the broker still counts the delivery as this consumer's (false once
    /// it took it back: settling it then does nothing); `claim`, whether it is still here to act on.
    public init(content: Result<TaskMessage, MalformedTask>, redelivered: Bool,
                isHeld: @escaping @Sendable () -> Bool = { true }, claim: @escaping @Sendable () -> Bool = { true },
                settle: @escaping @Sendable (Settlement) -> Void) {
        self.content = content
        self.redelivered = redelivered
        self.receivedAt = .now
        self.heldCheck = isHeld
        self.claimAction = claim
        self.settleAction = settle
    }

    /// Claims the delivery for this worker to act on (run, re-count, discard). False if it waited
    /// here so long that it was handed back to its queue for another worker (see the README's
    /// "Long tasks and the broker's delivery timeout"): this worker then leaves it alone.
    public func claim() -> Bool {
        claimAction()
    }

    /// False once the broker took the delivery back (see ``DeliveriesLost``): another worker may
    /// be handed it, so this one must not run or report it.
    public var isHeld: Bool { heldCheck() }

    /// Tells the broker what became of the delivery. Returns at once; the broker is told in order.
    public func settle(_ settlement: Settlement) {
        settleAction(settlement)
    }
}
