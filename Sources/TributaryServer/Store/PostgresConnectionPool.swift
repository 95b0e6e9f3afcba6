import DequeModule
import Foundation

/// Threads of its own for libpq's blocking calls, each with at most one connection, opened at its
/// first job and opened again after it broke (a database restart fails the jobs of that moment,
/// which the caller may try again, and nothing more). Swift's cooperative threads only wait for a
/// job's result, suspended.
final class PostgresConnectionPool: @unchecked Sendable {
    private typealias Job = (PostgresConnectionPool.Slot) -> Void

    /// A thread's connection, if it has one.
    private final class Slot {
        var connection: PostgresConnection?
    }

    private let url: String
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs = Deque<Job>()
    private var closing = false
    private var running = 0

    /// `size` threads (at least one), named `name-1`, `name-2`, ... in debuggers, connecting to
    /// `url` (see ``PostgresConnection/init(url:)``).
    init(url: String, size: Int, name: String) {
        self.url = url
        running = max(1, size)
        for number in 1...running {
            let thread = Thread { [self] in serveJobs() }
            thread.name = "\(name)-\(number)"
            thread.start()
        }
    }

    /// Runs `body` with a connection on one of the pool's threads and returns what it returns.
    func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let queued = enqueue { [url] slot in
                do {
                    // A connection a failed job left broken (or in a transaction) is replaced here.
                    if let connection = slot.connection, !connection.isUsable { slot.connection = nil }
                    let connection = try slot.connection ?? PostgresConnection(url: url)
                    slot.connection = connection
                    continuation.resume(returning: try body(connection))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if !queued { continuation.resume(throwing: PostgresError(message: "the store's connections are closed")) }
        }
    }

    /// Lets the threads close their connections and exit once the jobs queued so far are done;
    /// returns when they have. A job queued later fails.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                condition.lock()
                closing = true
                condition.broadcast()
                while running > 0 { condition.wait() }
                condition.unlock()
                continuation.resume()
            }.start()
        }
    }

    /// Queues `job` for the next free thread; false once the pool is closing.
    private func enqueue(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func serveJobs() {
        let slot = Slot()
        condition.lock()
        while true {
            if let job = jobs.popFirst() {
                condition.unlock()
                job(slot)
                condition.lock()
            } else if closing {
                break
            } else {
                condition.wait()
            }
        }
        condition.unlock()
        slot.connection = nil
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }
}
