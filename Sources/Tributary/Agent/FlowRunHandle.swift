import Foundation

/// A submitted flow run, wherever it runs: its id, its state, its outcome, and a way to cancel
/// it. Rebuild one in any process from the id with ``Tributary/flowRun(id:)``; its outcome stays
/// readable for the client's `flowRunRetention` (a day by default) after the run's last change.
public struct FlowRunHandle<Output: Sendable>: Sendable {
    public let id: String
    let client: Tributary
    let decode: @Sendable ([UInt8]) throws -> Output

    /// The run's latest status. Throws ``TributaryError/unknownFlowRun(id:)`` if no run has the id.
    public func status() async throws -> FlowRunStatus {
        guard let status = try await client.flowRunTransport().status(of: id) else {
            throw TributaryError.unknownFlowRun(id: id)
        }
        return status
    }

    /// The run's state now.
    public var state: FlowRunState {
        get async throws { try await status().state }
    }

    /// Waits for the run to end; returns its output, or throws ``FlowRunFailed`` with the status
    /// that ended it.
    public func result() async throws -> Output {
        let status = try await client.waitForEnd(of: id)
        guard status.state == .completed else { throw FlowRunFailed(status: status) }
        return try decode(Array((status.output ?? "null").utf8))
    }

    /// Cancels the run: one still on its work queue is discarded when an agent takes it; a running
    /// one is cancelled by its agent (its tasks end Cancelled).
    @discardableResult
    public func cancel(reason: String = "cancelled by request") async throws -> CancelRequestOutcome {
        try await client.cancel(flowRunID: id, reason: reason)
    }

    /// The same run, its output read as `type`.
    public func decoding<T: Decodable & Sendable>(_ type: T.Type) -> FlowRunHandle<T> {
        FlowRunHandle<T>(id: id, client: client) { try WireJSON.decode(T.self, from: $0) }
    }
}
