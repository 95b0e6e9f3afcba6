import Foundation
import Logging
import Synchronization

/// The client: runs flows, sending their tasks to workers over RabbitMQ, or, on the embedded
/// default, to workers inside this process.
///
/// ```swift
/// let total = try await Tributary(broker: "amqp://guest:guest@localhost:5672/").run(SumOfSquares.self, 100)
/// let same = try await Tributary.local(Registry([Square.self])).run(SumOfSquares.self, 100)
/// ```
public final class Tributary: Sendable {
    enum Transport: Sendable {
        case rabbitMQ(url: String)
        case embedded(concurrency: Int)
    }

    let transport: Transport
    /// Tasks and flows this process can run itself (embedded, in-process task runners, flows by name).
    public let registry: Registry
    let logger: Logger
    let observer: (@Sendable (TaskEvent) -> Void)?
    /// The largest task input, in bytes of JSON, a flow may send; larger ones fail at submit.
    public let maxPayloadBytes: Int
    /// Where results of tasks with a cache policy are kept.
    public let resultStore: any ResultStore
    /// 16 MiB: well under RabbitMQ's own message size limit, and large enough for any input that
    /// should travel by message rather than by reference (a path or URL).
    public static let defaultMaxPayloadBytes = 16 << 20
    private let connection = Mutex<Task<AMQPBroker, any Error>?>(nil)
    private let counters = StatisticsCounters()
    /// At most N running task runs per tag across every flow run of this client.
    private let clientLimits: TagLimiter
    /// At most N task runs per tag started per period, across every flow run of this client.
    private let rateLimiter: RateLimiter
    let activeFlowRuns = ActiveFlowRuns()
    private let queueWatch: QueueWatch
    /// How long a submitted run's outcome stays readable after its last change.
    public let flowRunRetention: Duration
    /// Work queues and boards of the embedded default, and the in-process agent that serves them.
    private let inMemoryFlowRuns = InMemoryFlowRuns()
    private let embeddedAgent = Mutex<Task<Void, Never>?>(nil)
    /// How long a submitted run's outcome stays readable by default: `TRIB_FLOW_RUN_RETENTION`
    /// seconds if set (test suites set it low, so their runs' queues do not pile up in the broker),
    /// else a day.
    public static let defaultFlowRunRetention: Duration = {
        if let text = ProcessInfo.processInfo.environment["TRIB_FLOW_RUN_RETENTION"], let seconds = Int(text), seconds > 0 {
            return .seconds(seconds)
        }
        return .seconds(86_400)
    }()

    /// Duplicates and malformed replies this client absorbed, and tasks it sent in packs, over every flow it ran.
    public var statistics: ClientStatistics { counters.snapshot }

    /// Whether this client sends its runs' events on: to the broker, for the server (see
    /// ``Tributary/eventsEnabled``), or, on the embedded default, to the sink it was given.
    public let publishesEvents: Bool
    /// Where this client's runs' events go: on a broker, made on first use; on the embedded
    /// default, the sink it was given, if any.
    private let eventPublisher: Mutex<(any EventSink)?>

    /// Whether clients on a broker publish their runs' events to its `trib.events` exchange (for
    /// the server) unless told otherwise: yes unless `TRIB_EVENTS` is `off` (or `0`, `false`).
    public static let eventsEnabled: Bool = {
        let value = ProcessInfo.processInfo.environment["TRIB_EVENTS"]?.lowercased() ?? "on"
        switch value {
        case "on", "1", "true", "": return true
        case "off", "0", "false": return false
        default:
            Logger(label: "tributary").warning("TRIB_EVENTS is '\(value)', which is neither on nor off; events stay on")
            return true
        }
    }()

    var events: (any EventSink)? {
        guard publishesEvents else { return nil }
        return eventPublisher.withLock { publisher in
            guard publisher == nil, case .rabbitMQ(let url) = transport else { return publisher }
            let created = EventPublisher(logger: logger) { [weak self] events, kind in
                guard let self else { return }
                let body = Array(try JSONEncoder().encode(EventBatch(events: events)))
                try await self.sharedBroker(url: url).publish(eventBatch: body, routingKey: kind.rawValue)
            }
            publisher = created
            return created
        }
    }

    private var environment: FlowEnvironment {
        FlowEnvironment(observer: observer, statistics: counters, resultStore: resultStore,
                        maxPayloadBytes: maxPayloadBytes, clientLimits: clientLimits, rateLimiter: rateLimiter,
                        activeFlowRuns: activeFlowRuns, queueWatch: queueWatch, events: events)
    }

