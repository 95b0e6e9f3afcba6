import Foundation
import Logging
import Synchronization

/// Batches a process's events and sends them on: up to ``maxBatch`` events per batch, sent at
/// most ``window`` after the first of them, so recording costs a run a lock and an append. A
/// batch that cannot be sent (the broker or store unreachable) is dropped with a warning: events
/// never hold up or fail a run. While sending lags, at most ``maxBuffered`` events wait here; past
/// that, log lines give way first, then the newest events are dropped (and counted).
///
/// Clients on a broker send batches to the `trib.events` exchange (``EventBatch`` as JSON, the
/// kind as routing key); the server product's `LocalRunRecorder` writes an embedded client's
/// straight into a store.
public final class EventPublisher: EventSink {
    /// Sends one batch of events, all of one kind; throws if it could not.
    public typealias Send = @Sendable (_ events: [RunEvent], _ kind: RunEvent.Kind) async throws -> Void

    public static let maxBatch = 500
    public static let window = Duration.milliseconds(20)
    public static let maxBuffered = 200_000

    private struct Buffer {
        var events: [RunEvent] = []
        var dropped = 0
        var closed = false
    }

    /// The events waiting, shared with the sending loop.
    private final class Shared: Sendable {
        let buffer = Mutex(Buffer())
    }

    private let shared = Shared()
    private let sequence = Atomic<Int>(0)
    private let wake: AsyncStream<Void>.Continuation
    private let loop: Task<Void, Never>
    private let logger: Logger

    /// Sends batches with `send`; `finish` runs once the last batch is sent (at ``close()``).
    public init(logger: Logger, send: @escaping Send, finish: (@Sendable () async -> Void)? = nil) {
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        self.logger = logger
        let shared = self.shared
        loop = Task {
            for await _ in wakes {
                if shared.buffer.withLock({ $0.events.count < Self.maxBatch && !$0.closed }) {
                    try? await Task.sleep(for: Self.window)
                }
                let (events, dropped) = shared.buffer.withLock { buffer in
                    defer { (buffer.events, buffer.dropped) = ([], 0) }
                    return (buffer.events, buffer.dropped)
                }
                if dropped > 0 {
                    logger.warning("dropped events: they came faster than they could be sent", metadata: [
                        "dropped": "\(dropped)",
                    ])
                }
                await Self.publish(events, send: send, logger: logger)
            }
            await finish?()
        }
    }

    public func nextSequence() -> Int {
        sequence.add(1, ordering: .relaxed).newValue
    }

    public func record(_ event: RunEvent) {
        let signal = shared.buffer.withLock { buffer -> Bool in
            guard !buffer.closed else { return false }
            if buffer.events.count >= Self.maxBuffered {
                // Log lines give way to states.
                if event.kind != .log, let index = buffer.events.firstIndex(where: { $0.kind == .log }) {
                    buffer.events.remove(at: index)
                } else {
                    buffer.dropped += 1
                    return false
                }
                buffer.dropped += 1
            }
            buffer.events.append(event)
            return buffer.events.count == 1 || buffer.events.count == Self.maxBatch
        }
        if signal { wake.yield() }
    }

    /// Sends what is buffered and stops taking events.
    public func close() async {
        shared.buffer.withLock { $0.closed = true }
        wake.yield()
        wake.finish()
        await loop.value
    }

    /// Events grouped by kind (the routing key), in batches of at most ``maxBatch``.
    private static func publish(_ events: [RunEvent], send: Send, logger: Logger) async {
        for kind in [RunEvent.Kind.flowRun, .taskRun, .log, .artifact] {
            let ofKind = events.filter { $0.kind == kind }
            for start in stride(from: 0, to: ofKind.count, by: maxBatch) {
                let batch = Array(ofKind[start..<min(start + maxBatch, ofKind.count)])
                do {
                    try await send(batch, kind)
                } catch {
                    logger.warning("could not send a batch of events; they are not recorded", metadata: [
                        "events": "\(batch.count)", "error": "\(error)",
                    ])
                }
            }
        }
    }
}
