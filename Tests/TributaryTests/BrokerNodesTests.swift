import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

/// A broker URL that names several nodes: clients and workers connect to the first that answers
/// and move to another when theirs is lost.
@Suite("Broker URLs with several nodes", .serialized)
struct BrokerNodesTests {
    /// The suite's main broker as `host:port`, for a URL that names it beside another node.
    private static var mainNode: String {
        let node = (try? AMQPConfiguration(url: TestBroker.url))?.nodes.first ?? .init(host: "localhost", port: 5672)
        return "\(node.host):\(node.port)"
    }

    @Test("a node that does not answer is passed over for the next one in the URL")
    func firstNodeDown() async throws {
        let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:1,\(Self.mainNode)/")
        let queue = "trib.q.\(TestBroker.uniqueQueue("nodes"))"
        try await connection.declare(QueueDeclaration(name: queue, durable: false, arguments: ["x-expires": .int(60_000)]))
        try await connection.publishConfirmed(OutboundMessage(exchange: "", routingKey: queue, body: Array("hi".utf8)))
        #expect(try await connection.inspect(queue: queue).messages == 1)
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test("when no node answers, the error names each node and why")
    func noNodeAnswers() async {
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:1,127.0.0.1:2/")
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("127.0.0.1:1") == true && error?.description.contains("127.0.0.1:2") == true,
                "\(error?.description ?? "")")
    }

    @Test("client and worker move to the next node when theirs stops, and the next flow completes there")
    func failover() async throws {
        try await ExtraBrokerNode.with(port: 5_683, tls: false) { node in
            let url = "amqp://guest:guest@localhost:\(node.port),\(Self.mainNode)/"
            let queue = TestBroker.uniqueQueue("failover")
            let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, broker: url)
            try await withWorkers([worker]) {
                let client = Tributary(broker: url)
                let options = TaskOptions(queue: queue)
                func sumOfSquares() async throws -> Int {
                    try await client.run(flowNamed: "squares") { flow in
                        try await flow.map(Square.self, over: 1...20, options: options).values().reduce(0, +)
                    }
                }
                #expect(try await sumOfSquares() == 2_870)
                #expect(try await node.connections().count >= 2, "the client and the worker are on the first node")
                await node.stop()
                #expect(try await sumOfSquares() == 2_870)
                try await waitUntil("the worker logged its move", within: .seconds(10)) {
                    worker.log.contains("reconnected to the broker") && worker.log.contains(Self.mainNode)
                }
                await client.close()
            }
        }
    }
}
