import AMQPClient
import Logging

/// Events over RabbitMQ (docs/wire-format.md, "Events"): batches go to topic exchange
/// `trib.events` with their kind as routing key (`flow-run`, `task-run`, `log`), persistent, and
/// reach whatever queue binds them: the server's own durable queue binds all.
extension AMQPBroker {
    public static let eventExchange = "trib.events"

    /// A worker's or agent's heartbeats: published by a ``HeartbeatService`` over this connection.
    public func heartbeats(_ kind: Heartbeat.Kind, id: String, queues: [String], concurrency: Int, logger: Logger,
                           activity: @escaping @Sendable () -> Activity) -> HeartbeatService {
        HeartbeatService(kind: kind, id: id, queues: queues, concurrency: concurrency, logger: logger,
                         activity: activity) { [self] body in
            try await publish(eventBatch: body, routingKey: "heartbeat")
        }
    }

    /// Publishes one batch of events (see ``EventBatch``), or a heartbeat; returns once the broker holds it.
    public func publish(eventBatch body: [UInt8], routingKey: String) async throws {
        if !preparedFlowRunTopology.withLock({ $0.contains(Self.eventExchange) }) {
            try await connection.declare(ExchangeDeclaration(name: Self.eventExchange, kind: .topic))
            preparedFlowRunTopology.withLock { _ = $0.insert(Self.eventExchange) }
        }
        let properties = AMQPProperties(contentType: WireFormat.contentType, type: "event-batch", persistent: true,
                                        headers: [WireFormat.Header.wire: .int(WireFormat.version)])
        try await connection.publishConfirmed(OutboundMessage(exchange: Self.eventExchange, routingKey: routingKey,
                                                              properties: properties, body: body))
    }
}
