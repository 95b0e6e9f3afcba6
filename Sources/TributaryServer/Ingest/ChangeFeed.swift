import Foundation
import Synchronization
import Tributary

/// Hands what the server has just recorded to every live view listening (the API's Server-Sent
/// Events): each listener has a stream of its own that keeps the newest 10,000 events if it
/// falls behind.
public final class ChangeFeed: Sendable {
    private let listeners = Mutex<[UUID: AsyncStream<RunEvent>.Continuation]>([:])

    public init() {}

    /// Events recorded from now on, until the stream is dropped.
    public func listen() -> AsyncStream<RunEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: RunEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = UUID()
        listeners.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.listeners.withLock { $0.removeValue(forKey: id) } }
        return stream
    }

    /// Tells every listener of events just committed.
    func publish(_ events: [RunEvent]) {
        let all = listeners.withLock { Array($0.values) }
        guard !all.isEmpty else { return }
        for listener in all {
            for event in events { listener.yield(event) }
        }
    }
}
