import Foundation
import Glibc

/// A real `trib worker` (or `trib agent`) process on a queue of the test's own, with its log in a
/// temporary file.
final class WorkerProcess: @unchecked Sendable {
    let id: String
    let process = Process()
    let logURL: URL

    /// The directory holding the built executables, next to the test bundle.
    static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["TRIB_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    /// Starts a worker and waits until it says it is ready. `launcher` runs it through another
    /// program that execs it (such as `ip netns exec NAME`), so the process is still the worker.
    convenience init(id: String, queue: String, concurrency: Int = 4, prefetch: Int? = nil, shutdownGrace: Int = 30,
                     broker: String = TestBroker.url, extraArguments: [String] = [], launcher: [String] = [],
                     environment: [String: String] = [:]) async throws {
        var arguments = ["worker", "--broker", broker, "--queue", queue, "--concurrency", "\(concurrency)",
                         "--id", id, "--shutdown-grace", "\(shutdownGrace)"]
        if let prefetch { arguments += ["--prefetch", "\(prefetch)"] }
        try await self.init(id: id, arguments: arguments + extraArguments, ready: "worker ready", launcher: launcher,
                            environment: environment)
    }

    /// Starts a `trib agent` on `workQueue` and waits until it says it is ready.
    static func agent(id: String, workQueue: String, concurrency: Int = 2, shutdownGrace: Int = 30,
                      broker: String = TestBroker.url, extraArguments: [String] = [], launcher: [String] = [],
                      environment: [String: String] = [:]) async throws -> WorkerProcess {
        try await WorkerProcess(id: id, arguments: [
            "agent", "--broker", broker, "--work-queue", workQueue, "--concurrency", "\(concurrency)",
            "--id", id, "--shutdown-grace", "\(shutdownGrace)",
        ] + extraArguments, ready: "agent ready", launcher: launcher, environment: environment)
    }

    /// Starts `trib` with `arguments` and waits until its log says `ready`.
    init(id: String, arguments: [String], ready: String, launcher: [String], environment: [String: String]) async throws {
        self.id = id
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("trib-\(id)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let trib = Self.binDirectory.appendingPathComponent("trib")
        process.executableURL = launcher.first.map { URL(fileURLWithPath: $0) } ?? trib
        process.arguments = (launcher.isEmpty ? [] : Array(launcher.dropFirst()) + [trib.path]) + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        do {
            try await waitForLog(containing: ready, within: .seconds(20))
        } catch {
            // Never leave behind a process that the caller cannot get hold of.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw error
        }
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// How many lines of the log contain `text`.
    func logLines(containing text: String) -> Int {
        log.split(separator: "\n").count { $0.contains(text) }
    }

    func waitForLog(containing text: String, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while !log.contains(text) {
            guard process.isRunning else { throw WorkerProcessError("worker \(id) exited early:\n\(log)") }
            guard ContinuousClock.now < deadline else { throw WorkerProcessError("worker \(id) never logged '\(text)':\n\(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sends SIGKILL: the worker dies at once, holding whatever it held.
    func killHard() async -> Bool {
        guard process.isRunning else { return false }
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(within: .seconds(30))
        guard let ending = process.ending else { return false }
        return ending.reason == .uncaughtSignal && ending.status == SIGKILL
    }

    /// Sends SIGTERM (graceful drain).
    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }

    /// Waits for the process to exit and returns its status, or nil after `limit`.
    func waitForExit(within limit: Duration) async -> Int32? {
        await process.waitForExit(within: limit)
    }

    /// Stops the worker (SIGTERM, then SIGKILL if it lingers). Its log stays readable.
    func stop() async {
        terminate()
        if await waitForExit(within: .seconds(10)) == nil, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = await waitForExit(within: .seconds(5))
        }
    }

    /// Stops the worker and deletes its log.
    func dispose() async {
        await stop()
        try? FileManager.default.removeItem(at: logURL)
    }
}

struct WorkerProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Starts `count` workers on `queue`, runs `body`, and stops them whatever happens.
func withWorkers<T>(_ count: Int, queue: String, concurrency: Int = 4,
                    _ body: ([WorkerProcess]) async throws -> T) async throws -> T {
    var workers: [WorkerProcess] = []
    do {
        for index in 0..<count {
            workers.append(try await WorkerProcess(id: "w\(index)-\(queue.suffix(6))", queue: queue,
                                                   concurrency: concurrency))
        }
    } catch {
        for worker in workers { await worker.dispose() }
        throw error
    }
    return try await withWorkers(workers) { try await body(workers) }
}

/// Runs `body`, then disposes of `workers` whatever happens.
func withWorkers<T>(_ workers: [WorkerProcess], _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        for worker in workers { await worker.dispose() }
        return result
    } catch {
        for worker in workers { await worker.dispose() }
        throw error
    }
}
