import Foundation
import Glibc
import Tributary

/// Waits, appends its value to the file at `path` (one line per finished execution, so a test
/// can count how many times each value ran), and returns the value times `factor`.
public struct RecordValue: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var value: Int
        public var milliseconds: Int
        public var path: String
        public var factor: Int
    }

    public struct WriteFailed: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "could not append to \(path): errno \(errno)" }
    }

    public static let name = "record"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Int {
        try await Task.sleep(for: .milliseconds(input.milliseconds))
        let fd = open(input.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw WriteFailed(path: input.path) }
        defer { close(fd) }
        let line = Array("\(input.value)\n".utf8)
        guard write(fd, line, line.count) == line.count else { throw WriteFailed(path: input.path) }
        return input.value * input.factor
    }
}

/// Runs `count` recorded tasks in chunks of `chunk`, one chunk after another, and sums their
/// outputs: a long flow to take over half-way. Each task's factor is `TRIB_EXAMPLE_FACTOR` from
/// the environment of the process running the flow (1 if unset): a stand-in for flow code that
/// changed between two executions of a run.
public struct RecordedFanout: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var count: Int
        public var chunk: Int
        public var milliseconds: Int
        public var queue: String
        public var path: String
        public init(count: Int, chunk: Int, milliseconds: Int, queue: String, path: String) {
            self.count = count
            self.chunk = chunk
            self.milliseconds = milliseconds
            self.queue = queue
            self.path = path
        }
    }

    public static let name = "recorded-fanout"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> Int {
        let factor = ProcessInfo.processInfo.environment["TRIB_EXAMPLE_FACTOR"].flatMap(Int.init) ?? 1
        var total = 0
        for start in stride(from: 0, to: input.count, by: max(1, input.chunk)) {
            let values = start..<min(input.count, start + max(1, input.chunk))
            let inputs = values.map {
                RecordValue.Input(value: $0, milliseconds: input.milliseconds, path: input.path, factor: factor)
            }
            total += try await flow.map(RecordValue.self, over: inputs, options: TaskOptions(queue: input.queue))
                .values().reduce(0, +)
        }
        return total
    }
}

/// `recorded-fanout` with a flow timeout of 10 s: a run that another agent resumes after its first
/// agent died keeps the deadline of its first start.
public struct TimedRecordedFanout: FlowDefinition {
    public static let name = "recorded-fanout-10s"
    public static let options = FlowOptions(timeout: .seconds(10))
    public init() {}
    public func run(_ input: RecordedFanout.Input, flow: FlowContext) async throws -> Int {
        try await RecordedFanout().run(input, flow: flow)
    }
}
