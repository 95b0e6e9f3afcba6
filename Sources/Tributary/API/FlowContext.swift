import Foundation
import Logging

/// What a flow's code uses to call tasks.
public struct FlowContext: Sendable {
    let coordinator: Coordinator
    /// This flow run's id.
    public var flowRunID: String { coordinator.flowRunID }
    /// A logger whose messages carry the flow-run id.
    public var logger: Logger { coordinator.logger }

    /// Publishes an artifact of this flow run (see ``Artifact``); the server records it with the run.
    /// Throws ``ArtifactError`` for a bad key or artifact.
    public func publish(_ artifact: Artifact, key: String? = nil, description: String? = nil) throws {
        let published = PublishedArtifact(key: key, description: description, artifact: artifact)
        try published.validate()
        coordinator.record(published, of: nil)
    }

    /// Submits a task run and returns its future at once. The run is sent when every future in
    /// `waitFor` has completed; if one of them did not, the run ends Cancelled without running,
    /// unless that dependency was given as `future.allowingFailure()`.
    public func submit<T: TaskDefinition>(_ task: T.Type, _ input: T.Input, waitFor: [any TaskDependency] = [],
                                          options: TaskOptions? = nil) async -> TaskFuture<T.Output> {
        await submit(task, input, waitFor: waitFor, sharing: SharedTaskOptions(options ?? T.options))
    }

    /// Submits a task run whose options other runs may share.
    private func submit<T: TaskDefinition>(_ task: T.Type, _ input: T.Input, waitFor: [any TaskDependency],
                                           sharing shared: SharedTaskOptions) async -> TaskFuture<T.Output> {
        let options = shared.value
        let bytes: [UInt8]
        var problem: String?
        do {
            bytes = try WireJSON.encode(input)
        } catch {
            bytes = []
            problem = "the input of '\(T.name)' could not be encoded as JSON: \(error)"
        }
        if problem == nil, bytes.count > coordinator.maxPayloadBytes {
            problem = "the input of '\(T.name)' is \(bytes.count) bytes of JSON, over the limit of "
                + "\(coordinator.maxPayloadBytes); pass large data by reference (a path or URL) or raise maxPayloadBytes"
        }
        problem = problem ?? options.problem(taskName: T.name)
            ?? coordinator.environment.rateLimiter.problem(tags: options.tags)
        var name: String?
        if problem == nil, let template = options.runName {
            switch RunName.render(template, taskName: T.name, input: bytes) {
            case .success(let rendered): name = rendered
            case .failure(let error): problem = error.message
            }
        }
        let id = coordinator.taskRunID(taskName: T.name, input: bytes)
        let run = TaskRun(id: id, taskName: T.name, options: shared, flowRunID: flowRunID, input: bytes, name: name)
        if let problem {
            run.finish(.failed(run.failure("Failed", RemoteError(type: "InvalidTaskCall", message: problem,
                                                                 retryable: false), attempts: 0)))
        } else {
            await coordinator.submit(run, waitFor: waitFor)
        }
        return TaskFuture(run: run)
    }

    /// Submits one run of `task` per input; the futures come back in the inputs' order.
    public func map<T: TaskDefinition, S: Sequence>(_ task: T.Type, over inputs: S, options: TaskOptions? = nil)
        async -> [TaskFuture<T.Output>] where S.Element == T.Input {
        var futures: [TaskFuture<T.Output>] = []
        futures.reserveCapacity(inputs.underestimatedCount)
        let shared = SharedTaskOptions(options ?? T.options)
        for input in inputs { futures.append(await submit(task, input, waitFor: [], sharing: shared)) }
        return futures
    }

    /// Submits a task and waits for its output.
    public func call<T: TaskDefinition>(_ task: T.Type, _ input: T.Input, options: TaskOptions? = nil) async throws
        -> T.Output {
        try await submit(task, input, options: options).value
    }

    /// Runs another flow as a subflow: it gets a flow-run id and state of its own, its logs and
    /// events carry this run's id as their parent, its options (retries, timeout) and hooks apply,
    /// and its tasks go to the same broker. A subflow that does not complete throws
    /// ``SubflowFailure`` here, as a failed task's value would.
    public func subflow<F: FlowDefinition>(_ flow: F.Type, _ input: F.Input) async throws -> F.Output {
        try await runSubflow(named: F.name, options: F.options, hooks: F.hooks, parameters: try? WireJSON.encode(input),
                             result: { try? WireJSON.encode($0) }) { try await F().run(input, flow: $0) }
    }

    /// Runs a closure as a subflow named `name`.
    public func subflow<Output: Sendable>(named name: String, options: FlowOptions = FlowOptions(),
                                          hooks: FlowHooks = FlowHooks(),
                                          _ body: @escaping @Sendable (FlowContext) async throws -> Output)
        async throws -> Output {
        try await runSubflow(named: name, options: options, hooks: hooks, body)
    }

    /// A subflow's run, with its input and how to encode its output for its events when known.
    private func runSubflow<Output: Sendable>(named name: String, options: FlowOptions, hooks: FlowHooks,
                                              parameters: [UInt8]? = nil,
                                              result: @escaping @Sendable (Output) -> [UInt8]? = { _ in nil },
                                              _ body: @escaping @Sendable (FlowContext) async throws -> Output)
        async throws -> Output {
        let execution = FlowExecution(name: name, flowRunID: coordinator.subflowRunID(name: name),
                                      parentFlowRunID: flowRunID, options: options, hooks: hooks,
                                      environment: coordinator.environment, logger: coordinator.logger,
                                      journal: coordinator.journal, parameters: parameters)
        let broker = coordinator.broker
        do {
            return try await execution.runCancellable(result: result) { attempt in
                try await execution.attempt(attempt, on: broker, body)
            }
        } catch {
            throw SubflowFailure(flowName: name, flowRunID: execution.flowRunID, state: FlowState(endedBy: error),
                                 error: error)
        }
    }

    /// Yields the futures in the order their runs end.
    public func asCompleted<Output>(_ futures: [TaskFuture<Output>]) -> AsyncStream<TaskFuture<Output>> {
        AsyncStream { continuation in
            let remaining = Countdown(futures.count) { continuation.finish() }
            if futures.isEmpty { continuation.finish() }
            for future in futures {
                future.run.onFinish { _ in
                    continuation.yield(future)
                    remaining.tick()
                }
            }
        }
    }
}

import Synchronization

/// Calls `done` after `count` ticks.
final class Countdown: Sendable {
    private let remaining: Mutex<Int>
    private let done: @Sendable () -> Void
    init(_ count: Int, done: @escaping @Sendable () -> Void) {
        remaining = Mutex(count)
        self.done = done
    }
    func tick() {
        if remaining.withLock({ $0 -= 1; return $0 == 0 }) { done() }
    }
}
