import AMQPClient
import Synchronization

/// A task pack a worker holds: its tasks are handed out one by one, each settled on its own, and
/// the pack's one delivery is acknowledged once every task is. AMQP cannot acknowledge part of a
/// message, so a task that leaves the pack otherwise goes as a message of its own: one put back
/// (the worker drains, or it waited here past the renewal delay) is returned to its coordinator,
/// which alone sends tasks again (see ``ResultStatus/returned``); one dead-lettered goes to the
/// dead letters alone. If one of those cannot be published, the pack goes back whole, and whoever
/// takes it next returns it to its coordinator (see ``returnPack(_:held:connection:publishes:)``).
final class TaskPackDelivery: Sendable {
    private let pack: WireFormat.TaskPack
    private let held: HeldDelivery
    private let connection: AMQPConnection
    /// The publishes this pack's settlements make, counted until confirmed (the connection waits
    /// for them before it closes).
    private let publishes: InFlight

    private enum Entry {
        case waiting, claimed, settled
    }

    private struct State {
        var entries: [Entry]
        var left: Int
        var failed = false
    }
    private let state: Mutex<State>

    init(pack: WireFormat.TaskPack, held: HeldDelivery, connection: AMQPConnection, publishes: InFlight) {
        self.pack = pack
        self.held = held
        self.connection = connection
        self.publishes = publishes
        self.state = Mutex(State(entries: Array(repeating: .waiting, count: pack.entries.count), left: pack.entries.count))
    }

    /// Claims task `index` for the worker to act on; false if it was returned to its coordinator
    /// meanwhile (it waited here past the renewal delay).
    func claim(_ index: Int) -> Bool {
        state.withLock { state in
            guard case .waiting = state.entries[index] else { return false }
            state.entries[index] = .claimed
            return true
        }
    }

    /// Settles task `index` of the pack (the first settlement counts).
    func settle(_ index: Int, _ settlement: Settlement) {
        guard take(index) else { return }
        switch settlement {
        case .ack:
            finished(ok: true)
        case .requeue:
            // Counted as handed out once more, as a single task put back is when the broker redelivers it.
            returnToCoordinator(index, raisingCount: true)
        case .deadLetter(let reason):
            publish(deadLetter(pack.entries[index], reason: reason))
        }
    }

    /// Returns to their coordinator the tasks no one has claimed yet: the pack has been held past
    /// the renewal delay, and another worker may be idle. Their delivery count stays as it was.
    /// Returns how many.
    func returnUnclaimed() -> Int {
        let unclaimed = state.withLock { state -> [Int] in
            let indices = state.entries.indices.filter { if case .waiting = state.entries[$0] { true } else { false } }
            for index in indices { state.entries[index] = .settled }
            return indices
        }
        for index in unclaimed { returnToCoordinator(index, raisingCount: false) }
        return unclaimed.count
    }

    /// Marks task `index` settled; false if it already was.
    private func take(_ index: Int) -> Bool {
        state.withLock { state in
            if case .settled = state.entries[index] { return false }
            state.entries[index] = .settled
            return true
        }
    }

    /// Sends task `index` back to its coordinator as a `returned` result: valid, with the delivery
    /// count to send it again with; not valid, rejected (if its task-run id could be read) and dead-lettered.
    private func returnToCoordinator(_ index: Int, raisingCount: Bool) {
        let entry = pack.entries[index]
        switch entry.content {
        case .success(let task):
            var returned = ResultMessage(taskRunID: task.taskRunID, attempt: task.attempt, status: .returned,
                                         workerID: "", body: [], deliveries: task.deliveries + (raisingCount ? 1 : 0))
            returned.epoch = task.epoch
            publish(WireFormat.encode(returned, replyTo: pack.replyTo), packer: WireFormat.resultPacker)
        case .failure(let problem):
            let reason = "malformed task message: \(problem.reason)"
            if let taskRunID = problem.taskRunID {
                let rejection = ResultMessage.rejection(taskRunID: taskRunID, attempt: problem.attempt, workerID: "",
                                                        reason: reason)
                connection.publish(WireFormat.encode(rejection, replyTo: pack.replyTo), packer: WireFormat.resultPacker)
            }
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
                                            headers: WireFormat.taskPackHeader)
            return AMQPBroker.deadLetter(properties, Array(entry.body), from: queue, reason: reason)
        }
    }

    private func publish(_ message: OutboundMessage, packer: MessagePacker? = nil) {
        publishes.enter()
        let confirmed: ConfirmHandler = { [self] outcome in
            if case .success = outcome { finished(ok: true) } else { finished(ok: false) }
            publishes.leave()
        }
        if let packer {
            connection.publish(message, packer: packer, onConfirm: confirmed)
        } else {
            connection.publish(message, onConfirm: confirmed)
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
    /// sends alone, counted once more, those it still waits for (and only once: it may hear of a
    /// task twice); a task that is not valid is rejected and dead-lettered. The pack is
    /// acknowledged once all of that is confirmed.
    static func returnPack(_ pack: WireFormat.TaskPack, held: HeldDelivery, connection: AMQPConnection,
                           publishes: InFlight) {
        let delivery = TaskPackDelivery(pack: pack, held: held, connection: connection, publishes: publishes)
        for index in pack.entries.indices { delivery.settle(index, .requeue) }
    }
}
