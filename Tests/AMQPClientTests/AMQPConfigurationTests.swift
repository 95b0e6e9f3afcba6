import AMQPClient
import Testing

@Suite("Broker URLs")
struct AMQPConfigurationTests {
    @Test("a full URL gives host, port, credentials and vhost")
    func fullURL() throws {
        let c = try AMQPConfiguration(url: "amqp://alice:s%40cret@broker.example:5673/tenant%2Fa?heartbeat=5")
        #expect(c.host == "broker.example")
        #expect(c.port == 5673)
        #expect(c.user == "alice")
        #expect(c.password == "s@cret")
        #expect(c.virtualHost == "tenant/a")
        #expect(c.heartbeat == .seconds(5))
        #expect(c.tls == nil)
    }

    @Test("defaults: guest, port 5672, vhost /; amqps means TLS on 5671 with verification")
    func defaults() throws {
        let plain = try AMQPConfiguration(url: "amqp://localhost")
        #expect(plain.user == "guest" && plain.port == 5672 && plain.virtualHost == "/")
        let secure = try AMQPConfiguration(url: "amqps://localhost/")
        #expect(secure.port == 5671)
        #expect(secure.tls?.verifyPeer == true)
    }

    @Test("bad URLs are refused with the reason, and the password is never echoed",
          arguments: ["http://localhost", "amqp://", "amqp://u:hunter2@h:99999/", "amqp://h/?bogus=1", "not a url"])
    func invalid(url: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
        #expect(error?.kind == .invalidURL)
        #expect(error?.description.contains("expected amqp://") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test("a URL may name several nodes of a cluster, each with its own port or the scheme's default")
    func severalNodes() throws {
        let c = try AMQPConfiguration(url: "amqp://alice:pw@rabbit1:5673,rabbit2,10.0.0.3:5674/prod?heartbeat=5")
        #expect(c.nodes == [.init(host: "rabbit1", port: 5673), .init(host: "rabbit2", port: 5672),
                            .init(host: "10.0.0.3", port: 5674)])
        #expect(c.user == "alice" && c.password == "pw" && c.virtualHost == "prod" && c.heartbeat == .seconds(5))
        #expect(c.redactedURL == "amqp://alice:***@rabbit1:5673,rabbit2:5672,10.0.0.3:5674/prod")
        let secure = try AMQPConfiguration(url: "amqps://r1,r2:5000")
        #expect(secure.nodes.map(\.port) == [5671, 5000])
    }

    @Test("a bad node in a list is named in the error",
          arguments: [("amqp://u:p@r1,,r3/", "node '' has no host"), ("amqp://u:p@r1,r2:70000/", "node 'r2:70000'"),
                      ("amqp://r1,r2:x/", "node 'r2:x'")])
    func badNode(url: String, named: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
        #expect(error?.kind == .invalidURL)
        #expect(error?.description.contains(named) == true, "\(error?.description ?? "")")
    }

    @Test("the redacted URL hides the password")
    func redacted() throws {
        let c = try AMQPConfiguration(url: "amqp://bob:topsecret@h:5672/")
        #expect(!c.redactedURL.contains("topsecret"))
        #expect(AMQPConfiguration.redact("amqp://bob:topsecret@h/") == "amqp://bob:***@h/")
    }

    @Test("reconnect backoff doubles up to the maximum")
    func backoff() {
        let policy = AMQPConfiguration.ReconnectPolicy()
        #expect(policy.delay(beforeAttempt: 1) == .milliseconds(100))
        #expect(policy.delay(beforeAttempt: 2) == .milliseconds(200))
        #expect(policy.delay(beforeAttempt: 20) == .seconds(5))
    }
}
