import Foundation
import Logging

extension Tributary {
    /// Submits a run of `flow` to a work queue and returns at once, with a handle on the run. An
    /// agent serving the queue runs it (``FlowAgent``, `myapp agent --work-queue Q`); this process
    /// may exit meanwhile. With an `idempotencyKey`, submitting the same flow with the same key
    /// again returns the first run's handle instead of starting a second run (while the first
    /// run's outcome is kept). On the embedded default the run goes to an agent in this process.
    public func submit<F: FlowDefinition>(_ flow: F.Type, _ input: F.Input, workQueue: String = "default",
                                          idempotencyKey: String? = nil) async throws -> FlowRunHandle<F.Output> {
        let bytes = try WireJSON.encode(input)
        return try await submit(flowNamed: F.name, input: bytes, workQueue: workQueue, idempotencyKey: idempotencyKey)
            .decoding(F.Output.self)
    }

    /// Submits a run of the flow named `name`, with a JSON input; its handle's output is JSON.
    public func submit(flowNamed name: String, input: [UInt8], workQueue: String = "default",
                       idempotencyKey: String? = nil) async throws -> FlowRunHandle<[UInt8]> {
        let id = idempotencyKey.map { Self.flowRunID(flowName: name, idempotencyKey: $0) }
        return try await submit(flowNamed: name, input: input, workQueue: workQueue, flowRunID: id)
    }

    /// Submits a run of the flow named `name` with the id `flowRunID` (one of this client's making
    /// when nil), unless a run with that id was submitted before (while its outcome is kept): then
    /// it returns that run's handle.
    public func submit(flowNamed name: String, input: [UInt8], workQueue: String, flowRunID: String?) async throws
        -> FlowRunHandle<[UInt8]> {
        try checkSubmission(flowNamed: name, input: input, workQueue: workQueue)
        let transport = try await flowRunTransport()
        let id = flowRunID ?? UUID().uuidString.lowercased()
        let handle = flowRun(id: id)
        if flowRunID != nil, try await transport.status(of: id) != nil { return handle }
        let message = FlowRunMessage(flowRunID: id, flowName: name, input: input, workQueue: workQueue)
        try await transport.submit(message, pending: .pending(message), retention: flowRunRetention)
        recordSubmitted(id: id, flowName: name, workQueue: workQueue)
        return handle
    }

    /// Makes the status board of run `flowRunID` of the flow named `name` ahead of its submission,
    /// with the run Pending on it, so that ``submitPrepared(flowNamed:input:workQueue:flowRunID:)``
    /// is one publish to one queue: the server's scheduler prepares runs seconds before they are due
    /// (a thousand runs due at once then leave in one burst to their work queue, not two). A
    /// prepared run reads Pending from then on.
    public func prepareSubmission(flowRunID: String, flowNamed name: String, workQueue: String) async throws {
        if let problem = Self.workQueueNameProblem(workQueue) { throw TributaryError.badSubmission(problem) }
        try await flowRunTransport().prepareBoard(
            pending: FlowRunStatus(flowRunID: flowRunID, flowName: name, workQueue: workQueue, state: .pending,
                                   sequence: 1),
            retention: flowRunRetention)
    }

    /// Submits run `flowRunID`, whose board ``prepareSubmission(flowRunID:flowNamed:workQueue:)``
    /// made, without first looking whether it was submitted before: for a caller that knows it was
    /// not (the scheduler, holding its first claim of the run).
    public func submitPrepared(flowNamed name: String, input: [UInt8], workQueue: String, flowRunID: String) async throws
        -> FlowRunHandle<[UInt8]> {
        try checkSubmission(flowNamed: name, input: input, workQueue: workQueue)
        try await flowRunTransport().submitPrepared(
            FlowRunMessage(flowRunID: flowRunID, flowName: name, input: input, workQueue: workQueue))
        recordSubmitted(id: flowRunID, flowName: name, workQueue: workQueue)
        return flowRun(id: flowRunID)
    }