    /// A client that sends tasks to workers through the RabbitMQ at `url`. It connects on first use.
    /// `onQueueAlert` hears when a queue its task runs wait on has no worker for a few seconds,
    /// and when one comes (the same is logged as a warning).
    public convenience init(broker url: String, registry: Registry = Registry(),
                            logger: Logger = Logger(label: "tributary"),
                            maxPayloadBytes: Int = Tributary.defaultMaxPayloadBytes,
                            resultStore: any ResultStore = LocalResultStore(),
                            concurrencyLimits: [String: Int] = [:], rateLimits: [String: RateLimit] = [:],
                            flowRunRetention: Duration = Tributary.defaultFlowRunRetention,
                            publishesEvents: Bool = Tributary.eventsEnabled,
                            onEvent: (@Sendable (TaskEvent) -> Void)? = nil,
                            onQueueAlert: (@Sendable (QueueAlert) -> Void)? = nil) {
        self.init(transport: .rabbitMQ(url: url), registry: registry, logger: logger, maxPayloadBytes: maxPayloadBytes,
                  resultStore: resultStore, concurrencyLimits: concurrencyLimits, rateLimits: rateLimits,
                  flowRunRetention: flowRunRetention, publishesEvents: publishesEvents, observer: onEvent,
                  onQueueAlert: onQueueAlert)
    }

    private init(transport: Transport, registry: Registry, logger: Logger, maxPayloadBytes: Int,
                 resultStore: any ResultStore, concurrencyLimits: [String: Int], rateLimits: [String: RateLimit],
                 flowRunRetention: Duration = Tributary.defaultFlowRunRetention, publishesEvents: Bool = false,
                 events: (any EventSink)? = nil,
                 observer: (@Sendable (TaskEvent) -> Void)?, onQueueAlert: (@Sendable (QueueAlert) -> Void)? = nil) {
        self.flowRunRetention = flowRunRetention
        self.publishesEvents = publishesEvents || events != nil
        self.eventPublisher = Mutex(events)
        self.queueWatch = QueueWatch(logger: logger, listener: onQueueAlert)
        self.transport = transport
        self.clientLimits = TagLimiter(limits: concurrencyLimits)
        self.rateLimiter = RateLimiter(limits: rateLimits)
        self.resultStore = resultStore
        self.registry = registry
        self.logger = logger
        self.maxPayloadBytes = maxPayloadBytes
        self.observer = observer
    }

    /// The embedded default: no broker; tasks run on in-process workers, up to `concurrency` at once.
    /// With `events` (the server product's `LocalRunRecorder`), its runs are recorded there, so a
    /// script's runs show in the server as a broker's do; the client closes it as it closes.
    public static func local(_ registry: Registry, concurrency: Int = 8, logger: Logger = Logger(label: "tributary"),
                             maxPayloadBytes: Int = Tributary.defaultMaxPayloadBytes,
                             resultStore: any ResultStore = LocalResultStore(),
                             concurrencyLimits: [String: Int] = [:], rateLimits: [String: RateLimit] = [:],
                             events: (any EventSink)? = nil,
                             onEvent: (@Sendable (TaskEvent) -> Void)? = nil) -> Tributary {
        Tributary(transport: .embedded(concurrency: concurrency), registry: registry, logger: logger,
                  maxPayloadBytes: maxPayloadBytes, resultStore: resultStore, concurrencyLimits: concurrencyLimits,
                  rateLimits: rateLimits, events: events, observer: onEvent)
    }

    /// Runs a flow to its end and returns its output, or throws the error that failed it (a task's
    /// ``TaskFailure`` when the flow did not handle it).
    public func run<F: FlowDefinition>(_ flow: F.Type, _ input: F.Input) async throws -> F.Output {
        try await runFlow(named: F.name, parameters: try? WireJSON.encode(input), result: { try? WireJSON.encode($0) },
                          taskRunner: F.taskRunner, options: F.options, hooks: F.hooks) { context in
            try await F().run(input, flow: context)
        }
    }

    /// Runs a registered flow by name with a JSON input; returns the JSON output.
    public func run(flowNamed name: String, input: [UInt8]) async throws -> [UInt8] {
        try await run(flowNamed: name, input: input, flowRunID: nil)
    }

    /// Runs a registered flow by name, as run `flowRunID` if given (a submitted run an agent took),
    /// its results journaled in `journal` if given.
    func run(flowNamed name: String, input: [UInt8], flowRunID: String?, journal: RunJournal? = nil) async throws
        -> [UInt8] {
        guard let flow = registry.flow(named: name) else { throw unknownFlow(name) }
        return try await runFlow(named: name, flowRunID: flowRunID, journal: journal, parameters: input, result: { $0 },
                                 taskRunner: flow.taskRunner,
                                 options: flow.options, hooks: flow.hooks) {
            try await flow.run(input, $0)
        }
    }

