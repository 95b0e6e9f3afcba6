/// Anything a task can wait for before it is sent: the futures of other task runs.
public protocol TaskDependency: Sendable {
    var taskRunID: String { get }
    var taskName: String { get }
    /// Waits until the run has ended and returns its final state.
    func finalState() async -> TaskState
    /// Whether a run waiting for this one is sent even when this one did not complete.
    var allowsFailure: Bool { get }
}

extension TaskDependency {
    public var allowsFailure: Bool { false }
}

/// The handle to a submitted task run: returned at once, resolved when a worker's result arrives.
public struct TaskFuture<Output: Codable & Sendable>: TaskDependency {
    let run: TaskRun

    public var taskRunID: String { run.id }
    public var taskName: String { run.taskName }
    /// The run's name from its options' `runName` template, if it has one.
    public var runName: String? { run.name }

    /// The output; throws the run's ``TaskFailure`` (with the remote error's type and message) if
    /// it ended badly.
    public var value: Output {
        get async throws {
            run.markObserved()
            let final = await run.finished()
            if let failure = final.failure { throw failure }
            guard let bytes = run.output else {
                throw run.failure("Failed", RemoteError(type: "MissingOutput", message: "the run completed without output",
                                                        retryable: false))
            }
            do {
                return try WireJSON.decode(Output.self, from: bytes)
            } catch {
                throw run.failure("Failed", RemoteError(
                    type: "UndecodableOutput",
                    message: "the output is not valid JSON for \(Output.self): \(WireJSON.describe(error)); "
                        + "do the worker and the flow use the same task definition?", retryable: false))
            }
        }
    }

    /// The final state, without throwing: for flows that branch on failure.
    public var state: TaskState {
        get async {
            run.markObserved()
            return await run.finished()
        }
    }

    /// This run as a dependency that lets the waiting run go ahead whatever this one's outcome
    /// (Prefect's `allow_failure`). The waiting run is sent once this one has ended; the flow reads
    /// this one's state to see how it ended. Waiting this way counts as handling its failure.
    public func allowingFailure() -> AllowedFailure<Output> {
        AllowedFailure(upstream: self)
    }

    /// The state right now (Pending, Running, Retrying, or final).
    public var currentState: TaskState { run.currentState }

    public func finalState() async -> TaskState { await run.finished() }
}

extension Array {
    /// Waits for every future and returns their outputs in order; throws the first failure in order.
    public func values<Output>() async throws -> [Output] where Element == TaskFuture<Output> {
        var outputs: [Output] = []
        outputs.reserveCapacity(count)
        for future in self { outputs.append(try await future.value) }
        return outputs
    }

    /// Waits for every future and returns their final states in order; never throws.
    public func states<Output>() async -> [TaskState] where Element == TaskFuture<Output> {
        var states: [TaskState] = []
        for future in self { states.append(await future.state) }
        return states
    }
}

/// A dependency on a run whose failure does not stop the waiting run: see ``TaskFuture/allowingFailure()``.
public struct AllowedFailure<Output: Codable & Sendable>: TaskDependency {
    let upstream: TaskFuture<Output>
    public var taskRunID: String { upstream.taskRunID }
    public var taskName: String { upstream.taskName }
    public var allowsFailure: Bool { true }
    public func finalState() async -> TaskState { await upstream.state }
}
