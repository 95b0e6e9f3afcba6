import Foundation

/// The tasks and flows a process can run, by name. Workers look tasks up here; the command line
/// looks flows up here.
public struct Registry: Sendable {
    struct RegisteredTask: Sendable {
        let name: String
        let options: TaskOptions
        /// Decodes the JSON input, runs the task, encodes the JSON output.
        let run: @Sendable ([UInt8], TaskContext) async throws -> [UInt8]
    }

    struct RegisteredFlow: Sendable {
        let name: String
        let run: @Sendable ([UInt8], FlowContext) async throws -> [UInt8]
        let taskRunner: TaskRunner
        let hooks: FlowHooks
        let options: FlowOptions
    }

    private(set) var tasks: [String: RegisteredTask] = [:]
    private(set) var flows: [String: RegisteredFlow] = [:]
    /// Sentences naming what is wrong with the registrations (duplicate names, bad options).
    public private(set) var problems: [String] = []

    public init(tasks: [any TaskDefinition.Type] = [], flows: [any FlowDefinition.Type] = []) {
        for task in tasks { register(task) }
        for flow in flows { register(flow) }
    }

    /// A registry of tasks only: `Registry([Square.self, Sum.self])`.
    public init(_ tasks: [any TaskDefinition.Type]) {
        self.init(tasks: tasks)
    }

    public var taskNames: [String] { tasks.keys.sorted() }
    public var flowNames: [String] { flows.keys.sorted() }

    func task(named name: String) -> RegisteredTask? { tasks[name] }
    func flow(named name: String) -> RegisteredFlow? { flows[name] }

    private mutating func register<T: TaskDefinition>(_ task: T.Type) {
        guard tasks[T.name] == nil else {
            problems.append("two tasks are named '\(T.name)'; task names must be unique")
            return
        }
        if let problem = T.options.problem(taskName: T.name) { problems.append(problem) }
        tasks[T.name] = RegisteredTask(name: T.name, options: T.options) { bytes, context in
            let input = try Self.decodeInput(T.Input.self, of: T.name, from: bytes)
            return try WireJSON.encode(try await T().run(input, context: context))
        }
    }

    private mutating func register<F: FlowDefinition>(_ flow: F.Type) {
        guard flows[F.name] == nil else {
            problems.append("two flows are named '\(F.name)'; flow names must be unique")
            return
        }
        flows[F.name] = RegisteredFlow(name: F.name, run: { bytes, context in
            let input = try Self.decodeInput(F.Input.self, of: F.name, from: bytes)
            return try WireJSON.encode(try await F().run(input, flow: context))
        }, taskRunner: F.taskRunner, hooks: F.hooks, options: F.options)
    }

    private static func decodeInput<Input: Decodable>(_ type: Input.Type, of name: String, from bytes: [UInt8]) throws
        -> Input {
        do {
            return try WireJSON.decode(type, from: bytes)
        } catch {
            throw UndecodableInput(taskName: name, expected: String(describing: type), error: error)
        }
    }
}

/// A task or flow input that is not valid JSON for the input type.
public struct UndecodableInput: Error, NonRetryableError, CustomStringConvertible {
    public let taskName: String
    public let expected: String
    let error: any Error

    public var description: String {
        "the input of '\(taskName)' is not valid JSON for \(expected): \(WireJSON.describe(error))"
    }
}
