import Tributary

/// Fans out `count` slow increments on `queue` and sums them: a flow that runs long enough to
/// interrupt from the command line.
public struct SlowFanout: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var count: Int
        public var milliseconds: Int
        public var queue: String
        /// Whether the task messages are persistent (the default: yes).
        public var persistent: Bool?
        public init(count: Int, milliseconds: Int, queue: String, persistent: Bool? = nil) {
            self.count = count
            self.milliseconds = milliseconds
            self.queue = queue
            self.persistent = persistent
        }
    }

    public static let name = "slow-fanout"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> Int {
        let inputs = (0..<input.count).map { SlowIncrement.Input(value: $0, milliseconds: input.milliseconds) }
        return try await flow.map(SlowIncrement.self, over: inputs, options: TaskOptions(queue: input.queue, persistent: input.persistent ?? true))
            .values().reduce(0, +)
    }
}
