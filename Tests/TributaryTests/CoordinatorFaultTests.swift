import Foundation
import Testing
import Tributary

@Suite("A coordinator that dies", .serialized)
struct CoordinatorFaultTests {
    @Test("killing the client mid-flow leaves the workers running, its queue drained and no orphaned reply queue")
    func clientKilled() async throws {
        let queue = TestBroker.uniqueQueue("orphan")
        let worker = try await WorkerProcess(id: "orphan-\(queue.suffix(6))", queue: queue, concurrency: 4)
        try await withWorkers([worker]) {
            let client = Process()
            client.executableURL = WorkerProcess.binDirectory.appendingPathComponent("trib")
            client.arguments = ["run", "slow-fanout", #"{"count": 100, "milliseconds": 300, "queue": "\#(queue)"}"#,
                                "--broker", TestBroker.url, "--no-progress"]
            // At info level the client logs its flow-run id, which names its reply queue.
            client.environment = ProcessInfo.processInfo.environment.merging(["TRIB_LOG_LEVEL": "info"]) { $1 }
            let output = Pipe(), log = Pipe()
            client.standardOutput = output
            client.standardError = log
            try client.run()
            try await Task.sleep(for: .milliseconds(1_200))
            #expect(client.isRunning, "the flow was still running when its client was killed")
            kill(client.processIdentifier, SIGKILL)
            client.waitUntilExit()
            #expect(client.terminationReason == .uncaughtSignal)
            #expect(output.fileHandleForReading.readDataToEndOfFile().isEmpty, "the flow never printed a result")
            let logged = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let flowRunID = try #require(logged.firstMatch(of: /flow-run=([0-9a-f-]+)/)?.1, "no flow-run id in:\n\(logged)")

            let deadline = ContinuousClock.now + .seconds(30)
            var queues = try await BrokerAdmin.queues()
            while (queues["trib.q.\(queue)"]?.messages ?? 1) > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                queues = try await BrokerAdmin.queues()
            }
            #expect(queues["trib.q.\(queue)"]?.messages == 0, "the worker took every task the dead client left")
            #expect(worker.process.isRunning, "the worker carried on")
            #expect(queues["trib.reply.\(flowRunID)"] == nil, "the dead client's reply queue went away with it")
        }
    }
}
