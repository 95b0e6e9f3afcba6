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
        let connection = self.connection, holds = self.holds, logger = self.logger
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
                TaskPackDelivery.returnPack(pack, held: held, connection: connection)
                return
            }
            let tasks = TaskPackDelivery(pack: pack, held: held, connection: connection)
            for (index, entry) in pack.entries.enumerated() {
                onDelivery(TaskDelivery(content: entry.content, redelivered: false,
                                        isHeld: { epoch.current == received }) { tasks.settle(index, $0) })
            }
        }, onEnd: onEnd)
    }
}
