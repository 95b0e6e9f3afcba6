import AMQPClient
import Foundation
import Synchronization
import Testing

@Suite("AMQPConnection against a real RabbitMQ", .serialized)
struct AMQPConnectionTests {
    @Test("a published message is confirmed, delivered with its properties, and gone once acked")
    func publishConsumeAck() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("roundtrip")
        try await connection.declare(QueueDeclaration(name: queue, durable: false))
        let properties = AMQPProperties(contentType: "application/json", correlationID: "c-1", replyTo: "r",
                                        messageID: "m-1", type: "square", persistent: true,
                                        headers: ["x-attempt": .int(3), "x-flow": .string("f-1"), "x-ok": .bool(true)])
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, properties: properties,
                                                              body: Array("{\"x\":4}".utf8)))
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        var iterator = consumer.deliveries.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        #expect(delivery.body == Array("{\"x\":4}".utf8))
        #expect(delivery.properties == properties)
        #expect(delivery.redelivered == false)
        connection.ack(delivery.tag)
        try await connection.cancel(consumer)
        #expect(try await connection.get(queue: queue) == nil)
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test("a nacked delivery with requeue comes back marked redelivered")
    func nackRequeue() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("requeue")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [1, 2, 3]))
        let consumer = try await connection.consume(queue: queue, prefetch: 1)
        var iterator = consumer.deliveries.makeAsyncIterator()
        let first = try #require(await iterator.next())
        connection.nack(first.tag, requeue: true)
        let second = try #require(await iterator.next())
        #expect(second.redelivered)
        #expect(second.body == [1, 2, 3])
        connection.ack(second.tag)
        await connection.close()
    }

    @Test("many publishes in flight are all confirmed and all delivered")
    func manyConfirms() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("many")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        let count = 2_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                group.addTask {
                    try await connection.publishConfirmed(OutboundMessage(routingKey: queue,
                                                                          body: Array(String(i).utf8)))
                }
            }
            try await group.waitForAll()
        }
        let consumer = try await connection.consume(queue: queue, prefetch: 100)
        var seen = Set<String>()
        for await delivery in consumer.deliveries {
            seen.insert(String(decoding: delivery.body, as: UTF8.self))
            connection.ack(delivery.tag)
            if seen.count == count { break }
        }
        #expect(seen.count == count)
        await connection.close()
    }

    @Test("publishes queued together with one packer go as fewer messages: none lost, none reordered, each confirmed once; a lone one goes unchanged")
    func packedPublishes() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("packed")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        let merges = Mutex<[Int]>([])
        let packer = MessagePacker(maxMessages: 16, maxBytes: 1 << 20) { messages in
            merges.withLock { $0.append(messages.count) }
            return OutboundMessage(routingKey: messages[0].routingKey,
                                   body: Array(messages.map { String(decoding: $0.body, as: UTF8.self) }.joined(separator: ",").utf8))
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            connection.publish(OutboundMessage(routingKey: queue, body: Array("solo".utf8)), packer: packer) {
                continuation.resume(with: $0)
            }
        }
        let count = 2_000
        let confirms = Mutex<[Int]>(Array(repeating: 0, count: count))
        let (confirmed, confirm) = AsyncStream.makeStream(of: Void.self)
        // From one thread in a loop: they queue up faster than the connection's thread sends them.
        for i in 0..<count {
            connection.publish(OutboundMessage(routingKey: queue, body: Array(String(i).utf8)), packer: packer) { result in
                if case .success = result { confirms.withLock { $0[i] += 1 } }
                confirm.yield()
            }
        }
        var heard = 0
        for await _ in confirmed {
            heard += 1
            if heard == count { break }
        }
        #expect(confirms.withLock { $0 }.allSatisfy { $0 == 1 }, "every publish is confirmed once")

        let consumer = try await connection.consume(queue: queue, prefetch: 100)
        var bodies: [String] = []
        var messages = 0
        for await delivery in consumer.deliveries {
            messages += 1
            bodies += String(decoding: delivery.body, as: UTF8.self).split(separator: ",").map(String.init)
            connection.ack(delivery.tag)
            if bodies.count == count + 1 { break }
        }
        #expect(bodies == ["solo"] + (0..<count).map(String.init), "in order, each once")
        #expect(messages < count / 2, "packed: \(count + 1) publishes went as \(messages) messages")
        #expect(merges.withLock { $0 }.allSatisfy { (2...16).contains($0) }, "the packer merges 2 to maxMessages at a time")
        await connection.close()
    }

    @Test("consuming from a queue that does not exist fails with NOT_FOUND, and the connection stays usable")
    func notFound() async throws {
        let connection = try await TestBroker.connect()
        let error = await #expect(throws: AMQPError.self) {
            _ = try await connection.consume(queue: "no.such.queue.\(UUID())", prefetch: 1)
        }
        #expect(error?.replyCode == 404)
        #expect(error?.replyText?.contains("NOT_FOUND") == true)
        let queue = TestBroker.uniqueQueue("after-404")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [7]))
        #expect(try await connection.get(queue: queue)?.body == [7])
        await connection.close()
    }

    @Test("a message that cannot go on the wire fails alone with a clear error; the connection carries on",
          arguments: [
              ("headers larger than a frame", AMQPProperties(headers: ["x-big": .string(String(repeating: "a", count: 200_000))]),
               "more than one AMQP frame"),
              ("a task name over 255 bytes", AMQPProperties(type: String(repeating: "t", count: 300)), "at most 255"),
              ("a NaN in a header (RabbitMQ would close the connection)", AMQPProperties(headers: ["x-n": .double(.nan)]),
               "only finite numbers"),
          ])
    func unsendableMessage(label: String, properties: AMQPProperties, reason: String) async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("unsendable")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        let error = await #expect(throws: AMQPError.self, "\(label)") {
            try await connection.publishConfirmed(OutboundMessage(routingKey: queue, properties: properties, body: [1]))
        }
        #expect(error?.kind == .invalidMessage)
        #expect(error?.message.contains(reason) == true)
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [7]))
        #expect(try await connection.get(queue: queue)?.body == [7])
        await connection.close()
    }

    @Test("re-declaring a queue with other arguments fails with PRECONDITION_FAILED")
    func preconditionFailed() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueQueue("precondition")
        try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: true))
        let error = await #expect(throws: AMQPError.self) {
            try await connection.declare(QueueDeclaration(name: queue, durable: true))
        }
        #expect(error?.replyCode == 406)
        #expect(error?.description.contains("PRECONDITION_FAILED") == true)
        await connection.close()
    }

    @Test("wrong credentials fail within seconds with a clear error that does not show the password")
    func wrongCredentials() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPError.self) {
            _ = try await AMQPConnection.connect(url: "amqp://guest:not-the-password@localhost:5672/")
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(error?.description.contains("check the user name and password") == true)
        #expect(error?.description.contains("not-the-password") == false)
        #expect(started.duration(to: .now) < .seconds(10))
    }

    @Test("an unreachable broker fails within seconds and says where it looked")
    func unreachable() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPError.self) {
            _ = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:1/")
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("127.0.0.1:1") == true)
        #expect(started.duration(to: .now) < .seconds(10))
    }

    @Test("a vhost that does not exist is named in the error")
    func unknownVhost() async throws {
        let error = await #expect(throws: AMQPError.self) {
            _ = try await AMQPConnection.connect(url: "amqp://guest:guest@localhost:5672/no-such-vhost")
        }
        #expect(error?.description.contains("no-such-vhost") == true)
    }
}

