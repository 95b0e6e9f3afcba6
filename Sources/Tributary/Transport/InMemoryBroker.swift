import Foundation
import Synchronization

/// The embedded transport: task and result messages move between tasks of one process, with no
/// broker. A consumer of queue `*` takes tasks of every queue that has no consumer of its own.
/// Prefetch is not enforced: a worker's concurrency bounds what runs.
public final class InMemoryBroker: Broker {
    private struct QueueState {
        var waiting: [(TaskMessage, redelivered: Bool)] = []
        var consumers: [Int: AsyncStream<TaskDelivery>.Continuation] = [:]
        var nextConsumer = 0
    }

    private struct State {
        var queues: [String: QueueState] = [:]
        var replies: [String: @Sendable (ResultMessage) -> Void] = [:]
        var controlSubscribers: [String: @Sendable (ControlMessage) -> Void] = [:]
        var deadLetters: [(message: TaskMessage?, reason: String)] = []
        var consumerIDs = 0
    }

    private let state = Mutex(State())
    static let anyQueue = "*"

    public init() {}

    /// Messages dead-lettered so far, with their reasons.
    public var deadLetters: [(message: TaskMessage?, reason: String)] {
        state.withLock { $0.deadLetters }
    }

    public func prepareTaskQueue(_ queue: String) async throws {}

    public func publish(task: TaskMessage, onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        deliver(task, redelivered: false)
        onConfirm(nil)
    }

    private func deliver(_ task: TaskMessage, redelivered: Bool) {
        let delivery = TaskDelivery(content: .success(task), redelivered: redelivered) { [weak self] settlement in
            self?.settle(task, settlement)
        }
        let target = state.withLock { state -> AsyncStream<TaskDelivery>.Continuation? in
            for name in [task.queue, Self.anyQueue] {
                guard var queue = state.queues[name], !queue.consumers.isEmpty else { continue }
                let ids = queue.consumers.keys.sorted()
                let id = ids[queue.nextConsumer % ids.count]
                queue.nextConsumer += 1
                state.queues[name] = queue
                return queue.consumers[id]
            }
            state.queues[task.queue, default: QueueState()].waiting.append((task, redelivered))
            return nil
        }
        target?.yield(delivery)
    }

    private func settle(_ task: TaskMessage, _ settlement: Settlement) {
        switch settlement {
        case .ack: break
        case .requeue: deliver(task, redelivered: true)
        case .deadLetter(let reason): state.withLock { $0.deadLetters.append((task, reason)) }
        }
    }

    public func openReplyQueue(named name: String, onResult: @escaping @Sendable (ResultMessage) -> Void,
                               onMalformed: @escaping @Sendable () -> Void) async throws -> ReplyQueue {
        state.withLock { $0.replies[name] = onResult }
        return ReplyQueue(name: name) { [weak self] in
            _ = self?.state.withLock { $0.replies.removeValue(forKey: name) }
        }
    }

    /// In one process a journal cannot outlive its run: it is a reply queue.
    public func openJournal(named name: String, retention: Duration,
                            onResult: @escaping @Sendable (ResultMessage) -> Void,
                            onMalformed: @escaping @Sendable () -> Void) async throws -> (queue: ReplyQueue, held: Int) {
        (try await openReplyQueue(named: name, onResult: onResult, onMalformed: onMalformed), 0)
    }

    public func deleteJournal(named name: String) async {}

    /// Consumers of `queue` itself and of every queue (`*`).
    public func consumerCount(of queue: String) async throws -> Int {
        state.withLock { ($0.queues[queue]?.consumers.count ?? 0) + ($0.queues[Self.anyQueue]?.consumers.count ?? 0) }
    }

    public func consumeTasks(from queue: String, prefetch: Int,
                             onLost: @escaping @Sendable (DeliveriesLost) -> Void) async throws -> any TaskConsumer {
        let (stream, continuation) = AsyncStream.makeStream(of: TaskDelivery.self)
        let (id, waiting) = state.withLock { state -> (Int, [(TaskMessage, redelivered: Bool)]) in
            state.consumerIDs += 1
            state.queues[queue, default: QueueState()].consumers[state.consumerIDs] = continuation
            var waiting = state.queues[queue]!.waiting
            state.queues[queue]!.waiting.removeAll()
            if queue == Self.anyQueue {
                for name in state.queues.keys where state.queues[name]!.consumers.isEmpty {
                    waiting += state.queues[name]!.waiting
                    state.queues[name]!.waiting.removeAll()
                }
            }
            return (state.consumerIDs, waiting)
        }
        for (task, redelivered) in waiting { deliver(task, redelivered: redelivered) }
        return InMemoryConsumer(deliveries: stream) { [weak self] in
            self?.state.withLock { $0.queues[queue]?.consumers.removeValue(forKey: id) }?.finish()
        }
    }

    public func publish(result: ResultMessage, to replyQueue: String,
                        onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        let target = state.withLock { $0.replies[replyQueue] }
        target?(result)
        onConfirm(nil)
    }

    public func subscribeControl(_ onMessage: @escaping @Sendable (ControlMessage) -> Void) async throws
        -> ControlSubscription {
        let name = "control.\(UUID().uuidString)"
        state.withLock { $0.controlSubscribers[name] = onMessage }
        return ControlSubscription(queueName: name) { [weak self] in
            _ = self?.state.withLock { $0.controlSubscribers.removeValue(forKey: name) }
        }
    }

    public func publish(control: ControlMessage, to queue: String?,
                        onConfirm: @escaping @Sendable ((any Error)?) -> Void) {
        let targets = state.withLock { state in
            queue.map { [state.controlSubscribers[$0]].compactMap { $0 } } ?? Array(state.controlSubscribers.values)
        }
        for target in targets { target(control) }
        onConfirm(nil)
    }

    public func close() async {
        let consumers = state.withLock { state in
            state.replies.removeAll()
            state.controlSubscribers.removeAll()
            return state.queues.values.flatMap { Array($0.consumers.values) }
        }
        consumers.forEach { $0.finish() }
    }
}

private struct InMemoryConsumer: TaskConsumer {
    let deliveries: AsyncStream<TaskDelivery>
    let stopAction: @Sendable () -> Void
    func stop() async { stopAction() }
}
