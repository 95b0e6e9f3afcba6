import Foundation
import Glibc
import Tributary
import TributaryExamples

/// One long submitted flow run (`recorded-fanout`: `count` tasks in chunks, each task appending
/// its value to a file) whose agent is killed with SIGKILL half-way, with a second agent up: how
/// long from the kill until the resumed run's first new task finished, how long the whole run
/// took, and the resuming agent's peak RSS.
struct Takeover {
    let broker: String
    let queue: String
    let count: Int
    let chunk: Int

    struct Outcome {
        let runSeconds: Double
        let killToFirstNewTaskSeconds: Double
        let tasksDoneAtKill: Int
        let resumingAgentPeakRSS: Int
        let reExecuted: Int
    }

    func measure() async throws -> Outcome {
        let workQueue = "bench-takeover-\(UUID().uuidString.prefix(8))"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-takeover-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        func agent(_ label: String) async throws -> HelperProcess {
            try await HelperProcess("trib", ["agent", "--broker", broker, "--work-queue", workQueue, "--concurrency", "1",
                                             "--id", "takeover-\(label)"], readyText: "agent ready", label: label)
        }
        let first = try await agent("first")
        let client = Tributary(broker: broker, logger: BenchCommand.quietLogger)
        let started = ContinuousClock.now
        let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
            count: count, chunk: chunk, milliseconds: 0, queue: queue, path: path), workQueue: workQueue)
        let file = RecordFile(path: path)
        while file.values().count < count / 2 { try await Task.sleep(for: .milliseconds(5)) }
        // The second agent comes up now, so the first cannot have handed it the run.
        let second = try await agent("second")
        let done = file.values()
        let chunkAtKill = done.count / chunk
        kill(first.process.processIdentifier, SIGKILL)
        let killedAt = ContinuousClock.now
        // The first task of a chunk the first agent never reached is one the resumed run sent.
        var firstNew: ContinuousClock.Instant?
        let watcher = Task {
            while !Task.isCancelled {
                if file.values().contains(where: { $0 >= (chunkAtKill + 1) * chunk }) { return ContinuousClock.now }
                try? await Task.sleep(for: .milliseconds(2))
            }
            return ContinuousClock.now
        }
        guard try await handle.result() == (0..<count).reduce(0, +) else { throw BenchError("takeover: wrong sum") }
        let runSeconds = started.duration(to: .now).timeInterval
        firstNew = await watcher.value
        let executions = file.values()
        var runs: [Int: Int] = [:]
        for value in executions { runs[value, default: 0] += 1 }
        let reExecuted = Set(done).filter { runs[$0, default: 0] > 1 }.count
        let rss = second.peakRSS ?? 0
        await second.stop()
        await first.stop()
        await client.close()
        return Outcome(runSeconds: runSeconds,
                       killToFirstNewTaskSeconds: killedAt.duration(to: firstNew ?? killedAt).timeInterval,
                       tasksDoneAtKill: done.count, resumingAgentPeakRSS: rss, reExecuted: reExecuted)
    }
}

/// The values `record` tasks appended to a file, read as it grows.
final class RecordFile: @unchecked Sendable {
    private let path: String
    private var offset: UInt64 = 0
    private var parsed: [Int] = []
    private var partial = ""
    private let lock = NSLock()

    init(path: String) {
        self.path = path
    }

    func values() -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        guard let handle = FileHandle(forReadingAtPath: path) else { return parsed }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        offset += UInt64(data.count)
        var text = partial + String(decoding: data, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") {
            partial = String(text[text.index(after: lastNewline)...])
            text = String(text[...lastNewline])
        } else {
            partial = text
            text = ""
        }
        parsed += text.split(separator: "\n").compactMap { Int($0) }
        return parsed
    }
}
