import Foundation
import Logging
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Task run names and logs shipped from workers, over RabbitMQ")
struct RunNameAndLogTests {
    @Test("a run-name template is filled from the input and shown in futures and events; a field the input lacks is a clear error")
    func runNames() async throws {
        let queue = TestBroker.uniqueQueue("runname")
        let names = Mutex<Set<String>>([])
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url, onEvent: { event in
                if let name = event.runName { names.withLock { _ = $0.insert(name) } }
            })
            let (futureNames, bad) = try await client.run(flowNamed: "names") { flow in
                let naps = await flow.map(Nap.self, over: [5, 6].map { Nap.Input(milliseconds: $0) },
                                          options: TaskOptions(queue: queue, runName: "nap-{milliseconds}ms"))
                _ = try await naps.values()
                let square = await flow.submit(Square.self, 7, options: TaskOptions(queue: queue, runName: "square-{input}"))
                _ = try await square.value
                let bad = await flow.submit(Nap.self, Nap.Input(milliseconds: 1),
                                            options: TaskOptions(queue: queue, runName: "nap-{seconds}"))
                return (naps.map(\.runName) + [square.runName], await bad.state)
            }
            await client.close()
            #expect(futureNames == ["nap-5ms", "nap-6ms", "square-7"])
            #expect(names.withLock { $0 } == ["nap-5ms", "nap-6ms", "square-7"])
            #expect(bad.name == "Failed")
            #expect(bad.failure?.message.contains("names 'seconds', which its input does not have (fields: milliseconds, onlyUpToAttempt)") == true)
        }
    }

    @Test("what a task logs on a worker shows in the flow's log, in order, with the worker's id; a flood is cut off and counted")
    func logsTravelBack() async throws {
        let queue = TestBroker.uniqueQueue("logs")
        let lines = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
        let worker = try await WorkerProcess(id: "chatty-\(queue.suffix(6))", queue: queue)
        try await withWorkers([worker]) {
            try await Self.runChattyFlow(queue: queue, logger: logger)
        }
        let shipped = lines.all.filter { $0.worker != nil }
        let quiet = shipped.filter { $0.message.hasPrefix("row batch") }
        #expect(quiet.map(\.message) == ["row batch 1", "row batch 2", "row batch 3"])
        #expect(quiet.allSatisfy { $0.worker == worker.id && $0.runName == "batch" })
        let flood = shipped.filter { $0.message.hasPrefix("xxx") }
        #expect(flood.count > 100 && flood.count < 5_000, "bounded: \(flood.count) of 5000 lines shipped")
        #expect(shipped.contains { $0.message.contains("more log lines were not shipped") })
    }

    private static func runChattyFlow(queue: String, logger: Logger) async throws {
        let client = Tributary(broker: TestBroker.url, logger: logger)
        _ = try await client.run(flowNamed: "chatty") { flow in
            let quiet = try await flow.call(Chatty.self, Chatty.Input(count: 3, text: "row batch"),
                                            options: TaskOptions(queue: queue, runName: "batch"))
            let flood = try await flow.call(Chatty.self, Chatty.Input(count: 5_000, text: String(repeating: "x", count: 40)),
                                            options: TaskOptions(queue: queue))
            return quiet + flood
        }
        await client.close()
    }
}

/// One log line a test kept, with the metadata it looks at.
struct CapturedLine: Sendable {
    let message: String
    let worker: String?
    let runName: String?
}

/// Log lines kept by ``CapturingLogHandler``.
final class CapturedLines: Sendable {
    private let lines = Mutex<[CapturedLine]>([])
    var all: [CapturedLine] { lines.withLock { $0 } }
    func append(_ line: CapturedLine) { lines.withLock { $0.append(line) } }
}

/// Keeps every log line at info or above, with the metadata of the handler and the call merged.
struct CapturingLogHandler: LogHandler {
    let lines: CapturedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.append(CapturedLine(message: "\(event.message)", worker: merged["worker"]?.description,
                                  runName: merged["task-run-name"]?.description))
    }
}
