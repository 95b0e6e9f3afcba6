import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("TLS (amqps://) against a RabbitMQ node configured with a certificate the test generates")
struct TLSTests {
    @Test("a flow runs over TLS end to end: client and worker both connect with amqps:// and verify the broker")
    func flowOverTLS() async throws {
        try await ExtraBrokerNode.with(port: 5_681, tls: true) { node in
            let url = node.url(query: "cacertfile=\(node.caCertificatePath)")
            let queue = TestBroker.uniqueQueue("tls")
            let worker = try await WorkerProcess(id: "tls-worker", queue: queue, broker: url)
            try await withWorkers([worker]) {
                let client = Tributary(broker: url)
                let squares = try await client.run(flowNamed: "tls") { flow in
                    try await flow.map(Square.self, over: Array(1...20), options: TaskOptions(queue: queue)).values()
                }
                // The node has no plain listener, and it reports each connection's transport.
                let connections = try await node.connections()
                await client.close()
                #expect(squares == (1...20).map { $0 * $0 })
                #expect(connections.count >= 2)
                #expect(connections.allTLS)
            }
        }
    }

    @Test("certificate verification is on by default: an unknown CA or a host name the certificate does not name is refused")
    func verificationOnByDefault() async throws {
        try await ExtraBrokerNode.with(port: 5_682, tls: true) { node in
            // No CA given: the test CA is in no trust store.
            let untrusted = await connectionError(node.url())
            #expect(untrusted?.kind == .unreachable)
            #expect(untrusted?.message.contains("TLS certificate this client does not accept") == true)
            #expect(untrusted?.message.contains("cacertfile=") == true)

            // Right CA, wrong name: the certificate names localhost only.
            let wrongName = await connectionError(node.url(host: "127.0.0.1", query: "cacertfile=\(node.caCertificatePath)"))
            #expect(wrongName?.message.contains("hostname") == true)

            // Verification turned off explicitly: the connection opens.
            #expect(await connectionError(node.url(query: "verify=verify_none")) == nil)
            // And with the CA it opens with verification on.
            #expect(await connectionError(node.url(query: "cacertfile=\(node.caCertificatePath)")) == nil)
        }
    }

    @Test("amqps:// to a plain AMQP port fails with an error within seconds, not a hang")
    func tlsToPlainPort() async throws {
        let started = ContinuousClock.now
        let error = await connectionError("amqps://guest:guest@localhost:5672/?connection_timeout=3000")
        #expect(error != nil)
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    /// The error opening a connection to `url` raised, or nil if it opened (and was closed again).
    private func connectionError(_ url: String) async -> AMQPError? {
        do {
            var configuration = try AMQPConfiguration(url: url)
            configuration.reconnect.maxAttempts = 0
            let connection = try await AMQPConnection.connect(configuration)
            await connection.close()
            return nil
        } catch let error as AMQPError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }
}
