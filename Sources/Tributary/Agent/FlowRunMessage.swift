import Foundation

/// A submitted flow run, as it waits on its work queue for an agent (docs/wire-format.md).
public struct FlowRunMessage: Codable, Sendable, Equatable {
    public var flowRunID: String
    public var flowName: String
    /// The flow's input, as JSON text.
    public var input: String
    public var workQueue: String
    public var submittedAt: Date
    /// How many times this run has been handed to an agent without an outcome, counting this one.
    public var deliveries: Int

    public init(flowRunID: String, flowName: String, input: [UInt8], workQueue: String,
                submittedAt: Date = Date(), deliveries: Int = 1) {
        self.flowRunID = flowRunID
        self.flowName = flowName
        self.input = String(decoding: input, as: UTF8.self)
        self.workQueue = workQueue
        self.submittedAt = submittedAt
        self.deliveries = deliveries
    }
}
