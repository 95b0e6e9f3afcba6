import Tributary

/// Text that would run as script if a page put it in as markup: the task's run name, its log
/// line, its markdown artifact and its error (and so the flow run's, which it fails) all carry
/// `payload`. For the UI's tests: the page must show all of it as text and run none of it.
public struct HostileText: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var payload: String
        /// The task queue its task goes to (default: `default`).
        public var queue: String?
        public init(payload: String, queue: String? = nil) {
            self.payload = payload
            self.queue = queue
        }
    }

    public static let name = "hostile-text"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> String {
        let echo = await flow.submit(HostileEcho.self, input.payload,
                                     options: TaskOptions(queue: input.queue ?? "default", runName: "echo {input}"))
        return try await echo.value
    }
}

/// Logs its input, publishes it in a markdown artifact (with a `javascript:` link), and fails
/// with it in its error.
public struct HostileEcho: TaskDefinition {
    public static let name = "hostile-echo"
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> String {
        context.logger.info("echo: \(input)")
        try context.publish(.markdown("# \(input)\n\n*\(input)* and [a link](javascript:alert(1)) and "
                                          + "[a fine link](https://example.org/?q=\(input.count))"),
                            key: "hostile-echo")
        throw HostileFailure(text: input)
    }
}

/// The error HostileEcho fails with: its message is the input.
public struct HostileFailure: Error, CustomStringConvertible {
    public let text: String
    public var description: String { "refused: \(text)" }
}
