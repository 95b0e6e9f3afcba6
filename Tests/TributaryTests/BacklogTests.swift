import Foundation
import Testing
import Tributary

@Suite("Backlog and backpressure")
struct BacklogTests {
    @Test("100,000 tasks for one slow worker: the backlog waits in the broker, and both processes' memory stays bounded")
    func backlogStaysInTheBroker() async throws {
        let n = 100_000
        let queue = TestBroker.uniqueQueue("backlog")
        let worker = try await WorkerProcess(id: "slow-\(queue.suffix(6))", queue: queue, concurrency: 1, prefetch: 100)
        try await withWorkers([worker]) {
            let client = try FlowProcess(flow: "slow-fanout",
                                         input: #"{"count":\#(n),"milliseconds":0,"queue":"\#(queue)"}"#,
                                         logLevel: "warning")
            defer { Task { await client.dispose() } }

            // Sample both processes' peak RSS and the queue's depth in tasks until the client is done:
            // tasks alone, and packs (which hold 2 tasks or more each, so this is a lower bound).
            var clientPeak = 0, workerPeak = 0, deepestBacklog = 0
            while client.process.isRunning {
                clientPeak = max(clientPeak, Self.peakRSS(of: client.process.processIdentifier) ?? 0)
                workerPeak = max(workerPeak, Self.peakRSS(of: worker.process.processIdentifier) ?? 0)
                if let queues = try? await BrokerAdmin.queues() {
                    let alone = queues["trib.q.\(queue)"]?.messages ?? 0, packs = queues["trib.pack.\(queue)"]?.messages ?? 0
                    deepestBacklog = max(deepestBacklog, alone + 2 * packs)
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            let printed = client.output
            print("backlog: \(n) tasks, deepest backlog in the broker at least \(deepestBacklog) tasks, peak RSS "
                + "coordinator \(clientPeak / 1_048_576) MiB, worker \(workerPeak / 1_048_576) MiB")

            #expect(client.process.ending?.status == 0, "the flow failed:\n\(client.log.suffix(2_000))")
            #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines) == "\((1...n).reduce(0, +))",
                    "every task's result, once")
            #expect(deepestBacklog >= n / 16, "the client got far ahead of the worker: the backlog was real")
            #expect(clientPeak > 0 && clientPeak < 250 << 20, "coordinator peak RSS \(clientPeak >> 20) MiB")
            #expect(workerPeak > 0 && workerPeak < 100 << 20, "worker peak RSS \(workerPeak >> 20) MiB")
        }
    }

    /// A process's peak resident set size so far (VmHWM), in bytes.
    static func peakRSS(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kB = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return nil }
        return kB * 1024
    }
}
