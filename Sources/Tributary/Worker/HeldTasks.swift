import Synchronization

/// The tasks a worker runs, with the deliveries they came in, so that when the broker takes those
/// deliveries back (RabbitMQ closed the channel, and hands them to workers again) the tasks are
/// stopped rather than finished beside their redelivered copies.
final class HeldTasks: Sendable {
    /// A running task whose delivery the broker took back.
    struct Lost: Sendable {
        let message: TaskMessage
        /// How long the worker had held the delivery.
        let held: Duration
        /// It held its delivery past the broker's acknowledgement timeout: it is why the broker
        /// closed the channel, and would be again on any worker.
        let pastTimeout: Bool
    }

    private struct Entry {
        let execution: TaskExecution
        let delivery: TaskDelivery
        let message: TaskMessage
        var lost = false
    }

    private let entries = ThreadLock<[ObjectIdentifier: Entry]>([:])

    func insert(_ execution: TaskExecution, delivery: TaskDelivery, message: TaskMessage) {
        entries.withLock { $0[ObjectIdentifier(execution)] = Entry(execution: execution, delivery: delivery, message: message) }
    }

    /// Forgets the execution; true if its delivery was lost (the task must not be reported or settled).
    func remove(_ execution: TaskExecution) -> Bool {
        entries.withLock { $0.removeValue(forKey: ObjectIdentifier(execution))?.lost ?? false }
    }

    /// Stops every running task at once, without waiting for its body (the worker is stopping).
    /// Returns how many it stopped: each body may still hold its thread.
    func interruptAll() -> Int {
        let running = entries.withLock { Array($0.values) }
        for entry in running { entry.execution.interrupt() }
        return running.count
    }

    /// Cancels every running task whose delivery is no longer held, and returns them. With the
    /// broker's acknowledgement timeout known, a task is past it when it held its delivery for at
    /// least nine tenths of it (the broker started counting when it sent the delivery, a little
    /// earlier than the worker got it); with the timeout unknown, the task held longest is.
    func loseUnheld(deliveryTimeout: Duration?, now: ContinuousClock.Instant = .now) -> [Lost] {
        // Whether a delivery is held is asked outside the lock: it is the transport's code.
        let unheld = entries.withLock { Array($0) }.filter { !$0.value.lost && !$0.value.delivery.isHeld }
        let lost = entries.withLock { entries -> [(TaskExecution, TaskMessage, Duration)] in
            var lost: [(TaskExecution, TaskMessage, Duration)] = []
            for (key, entry) in unheld where entries[key]?.lost == false {
                entries[key]!.lost = true
                lost.append((entry.execution, entry.message, entry.delivery.receivedAt.duration(to: now)))
            }
            return lost
        }
        lost.forEach { $0.0.cancel() }
        let longest = lost.map(\.2).max()
        return lost.map { _, message, held in
            let pastTimeout: Bool
            switch deliveryTimeout {
            case nil: pastTimeout = false
            case .zero?: pastTimeout = held == longest
            case let timeout?: pastTimeout = held >= timeout * 0.9
            }
            return Lost(message: message, held: held, pastTimeout: pastTimeout)
        }
    }
}