    func unknownFlow(_ name: String) -> TributaryError {
        let known = registry.flowNames.joined(separator: ", ")
        return TributaryError.unknownFlow(name: name, known: known.isEmpty ? "none" : known)
    }

    /// Runs a closure as a flow named `name`: a flow written inline rather than as a type.
    public func run<Output: Sendable>(flowNamed name: String, taskRunner: TaskRunner = .workers,
                                      options: FlowOptions = FlowOptions(), hooks: FlowHooks = FlowHooks(),
                                      _ body: @escaping @Sendable (FlowContext) async throws -> Output)
        async throws -> Output {
        try await runFlow(named: name, taskRunner: taskRunner, options: options, hooks: hooks, body)
    }

    /// Cancels flow run `flowRunID`, wherever it runs: this client cancels it itself if it runs
    /// it; otherwise the request goes through the broker to every client and worker, and this
    /// waits up to `waitingUpTo` for the client running it to answer. Either way its tasks end
    /// Cancelled: workers discard its queued tasks and cancel its running ones, and its `run`
    /// throws ``FlowCancelled``. Throws if the broker cannot be reached.
    public func cancel(flowRunID: String, reason: String = "cancelled by request",
                       waitingUpTo: Duration = .seconds(5)) async throws -> CancelRequestOutcome {
        if let flowName = activeFlowRuns.cancel(flowRunID, reason: reason) {
            return .cancelled(flowName: flowName)
        }
        let queued = try await cancelIfQueued(flowRunID, reason: reason)
        guard case .rabbitMQ(let url) = transport else { return queued.map { .cancelled(flowName: $0) } ?? .unanswered }
        // A queued run is cancelled on its board; the request still goes out, in case an agent
        // is taking it this moment, but nobody needs to answer it.
        let waitingUpTo = queued == nil ? waitingUpTo : .zero
        let broker = try await sharedBroker(url: url)
        // The answer of the client running it, or the broker's refusal of the request.
        let (answers, answered) = AsyncStream.makeStream(of: Result<String, any Error>.self)
        let subscription = try await broker.subscribeControl { message in
            if message.kind == .flowRunCancelled, message.flowRunID == flowRunID { answered.yield(.success(message.detail)) }
        }
        defer { answered.finish() }
        broker.publish(control: .cancelFlowRun(flowRunID, reason: reason, replyTo: subscription.queueName),
                       to: nil) { error in
            if let error { answered.yield(.failure(error)) }
        }
        let flowName: String?
        do {
            flowName = try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask { try await answers.first { _ in true }?.get() }
                group.addTask {
                    try await Task.sleep(for: waitingUpTo)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        } catch {
            await subscription.close()
            throw error
        }
        await subscription.close()
        return (flowName ?? queued).map { .cancelled(flowName: $0) } ?? .unanswered
    }

    /// A submitted run still on its work queue ends Cancelled on its board, so the agent that
    /// takes it discards it; returns its flow's name. Nil if it is not a queued submitted run.
    private func cancelIfQueued(_ flowRunID: String, reason: String) async throws -> String? {
        let transport = try await flowRunTransport()
        guard let status = try await transport.status(of: flowRunID), status.state == .pending else { return nil }
        try await transport.publish(status: status.next(.cancelled, error: RemoteError(
            type: "FlowCancelled", message: "cancelled before an agent took it: \(reason)", retryable: false)))
        return status.flowName
    }

    /// Closes the broker connection, if one was opened, and stops the embedded agent, if it ran.
    public func close() async {
        embeddedAgent.withLock { $0.take() }?.cancel()
        // Its last events go out before the connection closes.
        await eventPublisher.withLock { $0 }?.close()
        let task = connection.withLock { $0.take() }
        if let broker = try? await task?.value { await broker.close() }
    }

    func runFlow<Output: Sendable>(named name: String, flowRunID: String? = nil, journal: RunJournal? = nil,
                                   parameters: [UInt8]? = nil, result: @escaping @Sendable (Output) -> [UInt8]? = { _ in nil },
                                   taskRunner: TaskRunner, options: FlowOptions, hooks: FlowHooks,
                                   _ body: @escaping @Sendable (FlowContext) async throws -> Output)
        async throws -> Output {
        let execution = FlowExecution(name: name, flowRunID: flowRunID, options: options, hooks: hooks,
                                      environment: environment, logger: logger, journal: journal, parameters: parameters)
        return try await execution.runCancellable(result: result) { attempt in
            try await self.withTaskTransport(taskRunner) { broker in
                try await execution.attempt(attempt, on: broker, body)
            }
        }
    }

    /// Gives `body` the broker the flow's tasks go to, with in-process workers when they run here.
    private func withTaskTransport<Output: Sendable>(_ taskRunner: TaskRunner,
                                                     _ body: @escaping @Sendable (any Broker) async throws -> Output)
        async throws -> Output {
        let inProcessConcurrency: Int
        switch (taskRunner, transport) {
        case (.workers, .rabbitMQ(let url)):
            return try await body(try await sharedBroker(url: url))
        case (.workers, .embedded(let concurrency)):
            inProcessConcurrency = concurrency
        case (.concurrent(let n), _):
            inProcessConcurrency = max(1, n)
        case (.sequential, _):
            inProcessConcurrency = 1
        }
        let broker = InMemoryBroker()
        let worker = Worker(broker: broker, registry: registry,
                            configuration: .init(queues: [InMemoryBroker.anyQueue], concurrency: inProcessConcurrency,
                                                 id: "in-process", maxPayloadBytes: maxPayloadBytes),
                            logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            defer { group.cancelAll() }
            return try await body(broker)
        }
    }

    /// Where submitted runs and their statuses go: the broker, or, on the embedded default, this
    /// process (whose in-process agent starts on first use).
    func flowRunTransport() async throws -> any FlowRunTransport {
        switch transport {
        case .rabbitMQ(let url):
            return try await sharedBroker(url: url)
        case .embedded:
            embeddedAgent.withLock { agent in
                guard agent == nil else { return }
                let flowAgent = FlowAgent(client: self, transport: inMemoryFlowRuns,
                                          configuration: .init(workQueues: ["*"], concurrency: 16, id: "in-process"),
                                          logger: logger)
                agent = Task { try? await flowAgent.run() }
            }
            return inMemoryFlowRuns
        }
    }

    func sharedBroker(url: String) async throws -> AMQPBroker {
        let task = connection.withLock { existing -> Task<AMQPBroker, any Error> in
            if let existing { return existing }
            let logger = self.logger
            let name = "tributary client \(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
            let created = Task { [activeFlowRuns, counters] in
                let broker = try await AMQPBroker.connect(url: url, connectionName: name, statistics: counters, logger: logger)
                do {
                    _ = try await broker.subscribeControl { message in
                        Self.hear(message, runs: activeFlowRuns, broker: broker)
                    }
                } catch {
                    await broker.close()
                    throw error
                }
                return broker
            }
            existing = created
            return created
        }
        do {
            return try await task.value
        } catch {
            connection.withLock { $0 = nil }
            throw error
        }
    }
}

extension Tributary {
    /// A cancel request for a flow run this client runs cancels it, and is answered if it asks.
    private static func hear(_ message: ControlMessage, runs: ActiveFlowRuns, broker: AMQPBroker) {
        guard message.kind == .cancelFlowRun, let flowName = runs.cancel(message.flowRunID, reason: message.detail)
        else { return }
        if let replyTo = message.replyTo {
            broker.publish(control: ControlMessage(kind: .flowRunCancelled, flowRunID: message.flowRunID,
                                                   detail: flowName), to: replyTo) { _ in }
        }
    }
}

/// What came of ``Tributary/cancel(flowRunID:reason:waitingUpTo:)``.
public enum CancelRequestOutcome: Sendable, Equatable {
    /// The client running the flow run (this one or another) cancelled it.
    case cancelled(flowName: String)
    /// No client running it answered in time: it has ended, was never started, or its client is not
    /// connected. Workers on the broker still discard its queued tasks.
    case unanswered
}

/// Errors of the client itself (not of tasks).
public enum TributaryError: Error, CustomStringConvertible, Equatable {
    case unknownFlow(name: String, known: String)
    case unknownFlowRun(id: String)
    case badSubmission(String)
    /// A setting (an environment variable, an option) has a value that cannot work; says which and what to give.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .unknownFlow(let name, let known):
            "no flow named '\(name)' is registered (registered: \(known))"
        case .unknownFlowRun(let id):
            "no submitted flow run has id '\(id)': it was never submitted to this broker (check the id and "
                + "the broker URL), or its outcome's retention has passed"
        case .badSubmission(let problem):
            "cannot submit: \(problem)"
        case .invalidConfiguration(let problem):
            problem
        }
    }
}
