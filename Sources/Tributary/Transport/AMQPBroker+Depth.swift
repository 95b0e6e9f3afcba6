import AMQPClient

/// How much waits on a queue and how many take from it, read with a passive declare (AMQP has no
/// way to list queues: the names come from the workers' and agents' heartbeats).
public struct QueueDepth: Codable, Sendable, Equatable {
    /// The task queue's or work queue's name, as workers and agents know it.
    public var name: String
    /// Messages ready (tasks, or submitted flow runs), not those handed out; a task pack counts once.
    public var waiting: Int
    /// Workers or agents taking from it now.
    public var consumers: Int

    public init(name: String, waiting: Int, consumers: Int) {
        self.name = name
        self.waiting = waiting
        self.consumers = consumers
    }
}

extension AMQPBroker {
    /// The task queue's depth, its packs' queue included; nil if it does not exist.
    public func depth(ofTaskQueue queue: String) async throws -> QueueDepth? {
        guard var depth = try await depth(of: Self.amqpQueue(for: queue), named: queue) else { return nil }
        depth.waiting += try await self.depth(of: Self.packQueue(for: queue), named: queue)?.waiting ?? 0
        return depth
    }

    /// The work queue's depth (submitted flow runs waiting for an agent); nil if it does not exist.
    public func depth(ofWorkQueue workQueue: String) async throws -> QueueDepth? {
        try await depth(of: Self.amqpQueue(forWorkQueue: workQueue), named: workQueue)
    }

    private func depth(of amqpQueue: String, named name: String) async throws -> QueueDepth? {
        do {
            let status = try await connection.inspect(queue: amqpQueue)
            return QueueDepth(name: name, waiting: status.messages, consumers: status.consumers)
        } catch let error as AMQPError where error.replyCode == 404 {
            return nil
        }
    }
}
