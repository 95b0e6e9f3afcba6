import Tributary

/// A flow that completes with its label, or fails when asked: a step upstream of a trigger, for
/// deployments' tests and walkthroughs.
public struct Checkpoint: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var label: String
        public var fail: Bool?
        public init(label: String, fail: Bool? = nil) {
            self.label = label
            self.fail = fail
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var label: String
        public var ok: Bool
        public init(label: String, ok: Bool) {
            self.label = label
            self.ok = ok
        }
    }

    public struct Failed: Error, NonRetryableError, CustomStringConvertible {
        public var label: String
        public var description: String { "checkpoint '\(label)' failed, as asked" }
    }

    public static let name = "checkpoint"
    public init() {}
    public func run(_ input: Input, flow: FlowContext) async throws -> Output {
        if input.fail == true { throw Failed(label: input.label) }
        return Output(label: input.label, ok: true)
    }
}