    /// Submits run `flowRunID` for a caller that cannot tell whether its message went out before:
    /// the scheduler holding a claim handed back from a server that died mid-push, the run perhaps
    /// prepared (Pending) and perhaps pushed. It is submitted unless its board shows that an agent
    /// took it or it ended. A run whose message goes out twice still starts once: the agents claim
    /// each take, and a second copy of the first is dropped.
    public func resubmit(flowNamed name: String, input: [UInt8], workQueue: String, flowRunID: String) async throws
        -> FlowRunHandle<[UInt8]> {
        try checkSubmission(flowNamed: name, input: input, workQueue: workQueue)
        let transport = try await flowRunTransport()
        let message = FlowRunMessage(flowRunID: flowRunID, flowName: name, input: input, workQueue: workQueue)
        switch try await transport.status(of: flowRunID) {
        case .none:
            try await transport.submit(message, pending: .pending(message), retention: flowRunRetention)
        case .some(let status) where status.state == .pending && status.agentID == nil:
            try await transport.submitPrepared(message)
        case .some:
            return flowRun(id: flowRunID)
        }
        recordSubmitted(id: flowRunID, flowName: name, workQueue: workQueue)
        return flowRun(id: flowRunID)
    }

    /// Throws ``TributaryError/badSubmission(_:)`` for a bad work queue name, an input that is not
    /// JSON, or one over the payload limit.
    private func checkSubmission(flowNamed name: String, input: [UInt8], workQueue: String) throws {
        if let problem = Self.workQueueNameProblem(workQueue) { throw TributaryError.badSubmission(problem) }
        guard (try? JSONSerialization.jsonObject(with: Data(input), options: .fragmentsAllowed)) != nil else {
            throw TributaryError.badSubmission("the input of flow '\(name)' is not valid JSON")
        }
        guard input.count <= maxPayloadBytes else {
            throw TributaryError.badSubmission("the input of flow '\(name)' is \(input.count) bytes of JSON, over "
                + "the limit of \(maxPayloadBytes); pass large data by reference (a path or URL)")
        }
    }

    /// Records the run Pending (for the server) and logs its submission.
    private func recordSubmitted(id: String, flowName name: String, workQueue: String) {
        // Recorded Pending at once, so the server shows a run no agent has taken yet.
        if let events {
            events.record(RunEvent(kind: .flowRun, flowRunID: id, name: name, state: "Pending", workQueue: workQueue,
                                   epoch: 0, sequence: events.nextSequence()))
        }
        logger.info("flow run submitted", metadata: [
            "flow": "\(name)", "flow-run": "\(id)", "work-queue": "\(workQueue)",
        ])
    }

    /// A handle on the submitted flow run `id`, from this process or any other; its output is JSON.
    public func flowRun(id: String) -> FlowRunHandle<[UInt8]> {
        FlowRunHandle(id: id, client: self) { $0 }
    }

    /// A handle on the submitted flow run `id` of `flow`, its output decoded.
    public func flowRun<F: FlowDefinition>(id: String, of flow: F.Type) -> FlowRunHandle<F.Output> {
        flowRun(id: id).decoding(F.Output.self)
    }

    /// Limits the runs of `workQueue` running at once across all its agents to `limit` (nil: no
    /// limit). Kept in the broker: an agent holds one of the work queue's slots while it runs one of
    /// its runs, and the broker gives the slot back if the agent dies.
    public func setLimit(_ limit: Int?, ofWorkQueue workQueue: String) async throws {
        if let problem = Self.workQueueNameProblem(workQueue) { throw TributaryError.badSubmission(problem) }
        if let limit, limit < 1 {
            throw TributaryError.badSubmission("the limit of work queue '\(workQueue)' must be 1 or more, not \(limit)")
        }
        try await flowRunTransport().setLimit(limit, of: workQueue, resumeLimit: nil)
    }

