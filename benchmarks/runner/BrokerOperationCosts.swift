import AMQPClient
import Foundation

/// What each kind of broker operation a submitted flow run makes costs on this broker, one at a
/// time from one connection (a round trip each): the reasons behind the flows workload's figures.
struct BrokerOperationCosts {
    let broker: String
    let count: Int

    func measure() async throws -> [String] {
        let connection = try await AMQPConnection.connect(url: broker)
        let prefix = "bench.ops.\(UUID().uuidString.prefix(8))"
        var lines: [String] = []
        func time(_ label: String, _ body: (Int) async throws -> Void) async throws {
            let started = ContinuousClock.now
            for index in 0..<count { try await body(index) }
            let each = started.duration(to: .now).timeInterval / Double(count) * 1e6
            lines.append("\(label): \(format(each, 0)) µs each")
        }
        try await time("declare a durable queue with x-expires (a journal)") { index in
            try await connection.declare(QueueDeclaration(name: "\(prefix).j.\(index)", arguments: [
                "x-expires": .int(600_000), "x-single-active-consumer": .bool(true),
            ]))
        }
        try await time("declare a durable last-value queue (a board)") { index in
            try await connection.declare(QueueDeclaration(name: "\(prefix).b.\(index)", arguments: [
                "x-max-length": .int(1), "x-overflow": .string("drop-head"), "x-expires": .int(600_000),
            ]))
        }
        try await time("declare an exclusive auto-delete queue (a watch)") { index in
            try await connection.declare(QueueDeclaration(name: "\(prefix).w.\(index)", durable: false, exclusive: true,
                                                          autoDelete: true))
        }
        try await time("publish a persistent message, confirmed") { index in
            try await connection.publishConfirmed(OutboundMessage(
                routingKey: "\(prefix).b.\(index)", properties: AMQPProperties(persistent: true), body: Array(repeating: 65, count: 300)))
        }
        try await time("peek at a board (basic.get, basic.nack)") { index in
            _ = try await connection.peek(queue: "\(prefix).b.\(index)")
        }
        try await time("inspect a queue (passive declare)") { index in
            _ = try await connection.inspect(queue: "\(prefix).j.\(index)")
        }
        try await time("delete a queue") { index in
            try await connection.delete(queue: "\(prefix).j.\(index)")
            try await connection.delete(queue: "\(prefix).b.\(index)")
        }
        lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: "each", with: "for two")
        // What a journal costs results against a reply queue: the same persistent results, sent as
        // workers send them (many in flight, each confirmed), into each kind of queue.
        let journal = "\(prefix).journal", reply = "\(prefix).reply"
        try await connection.declare(QueueDeclaration(name: journal, arguments: ["x-expires": .int(600_000)]))
        try await connection.declare(QueueDeclaration(name: reply, durable: false, exclusive: true, autoDelete: true))
        for (label, queue) in [("a durable queue (a journal)", journal), ("an exclusive queue (a reply queue)", reply)] {
            let rate = try await confirmedRate(of: count * 20, persistentMessagesTo: queue, on: connection)
            lines.append("publish \(count * 20) persistent results pipelined into \(label): \(format(rate, 0)) confirmed/s")
        }
        try await connection.delete(queue: journal)
        await connection.close()
        return lines
    }

    /// Publishes `total` persistent 300-byte messages to `queue` with up to 1,000 unconfirmed at a
    /// time, and returns how many the broker confirmed per second.
    private func confirmedRate(of total: Int, persistentMessagesTo queue: String,
                               on connection: AMQPConnection) async throws -> Double {
        let message = OutboundMessage(routingKey: queue, properties: AMQPProperties(persistent: true),
                                      body: Array(repeating: 65, count: 300))
        let started = ContinuousClock.now
        try await connection.publishPipelined(total, of: message)
        return Double(total) / started.duration(to: .now).timeInterval
    }
}
