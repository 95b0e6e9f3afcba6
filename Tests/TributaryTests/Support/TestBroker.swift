import Foundation

/// The RabbitMQ the suite runs against: `TRIB_TEST_BROKER`, or the local one deploy/rabbitmq.sh starts.
enum TestBroker {
    static let url = ProcessInfo.processInfo.environment["TRIB_TEST_BROKER"] ?? "amqp://guest:guest@localhost:5672/"

    /// A queue name no other test uses.
    static func uniqueQueue(_ label: String) -> String {
        "test-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
