/// A task: a named, typed function that workers run. Its name addresses it on the wire, so a
/// worker must have a task of the same name registered to run it.
///
/// ```swift
/// struct Square: TaskDefinition {
///     static let name = "square"
///     func run(_ x: Int, context: TaskContext) async throws -> Int { x * x }
/// }
/// ```
public protocol TaskDefinition: Sendable {
    associatedtype Input: Codable & Sendable
    associatedtype Output: Codable & Sendable
    /// The name the task is addressed by; unique within a registry.
    static var name: String { get }
    /// Retries, timeout, queue and tags used when a call does not give its own.
    static var options: TaskOptions { get }
    init()
    /// Runs the task. Throwing fails this attempt; the coordinator retries it if the options allow.
    func run(_ input: Input, context: TaskContext) async throws -> Output
}

extension TaskDefinition {
    public static var options: TaskOptions { TaskOptions() }
}

/// A flow: plain Swift code that calls tasks. The graph of calls unfolds as the code runs.
public protocol FlowDefinition: Sendable {
    associatedtype Input: Codable & Sendable
    associatedtype Output: Codable & Sendable
    /// The name the flow is run by from the command line.
    static var name: String { get }
    /// Where the flow's tasks run; `.workers` (the default) is the client's broker.
    static var taskRunner: TaskRunner { get }
    /// Code to run when a run of the flow ends, by its final state (none by default).
    static var hooks: FlowHooks { get }
    /// Retries of the whole flow and its timeout (none by default).
    static var options: FlowOptions { get }
    init()
    func run(_ input: Input, flow: FlowContext) async throws -> Output
}

extension FlowDefinition {
    public static var taskRunner: TaskRunner { .workers }
    public static var hooks: FlowHooks { FlowHooks() }
    public static var options: FlowOptions { FlowOptions() }
}

/// Where a flow's tasks run, like Prefect's task runners.
public enum TaskRunner: Sendable, Equatable {
    /// On the worker pool behind the client's broker (in-process workers on the embedded default).
    case workers
    /// In this process, up to `maxConcurrency` at a time. Tasks must be in the client's registry.
    case concurrent(maxConcurrency: Int)
    /// In this process, one at a time in the order submitted. Tasks must be in the client's registry.
    case sequential
}
