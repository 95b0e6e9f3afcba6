import AMQPClient
import Foundation
import Glibc

/// What the broker pays per message for each part of a task message (issue 15, "a lighter
/// message"): the same small body published to one durable queue, confirmed, up to 1,000 in flight,
/// and consumed and acknowledged one by one from a second connection, as a worker does; each
/// variant adds properties or headers to the one before. Per message: the broker's CPU (user and
/// system time of its `beam.smp` process) and the round trips per second. Variants run in turn,
/// `rounds` times; medians are reported.
struct MessageCosts {
    let broker: String
    let count: Int
    let rounds: Int

    struct Variant {
        let label: String
        let properties: AMQPProperties
    }

    /// From a bare message to the task message of wire version 1, then the frames of version 2
    /// (`WireFormat.encode`; the body is the same 12 bytes in every variant).
    private static let taskRunID = "3f1c2a9e-5b7d-4c11-9e2f-0a6b8c4d2e10.0123456789abcdef-1"
    private static let replyTo = "trib.reply.6c1d0e2f-8a3b-4c5d-9e7f-1a2b3c4d5e6f"
    /// The frame of a persistent task message of wire version 2.
    private static let version2Task = AMQPProperties(correlationID: taskRunID, replyTo: replyTo, persistent: true,
                                                     headers: ["x-trib-wire": .int(2)])

    static let variants: [Variant] = {
        let flowRunID = "3f1c2a9e-5b7d-4c11-9e2f-0a6b8c4d2e10"
        let named = AMQPProperties(contentType: "application/json", correlationID: taskRunID, replyTo: replyTo,
                                   messageID: taskRunID, type: "increment", persistent: true)
        var task = named
        task.headers = ["x-trib-wire": .int(1), "x-trib-attempt": .int(1), "x-trib-flow-run": .string(flowRunID)]
        var result = AMQPProperties(contentType: "application/json", correlationID: taskRunID, persistent: true)
        result.headers = ["x-trib-wire": .int(1), "x-trib-status": .string("completed"), "x-trib-attempt": .int(1),
                          "x-trib-worker": .string("worker-1"), "x-trib-started": .double(1_764_936_000.123)]
        var transientTask = task
        transientTask.persistent = false
        var transientVersion2Task = version2Task
        transientVersion2Task.persistent = false
        let version2Result = AMQPProperties(correlationID: taskRunID, persistent: true, headers: ["x-trib-wire": .int(2)])
        return [
            Variant(label: "body only (transient, no properties)", properties: AMQPProperties()),
            Variant(label: "a transient task message of wire version 1 (every property, 3 headers)", properties: transientTask),
            Variant(label: "persistent", properties: AMQPProperties(persistent: true)),
            Variant(label: "persistent + routing properties (correlation id, reply-to)",
                    properties: AMQPProperties(correlationID: taskRunID, replyTo: replyTo, persistent: true)),
            Variant(label: "persistent + every property a task sets (+ content type, message id, type)", properties: named),
            Variant(label: "a task message of wire version 1 (+ 3 headers)", properties: task),
            Variant(label: "a result message of wire version 1 (5 headers)", properties: result),
            Variant(label: "a task message of wire version 2 (correlation id, reply-to, one header)", properties: version2Task),
            Variant(label: "a transient task message of wire version 2", properties: transientVersion2Task),
            Variant(label: "a result message of wire version 2 (correlation id, one header)", properties: version2Result),
        ]
    }()

