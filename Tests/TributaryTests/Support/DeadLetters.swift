import AMQPClient
import Foundation
import Tributary

/// A private copy of every dead letter from the moment it is started: a queue of the test's own
/// bound to the fanout exchange `trib.dlx`, so tests running side by side never take each
/// other's dead letters off the shared `trib.dead`.
final class DeadLetterWatch: Sendable {
    private let connection: AMQPConnection
    private let queue: String

    private init(connection: AMQPConnection, queue: String) {
        self.connection = connection
        self.queue = queue
    }

    static func start() async throws -> DeadLetterWatch {
        let connection = try await AMQPConnection.connect(url: TestBroker.url)
        let queue = "test.dead.\(UUID().uuidString)"
        try await connection.declare(ExchangeDeclaration(name: AMQPBroker.deadLetterExchange, kind: .fanout))
        try await connection.declare(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true))
        try await connection.bind(QueueBinding(queue: queue, exchange: AMQPBroker.deadLetterExchange, routingKey: ""))
        return DeadLetterWatch(connection: connection, queue: queue)
    }

    /// The dead letter whose message id or correlation id (a task message's task-run id) is `id`,
    /// waiting up to `limit` for it.
    func find(id: String, within limit: Duration = .seconds(15)) async throws -> AMQPDelivery? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let message = try await next() {
                if (message.properties.messageID ?? message.properties.correlationID) == id { return message }
                continue
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// The next dead letter, or nil if none is waiting.
    func next() async throws -> AMQPDelivery? {
        try await connection.get(queue: queue)
    }

    func stop() async {
        await connection.close()
    }
}

extension DeadLetterWatch {
    /// Dead letters whose `header` passes `belongs` (another test's may be on the queue too), by its value,
    /// until `count` are found or `limit` passes.
    func collect(byHeader header: String, count: Int, within limit: Duration,
                 belongs: (String) -> Bool = { _ in true }) async throws -> [String: AMQPDelivery] {
        var found: [String: AMQPDelivery] = [:]
        let deadline = ContinuousClock.now + limit
        while found.count < count, ContinuousClock.now < deadline {
            guard let message = try await next() else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            if let key = message.properties.headers[header]?.stringValue, belongs(key) { found[key] = message }
        }
        return found
    }
}
