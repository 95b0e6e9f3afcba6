import Foundation
import Synchronization

/// The embedded transport: task and result messages move between tasks of one process, with no
/// broker. A consumer of queue `*` takes tasks of every queue that has no consumer of its own.
/// Prefetch is not enforced: a worker's concurrency bounds what runs.
public final class InMemoryBroker: Broker {
    private struct QueueState {
        var waiting: [(TaskMessage, redelivered: Bool)] = []
        var consumers: [Int: Consumer] = [:]
        var nextConsumer = 0
    }

    /// A worker's consumer: where its deliveries go, and whom to tell it ended.
    private struct Consumer {
        let onDelivery: @Sendable (TaskDelivery) -> Void
        let onEnd: @Sendable () -> Void
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

    /// As a broker would, later: a consumer that hands a delivery back while stopping is not
    /// handed it again on its own stack.
    private func redeliver(_ task: TaskMessage) {
        Task { self.deliver(task, redelivered: true) }
    }

    private func deliver(_ task: TaskMessage, redelivered: Bool) {
        let delivery = TaskDelivery(content: .success(task), redelivered: redelivered) { [weak self] settlement in
            self?.settle(task, settlement)
        }
        let target = state.withLock { state -> Consumer? in
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
        target?.onDelivery(delivery)
    }

    private func settle(_ task: TaskMessage, _ settlement: Settlement) {
        switch settlement {
        case .ack: break
        case .requeue: redeliver(task)
        case .deadLetter(let reason): state.withLock { $0.deadLetters.append((task, reason)) }
        }
    }

    public func openReplyQueue(named name: String, onResult: @escaping @Sendable (ResultMessage) -> Void,
                               onMalformed: @escaping @Sendable (MalformedTask) -> Void) async throws -> ReplyQueue {
        state.withLock { $0.replies[name] = onResult }
        return ReplyQueue(name: name) { [weak self] in
            _ = self?.state.withLock { $0.replies.removeValue(forKey: name) }
        }
    }

    /// In one process a journal cannot outlive its run: it is a reply queue.
    public func openJournal(named name: String, retention: Duration,
                            onResult: @escaping @Sendable (ResultMessage) -> Void,
                            onMalformed: @escaping @Sendable (MalformedTask) -> Void,
                            onRead: @escaping @Sendable () -> Void) async throws -> (queue: ReplyQueue, held: Int) {
        (try await openReplyQueue(named: name, onResult: onResult, onMalformed: onMalformed), 0)
    }

    public func deleteJournal(named name: String) async {}

    /// Consumers of `queue` itself and of every queue (`*`).
    public func consumerCount(of queue: String) async throws -> Int {
        state.withLock { ($0.queues[queue]?.consumers.count ?? 0) + ($0.queues[Self.anyQueue]?.consumers.count ?? 0) }
    }

    public func consumeTasks(from queue: String, prefetch: Int, onDelivery: @escaping @Sendable (TaskDelivery) -> Void,
                             onEnd: @escaping @Sendable () -> Void,
                             onLost: @escaping @Sendable (DeliveriesLost) -> Void) async throws -> any TaskConsumer {
        let (id, waiting) = state.withLock { state -> (Int, [(TaskMessage, redelivered: Bool)]) in
            state.consumerIDs += 1
            state.queues[queue, default: QueueState()].consumers[state.consumerIDs] = Consumer(onDelivery: onDelivery, onEnd: onEnd)
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
        return InMemoryConsumer { [weak self] in
            self?.state.withLock { $0.queues[queue]?.consumers.removeValue(forKey: id) }?.onEnd()
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
            // Removed, so a consumer stopped later does not end twice.
            defer { for name in state.queues.keys { state.queues[name]!.consumers.removeAll() } }
            return state.queues.values.flatMap { Array($0.consumers.values) }
        }
        consumers.forEach { $0.onEnd() }
    }
}

private struct InMemoryConsumer: TaskConsumer {
    let stopAction: @Sendable () -> Void
    func stop() async { stopAction() }
}
