import Tributary

/// A flow with one of each outcome, for what the server records: `squares` squares, a flaky task
/// that succeeds on its third attempt (two retries), a nap that times out after 1 s, and a task
/// that logs three lines once the flaky task has completed (`waitFor`). The nap's timeout is
/// handled (its state is looked at), so the run completes, with the sum of the squares, the flaky
/// task's 100 and the 3 lines logged.
public struct MixedOutcomes: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var squares: Int
        public var queue: String
        public init(squares: Int, queue: String) {
            self.squares = squares
            self.queue = queue
        }
    }

    public static let name = "mixed-outcomes"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> Int {
        let squares = await flow.map(Square.self, over: 0..<input.squares, options: TaskOptions(queue: input.queue))
        let flaky = await flow.submit(Flaky.self, Flaky.Input(succeedOnAttempt: 3, value: 100),
                                      options: TaskOptions(retries: 2, queue: input.queue))
        let nap = await flow.submit(Nap.self, Nap.Input(milliseconds: 5_000),
                                    options: TaskOptions(timeout: .seconds(1), queue: input.queue))
        // chatty waits for flaky (a waitFor dependency, drawn on the run's timeline).
        let chatty = await flow.submit(Chatty.self, Chatty.Input(count: 3, text: "mixed-outcomes line"),
                                       waitFor: [flaky], options: TaskOptions(queue: input.queue))
        _ = await nap.state
        return try await squares.values().reduce(0, +) + flaky.value + chatty.value
    }
}
