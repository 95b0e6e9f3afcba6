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
