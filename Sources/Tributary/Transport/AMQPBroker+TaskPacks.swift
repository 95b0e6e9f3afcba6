import AMQPClient
import Logging

extension AMQPBroker {
    /// The AMQP queue that holds task packs for a Tributary queue (published to the default
    /// exchange); only workers that read packs consume it.
    public static func packQueue(for queue: String) -> String { "trib.pack.\(queue)" }

    /// Takes packs from `queue`'s pack queue, at most `prefetch` unacknowledged at a time, and hands
    /// each of their tasks to `onDelivery` as a delivery of its own (see ``TaskPackDelivery``). A
    /// pack handed out before is returned to its coordinator instead of run. Returns the consumer's tag.
    func consumePacks(of queue: String, prefetch: Int, epoch: ChannelEpoch,
                      onDelivery: @escaping @Sendable (TaskDelivery) -> Void,
                      onEnd: @escaping @Sendable () -> Void) async throws -> String {
        let connection = self.connection, holds = self.holds, logger = self.logger, publishes = packPublishes
        let name = Self.packQueue(for: queue)
        return try await connection.consume(queue: name, prefetch: UInt16(clamping: prefetch), onDelivery: { delivery in
            let received = epoch.current
            let pack: WireFormat.TaskPack
            switch WireFormat.decodeTaskPack(delivery, queue: queue) {
            case .success(let decoded):
                pack = decoded
            case .failure(let problem):
                logger.error("dead-lettered a malformed task pack", metadata: ["reason": "\(problem.reason)", "queue": "\(name)"])
                Self.settle(delivery, .deadLetter(reason: "malformed task pack: \(problem.reason)"), from: name, on: connection)
                return
            }
            // Held as in use from the start: a pack's tasks are claimed one by one by the worker.
            let held = holds.hold(delivery, from: name, claimed: true)
            if delivery.wasHeldBefore {
                logger.info("returning a pack that was handed out before to its coordinator", metadata: [
                    "tasks": "\(pack.entries.count)", "queue": "\(name)",
                ])
                TaskPackDelivery.returnPack(pack, held: held, connection: connection, publishes: publishes)
                return
            }
            let tasks = TaskPackDelivery(pack: pack, held: held, connection: connection, publishes: publishes)
            // Held past the renewal delay: what no task thread has taken yet goes back for another worker.
            // Weak: the pack's deliveries hold `tasks` while any is unsettled; the hook must not
            // keep it (and its held delivery) alive after that.
            held.onRenewalDue { [weak tasks] in
                guard let returned = tasks?.returnUnclaimed() else { return }
                guard returned > 0 else { return }
                logger.info("returning to their coordinator the tasks of a pack that waited here past the renewal delay",
                            metadata: ["tasks": "\(returned)", "queue": "\(name)"])
            }
            for (index, entry) in pack.entries.enumerated() {
                onDelivery(TaskDelivery(content: entry.content, redelivered: false, isHeld: { epoch.current == received },
                                        claim: { tasks.claim(index) }) { tasks.settle(index, $0) })
            }
        }, onEnd: onEnd, onDeliveriesLost: { _ in
            // The plain consumer reports the loss to the worker; this one's deliveries are gone too.
            epoch.advance()
        })
    }
}