    /// Pauses `workQueue`: its agents start none of its runs until ``resume(workQueue:)``, and runs
    /// submitted meanwhile wait (an agent holds at most its concurrency of them, and hands back one
    /// it has held too long). Kept in the broker as a limit of 0 that remembers the limit before.
    /// An agent sees it within seconds (it reads a work queue's limit at most every 5 s).
    public func pause(workQueue: String) async throws {
        if let problem = Self.workQueueNameProblem(workQueue) { throw TributaryError.badSubmission(problem) }
        let transport = try await flowRunTransport()
        let current = try await transport.limit(of: workQueue)
        guard current?.isPaused != true else { return }
        try await transport.setLimit(0, of: workQueue, resumeLimit: current?.limit)
    }

    /// Resumes a paused work queue, with the limit it had before it was paused (or none).
    public func resume(workQueue: String) async throws {
        if let problem = Self.workQueueNameProblem(workQueue) { throw TributaryError.badSubmission(problem) }
        let transport = try await flowRunTransport()
        guard let current = try await transport.limit(of: workQueue), current.isPaused else { return }
        try await transport.setLimit(current.resumeLimit, of: workQueue, resumeLimit: nil)
    }

    /// Whether `workQueue` is paused.
    public func isPaused(workQueue: String) async throws -> Bool {
        try await flowRunTransport().limit(of: workQueue)?.isPaused ?? false
    }

    /// The limit of `workQueue`'s runs at once, if it has one.
    public func limit(ofWorkQueue workQueue: String) async throws -> Int? {
        try await flowRunTransport().limit(of: workQueue)?.limit
    }

    /// How many agents serve `workQueue` now.
    public func agentCount(of workQueue: String) async throws -> Int {
        try await flowRunTransport().agentCount(of: workQueue)
    }

    /// An agent that takes runs from `workQueues` and runs the flows of this client's registry.
    public func agent(_ configuration: FlowAgent.Configuration) async throws -> FlowAgent {
        FlowAgent(client: self, transport: try await flowRunTransport(), configuration: configuration, logger: logger)
    }

    /// The agent's heartbeats, over this client's broker; nil on the embedded default.
    public func heartbeats(of agent: FlowAgent) async throws -> HeartbeatService? {
        guard case .rabbitMQ(let url) = transport else { return nil }
        return try await sharedBroker(url: url).heartbeats(
            .agent, id: agent.configuration.id, queues: agent.configuration.workQueues,
            concurrency: agent.configuration.concurrency, logger: logger) { agent.activity }
    }

    /// Waits until flow run `id` has ended and returns its final status: it watches the run's
    /// statuses as they are published, and reads the board every few seconds in case one was
    /// missed (a reconnect).
    func waitForEnd(of id: String) async throws -> FlowRunStatus {
        let transport = try await flowRunTransport()
        let (changes, changed) = AsyncStream.makeStream(of: FlowRunStatus.self, bufferingPolicy: .bufferingNewest(8))
        let watch = try await transport.watch(flowRunID: id) { changed.yield($0) }
        defer { changed.finish() }
        do {
            guard var latest = try await transport.status(of: id) else { throw TributaryError.unknownFlowRun(id: id) }
            let poller = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    if let status = try? await transport.status(of: id) { changed.yield(status) }
                }
            }
            defer { poller.cancel() }
            if !latest.state.isFinal {
                for await next in changes {
                    latest = FlowRunStatus.newest(latest, next)
                    if latest.state.isFinal { break }
                }
            }
            try Task.checkCancellation()
            await watch.close()
            return latest
        } catch {
            await watch.close()
            throw error
        }
    }

    /// The id a submit with an idempotency key gets: the same key and flow, the same id.
    public static func flowRunID(flowName: String, idempotencyKey: String) -> String {
        RunJournal.uuid(from: "tributary flow run\u{0}\(flowName)\u{0}\(idempotencyKey)")
    }

    /// What is wrong with `workQueue` as a work queue's name (1 to 200 ASCII letters, digits, '-', '_'
    /// or '.'), as a sentence; nil if nothing.
    public static func workQueueNameProblem(_ workQueue: String) -> String? {
        let valid = !workQueue.isEmpty && workQueue.count <= 200
            && workQueue.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        return valid ? nil : "work queue '\(workQueue)' must be 1 to 200 ASCII letters, digits, '-', '_' or '.'"
    }
}
