import DequeModule
import Foundation
import Synchronization

/// Flow runs inside one process, for the embedded default: work queues, boards and watches in
/// memory, kept for the life of the client. Its one consumer (the in-process agent) takes runs
/// from every work queue.
final class InMemoryFlowRuns: FlowRunTransport {
    private struct State {
        var waiting: Deque<(FlowRunMessage, redelivered: Bool)> = []
        var consumer: AsyncStream<FlowRunDelivery>.Continuation?
        var boards: [String: FlowRunStatus] = [:]
        var watchers: [String: [UUID: @Sendable (FlowRunStatus) -> Void]] = [:]
        var limits: [String: (limit: WorkQueueLimit, slots: AsyncSemaphore)] = [:]
        var claims: [String: String] = [:]
    }

    private let state = Mutex(State())

    func prepareWorkQueue(_ workQueue: String) async throws {}

    func publish(flowRun: FlowRunMessage) async throws {
        deliver(flowRun, redelivered: false)
    }

    private func deliver(_ flowRun: FlowRunMessage, redelivered: Bool) {
        let consumer = state.withLock { state -> AsyncStream<FlowRunDelivery>.Continuation? in
            if state.consumer == nil { state.waiting.append((flowRun, redelivered)) }
            return state.consumer
        }
        consumer?.yield(delivery(of: flowRun, redelivered: redelivered))
    }

    private func delivery(of flowRun: FlowRunMessage, redelivered: Bool) -> FlowRunDelivery {
        FlowRunDelivery(content: .success(flowRun), redelivered: redelivered) { [self] settlement in
            if settlement == .requeue { deliver(flowRun, redelivered: true) }
        }
    }

    /// The in-process agent's stream: every work queue's runs.
    func consumeFlowRuns(from workQueue: String, prefetch: Int) async throws -> any FlowRunConsumer {
        let (deliveries, continuation) = AsyncStream.makeStream(of: FlowRunDelivery.self)
        let waiting = state.withLock { state in
            state.consumer = continuation
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for (flowRun, redelivered) in waiting { continuation.yield(delivery(of: flowRun, redelivered: redelivered)) }
        return InMemoryFlowRunConsumer(deliveries: deliveries) { [self] in
            state.withLock { $0.consumer = nil }
            continuation.finish()
        }
    }

    func agentCount(of workQueue: String) async throws -> Int {
        state.withLock { $0.consumer == nil ? 0 : 1 }
    }

    func submit(_ flowRun: FlowRunMessage, pending: FlowRunStatus, retention: Duration) async throws {
        try await publish(status: pending)
        try await publish(flowRun: flowRun)
    }

    func prepareBoard(pending: FlowRunStatus, retention: Duration) async throws {
        try await publish(status: pending)
    }

    func submitPrepared(_ flowRun: FlowRunMessage) async throws {
        try await publish(flowRun: flowRun)
    }

    func publish(status: FlowRunStatus) async throws {
        let watchers = state.withLock { state -> [@Sendable (FlowRunStatus) -> Void] in
            let current = state.boards[status.flowRunID]
            state.boards[status.flowRunID] = current.map { FlowRunStatus.newest($0, status) } ?? status
            return Array(state.watchers[status.flowRunID, default: [:]].values)
        }
        for watcher in watchers { watcher(status) }
    }

    func status(of flowRunID: String) async throws -> FlowRunStatus? {
        state.withLock { $0.boards[flowRunID] }
    }

    func limit(of workQueue: String) async throws -> WorkQueueLimit? {
        state.withLock { $0.limits[workQueue]?.limit }
    }

    func setLimit(_ limit: Int?, of workQueue: String, resumeLimit: Int?) async throws {
        let previous = state.withLock { state in
            let previous = state.limits[workQueue]?.slots
            let generation = (state.limits[workQueue]?.limit.generation ?? 0) + 1
            state.limits[workQueue] = limit.map {
                (WorkQueueLimit(workQueue: workQueue, limit: $0, generation: generation, resumeLimit: resumeLimit),
                 AsyncSemaphore(permits: $0))
            }
            return previous
        }
        // Whoever waits for a slot of the old setting goes ahead (as an agent of the broker's
        // transport does once it sees the limit gone or changed).
        previous?.releaseAll()
    }

    func acquireSlot(of limit: WorkQueueLimit) async throws -> WorkQueueSlot {
        guard let slots = state.withLock({ $0.limits[limit.workQueue]?.slots }) else { return .unlimited }
        await slots.wait()
        return WorkQueueSlot { slots.signal() }
    }

    func claim(flowRunID: String, epoch: Int, token: String, retention: Duration) async throws -> Bool {
        state.withLock { state in
            let key = "\(flowRunID).\(epoch)"
            if state.claims[key] == nil { state.claims[key] = token }
            return state.claims[key] == token
        }
    }

    func releaseClaim(flowRunID: String, epoch: Int) async {
        _ = state.withLock { $0.claims.removeValue(forKey: "\(flowRunID).\(epoch)") }
    }

    func watch(flowRunID: String, _ onStatus: @escaping @Sendable (FlowRunStatus) -> Void) async throws
        -> FlowRunWatch {
        let id = UUID()
        state.withLock { $0.watchers[flowRunID, default: [:]][id] = onStatus }
        return FlowRunWatch { [self] in
            state.withLock { _ = $0.watchers[flowRunID]?.removeValue(forKey: id) }
        }
    }
}

private struct InMemoryFlowRunConsumer: FlowRunConsumer {
    let deliveries: AsyncStream<FlowRunDelivery>
    let onStop: @Sendable () -> Void
    func stop() async { onStop() }
}
