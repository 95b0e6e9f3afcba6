import Synchronization
import Tributary

/// One broker connection for the API's reads, opened on first use and again after a failed open.
final class SharedConnection: Sendable {
    private let url: String
    private let opening = Mutex<Task<AMQPBroker, any Error>?>(nil)

    init(url: String) {
        self.url = url
    }

    func get() async throws -> AMQPBroker {
        let task = opening.withLock { opening in
            if let opening { return opening }
            let created = Task { [url] in try await AMQPBroker.connect(url: url, connectionName: "tributary server API") }
            opening = created
            return created
        }
        do {
            return try await task.value
        } catch {
            opening.withLock { $0 = nil }
            throw error
        }
    }

    func close() async {
        if let broker = try? await opening.withLock({ $0 })?.value { await broker.close() }
    }
}
