import AMQPClient

/// The type of the RabbitMQ queues that hold work Tributary must not lose: task queues, work
/// queues of submitted flow runs, the dead-letter queue, reply queues, flow-run journals, flow-run
/// status boards, work-queue limits and slots, and the server's event queues. Chosen with
/// the broker URL's `queue_type` option (`amqp://host/vhost?queue_type=quorum`), so every process
/// given the same URL declares them alike.
///
/// Quorum queues are replicated across a cluster's nodes (and durable on one node): what they hold
/// survives the loss of a node. A queue keeps the type it was created with: a process that
/// declares it with another type is refused, with what to change.
public enum QueueType: String, Sendable, CaseIterable {
    case classic
    case quorum

    /// The option's name in a broker URL's query.
    static let urlOption = "queue_type"

    /// Splits Tributary's own `queue_type` option from a broker URL: the URL for the AMQP
    /// connection, and the type (classic when the URL does not say).
    public static func split(brokerURL url: String) throws -> (amqpURL: String, queueType: QueueType) {
        guard let question = url.firstIndex(of: "?") else { return (url, .classic) }
        var kept: [Substring] = [], type = QueueType.classic
        for item in url[url.index(after: question)...].split(separator: "&") {
            guard item.hasPrefix("\(urlOption)=") else {
                kept.append(item)
                continue
            }
            let value = String(item.dropFirst(urlOption.count + 1))
            guard let parsed = QueueType(rawValue: value) else {
                throw AMQPError(.invalidURL, message: "invalid broker URL '\(AMQPConfiguration.redact(url))': "
                    + "\(urlOption) must be one of \(allCases.map(\.rawValue).joined(separator: ", ")), not '\(value)'")
            }
            type = parsed
        }
        let base = String(url[..<question])
        return (kept.isEmpty ? base : base + "?" + kept.joined(separator: "&"), type)
    }

    /// The declaration arguments that make a queue of this type.
    public var arguments: AMQPTable {
        self == .quorum ? ["x-queue-type": .string("quorum")] : [:]
    }

    /// Declares `queue` with this type, or explains why the broker refused it: a queue of the same
    /// name and another type exists.
    public func declare(_ queue: QueueDeclaration, on connection: AMQPConnection) async throws {
        var queue = queue
        queue.arguments.merge(arguments) { _, new in new }
        do {
            try await connection.declare(queue)
        } catch let error as AMQPError where error.description.contains("x-queue-type") {
            throw AMQPError(error.kind, message: "queue '\(queue.name)' exists with another type than \(rawValue); "
                + "give every Tributary process the same queue_type in its broker URL, or delete the queue to "
                + "change its type: rabbitmqctl delete_queue \(queue.name)",
                            replyCode: error.replyCode, replyText: error.replyText)
        }
    }
}
