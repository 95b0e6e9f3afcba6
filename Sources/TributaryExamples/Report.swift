import Tributary

/// A report on an upstream run: what a trigger starts when a pipeline ends (its id and what it
/// said are filled in from that run). Publishes a markdown artifact and returns its text.
public struct Report: FlowDefinition {
    public struct Input: Codable, Sendable {
        /// The flow run it reports on.
        public var upstream: String
        /// What the upstream run said (its label, its decision), if the trigger passed it on.
        public var note: String?
        public init(upstream: String, note: String? = nil) {
            self.upstream = upstream
            self.note = note
        }
    }

    public static let name = "report"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> String {
        let text = "report on \(input.upstream)" + (input.note.map { ": \($0)" } ?? "")
        try flow.publish(.markdown("## Report\n\nUpstream run `\(input.upstream)`\n\n\(input.note ?? "")"), key: "report")
        flow.logger.info("\(text)")
        return text
    }
}