    func measure() async throws -> [String] {
        let beam = try Self.brokerProcess()
        let publisher = try await AMQPConnection.connect(url: broker)
        let consumer = try await AMQPConnection.connect(url: broker)
        let queue = "bench.message-costs.\(UUID().uuidString.prefix(8).lowercased())"
        try await publisher.declare(QueueDeclaration(name: queue, arguments: ["x-expires": .int(600_000)]))
        let (received, receive) = AsyncStream.makeStream(of: Void.self)
        _ = try await consumer.consume(queue: queue, prefetch: 1_000, onDelivery: { delivery in
            consumer.ack(delivery.tag)
            receive.yield()
        }, onEnd: {})
        var deliveries = received.makeAsyncIterator()
        var cpu: [[Double]] = Array(repeating: [], count: Self.variants.count)
        var rates: [[Double]] = Array(repeating: [], count: Self.variants.count)
        let body = Array(#"{"n": 12345}"#.utf8)
        for _ in 0..<rounds {
            for (index, variant) in Self.variants.enumerated() {
                let message = OutboundMessage(routingKey: queue, properties: variant.properties, body: body)
                let cpuBefore = ScheduleLag.cpuSeconds(pid: beam), started = ContinuousClock.now
                try await publisher.publishPipelined(count, of: message)
                for _ in 0..<count { _ = await deliveries.next() }
                let seconds = started.duration(to: .now).timeInterval
                cpu[index].append((ScheduleLag.cpuSeconds(pid: beam) - cpuBefore) / Double(count) * 1e6)
                rates[index].append(Double(count) / seconds)
            }
        }
        let packs = try await measurePacks(publisher: publisher, queue: queue, deliveries: &deliveries, beam: beam)
        try await publisher.delete(queue: queue)
        await consumer.close()
        await publisher.close()
        var lines = ["message costs: \(count) messages of \(body.count) bytes per variant, published confirmed "
            + "(1,000 in flight) to one durable queue and consumed with acks; medians of \(rounds) rounds"]
        for (index, variant) in Self.variants.enumerated() {
            lines.append("  \(variant.label): broker \(format(Self.median(cpu[index]), 1)) µs CPU per message, "
                + "\(format(Self.median(rates[index]), 0)) messages/s")
        }
        return lines + packs
    }

    /// Task messages per pack in the pack variants.
    static let packSizes = [1, 4, 8, 16, 64]

    /// The broker's CPU per task when `size` task messages of wire version 2 travel as one
    /// (persistent, the version-2 frame; each entry an 80-byte envelope and input, as a pack of
    /// tasks would carry): what packing tasks could save the broker (issue 15 item 1).
    private func measurePacks(publisher: AMQPConnection, queue: String, deliveries: inout AsyncStream<Void>.Iterator,
                              beam: Int32) async throws -> [String] {
        var cpu: [[Double]] = Array(repeating: [], count: Self.packSizes.count)
        for _ in 0..<rounds {
            for (index, size) in Self.packSizes.enumerated() {
                let messages = max(1, count / size)
                let body = [UInt8](repeating: 0x61, count: 80 * size)
                let message = OutboundMessage(routingKey: queue, properties: Self.version2Task, body: body)
                let cpuBefore = ScheduleLag.cpuSeconds(pid: beam)
                try await publisher.publishPipelined(messages, of: message)
                for _ in 0..<messages { _ = await deliveries.next() }
                cpu[index].append((ScheduleLag.cpuSeconds(pid: beam) - cpuBefore) / Double(messages * size) * 1e6)
            }
        }
        return ["packs of persistent task messages (wire version 2's frame, 80 bytes per task); medians of \(rounds) rounds"]
            + Self.packSizes.enumerated().map { index, size in
                "  \(size) per message: broker \(format(Self.median(cpu[index]), 1)) µs CPU per task"
            }
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    /// The one RabbitMQ node on this machine (`beam.smp`), whose CPU time is read.
    private static func brokerProcess() throws -> Int32 {
        let pids = (try FileManager.default.contentsOfDirectory(atPath: "/proc")).compactMap(Int32.init).filter {
            (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == "beam.smp"
        }
        guard pids.count == 1, let pid = pids.first else {
            throw BenchError("--probe-message-costs reads the broker's CPU time, so it needs exactly one RabbitMQ "
                + "node (beam.smp) on this machine; found \(pids.count)")
        }
        return pid
    }
}

extension AMQPConnection {
    /// Publishes `count` copies of `message` with up to 1,000 unconfirmed at a time, as a
    /// coordinator sends tasks; returns once the broker confirmed them all (throws on a nack).
    func publishPipelined(_ count: Int, of message: OutboundMessage) async throws {
        let (confirms, confirmed) = AsyncStream.makeStream(of: Result<Void, AMQPError>.self)
        var sent = 0, done = 0
        func send() {
            publish(message) { confirmed.yield($0) }
            sent += 1
        }
        while sent < min(count, 1_000) { send() }
        for await confirm in confirms {
            try confirm.get()
            done += 1
            if sent < count { send() }
            if done == count { return }
        }
    }
}