@Suite("Reconnecting after the broker drops the connection", .serialized)
struct ReconnectTests {
    @Test("a connection the broker closes is re-opened: topology re-declared, consumer resumed, publishing goes on")
    func reconnects() async throws {
        var configuration = try AMQPConfiguration(url: TestBroker.url)
        let name = "reconnect-test-\(UUID().uuidString)"
        configuration.connectionName = name
        let connection = try await AMQPConnection.connect(configuration)
        let queue = TestBroker.uniqueQueue("reconnect")
        try await connection.declare(QueueDeclaration(name: queue, durable: false))
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        var deliveries = consumer.deliveries.makeAsyncIterator()
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [1]))
        let before = try #require(await deliveries.next())
        #expect(before.body == [1])
        connection.ack(before.tag)

        #expect(try await BrokerControl.closeConnection(named: name) == 1, "the broker closed our connection")

        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [2]))
        let after = try #require(await deliveries.next())
        #expect(after.body == [2], "the same consumer stream goes on after the reconnect")
        connection.ack(after.tag)
        #expect(try await BrokerControl.closeConnection(named: name) == 1, "the connection came back under its name")
        try await connection.publishConfirmed(OutboundMessage(routingKey: queue, body: [3]))
        #expect(await deliveries.next()?.body == [3])
        try await connection.delete(queue: queue)
        await connection.close()
    }
}
