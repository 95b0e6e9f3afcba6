import AMQPClient
import Foundation
import Tributary

/// Reads the dead-letter queue.
enum DeadLetters {
    /// Takes messages off `trib.dead` until the one with `messageID` turns up (or the queue is empty
    /// for `limit`).
    static func find(messageID: String, within limit: Duration = .seconds(10)) async throws -> AMQPDelivery? {
        let connection = try await AMQPConnection.connect(url: TestBroker.url)
        defer { Task { await connection.close() } }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let message = try await connection.get(queue: AMQPBroker.deadLetterQueue) {
                if message.properties.messageID == messageID { return message }
                continue
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
