import AMQPClient
import Synchronization

/// A task pack a worker holds: its tasks are handed out one by one, each settled on its own, and
/// the pack's one delivery is acknowledged once every task is. AMQP cannot acknowledge part of a
/// message, so a task put back or dead-lettered leaves the pack as a message of its own (a single
/// task message on its queue, or a dead letter); if one of those cannot be published, the pack
/// goes back whole, and whoever takes it next returns it to its coordinator (see ``returnPack``).
final class TaskPackDelivery: Sendable {
    private let pack: WireFormat.TaskPack
    private let held: HeldDelivery
    private let connection: AMQPConnection

    private struct State {
        var settled: [Bool]
        var left: Int
        var failed = false
    }
    private let state: Mutex<State>

    init(pack: WireFormat.TaskPack, held: HeldDelivery, connection: AMQPConnection) {
        self.pack = pack
        self.held = held
        self.connection = connection
        self.state = Mutex(State(settled: Array(repeating: false, count: pack.entries.count), left: pack.entries.count))
    }

    /// Settles task `index` of the pack (the first settlement counts).
    func settle(_ index: Int, _ settlement: Settlement) {
        guard state.withLock({ state in
            guard !state.settled[index] else { return false }
            state.settled[index] = true
            return true
        }) else { return }
        let entry = pack.entries[index]
        switch (settlement, entry.content) {
        case (.ack, _):
            finished(ok: true)
        case (.requeue, .success(let task)):
            // Counted as handed out before, as a put-back single task would be.
            var message = WireFormat.encode(task, exchange: AMQPBroker.taskExchange)
            message.properties.headers[HeldDeliveries.copyHeader] = .string("handed-back")
            message.resendAfterReconnect = false
            publish(message)
        case (.requeue, .failure(let problem)):
            publish(deadLetter(entry, reason: problem.reason))
        case (.deadLetter(let reason), _):
            publish(deadLetter(entry, reason: reason))
        }
    }

    /// Task `entry` as a dead letter: the single task message it stands for, or, if it is not a
    /// valid task, its bytes as they were in the pack.
    private func deadLetter(_ entry: WireFormat.TaskPack.Entry, reason: String) -> OutboundMessage {
        let queue = held.queue
        switch entry.content {
        case .success(let task):
            let single = WireFormat.encode(task, exchange: AMQPBroker.taskExchange)
            return AMQPBroker.deadLetter(single.properties, single.body, from: queue, reason: reason)
        case .failure(let problem):
            let properties = AMQPProperties(correlationID: problem.taskRunID, replyTo: pack.replyTo,
                                            headers: [WireFormat.Header.wire: .int(WireFormat.taskPackVersion)])
            return AMQPBroker.deadLetter(properties, Array(entry.body), from: queue, reason: reason)
        }
    }

    private func publish(_ message: OutboundMessage) {
        connection.publish(message) { [self] outcome in
            if case .success = outcome { finished(ok: true) } else { finished(ok: false) }
        }
    }

    private func finished(ok: Bool) {
        let last = state.withLock { state -> Bool? in
            state.left -= 1
            if !ok { state.failed = true }
            return state.left == 0 ? state.failed : nil
        }
        guard let failed = last else { return }
        held.settle(failed ? .requeue : .ack, on: connection)
    }

    /// A pack handed out before (its worker died or lost its connection while holding it): its
    /// tasks are not run here, since some may have finished already and a task that crashes its
    /// worker must not take its neighbours down again. Each is returned to its coordinator, which
    /// sends alone, with the delivery count raised, those it still waits for; a task that is not
    /// valid is dead-lettered. The pack is acknowledged once all of that is confirmed.
    static func returnPack(_ pack: WireFormat.TaskPack, held: HeldDelivery, connection: AMQPConnection) {
        let delivery = TaskPackDelivery(pack: pack, held: held, connection: connection)
        for (index, entry) in pack.entries.enumerated() {
            let task: TaskMessage
            switch entry.content {
            case .success(let valid): task = valid
            case .failure(let problem):
                delivery.settle(index, .deadLetter(reason: "malformed task message: \(problem.reason)"))
                continue
            }
            let returned = ResultMessage(taskRunID: task.taskRunID, attempt: task.attempt, status: .returned,
                                         workerID: "", body: [], deliveries: task.deliveries)
            delivery.claim(index)
            connection.publish(WireFormat.encode(returned, replyTo: pack.replyTo), packer: WireFormat.resultPacker) { outcome in
                if case .success = outcome { delivery.finished(ok: true) } else { delivery.finished(ok: false) }
            }
        }
    }

    /// Marks task `index` settled by the caller, who then calls ``finished(ok:)``.
    private func claim(_ index: Int) {
        state.withLock { $0.settled[index] = true }
    }
}
