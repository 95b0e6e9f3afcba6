import Foundation
import Testing
import Tributary
import TributaryExamples

/// Workers on two "machines" (network namespaces with their own addresses); the broker and the
/// coordinator on a third (the root namespace). Needs root for `ip netns`.
@Suite("Network cut between machines")
struct NetworkCutTests {
    static let user = "trib-netcut"
    static let password = "netcut-pw"
    /// Short heartbeats, so the broker notices the cut worker within seconds.
    static let heartbeatSeconds = 2

    @Test("a worker cut off while holding tasks: they are redelivered to the other worker, the flow completes, and its late results change nothing",
          .enabled(if: NetworkCutTests.namespacesAvailable()))
    func cutWorker() async throws {
        // guest may only connect from localhost; the workers come from other addresses.
        _ = try? await Command.rabbitmqctl(["add_user", Self.user, Self.password])
        try await Command.rabbitmqctl(["set_permissions", "-p", "/", Self.user, ".*", ".*", ".*"])
        let cutHost = try await NetworkNamespace.create(index: 1)
        let otherHost: NetworkNamespace
        do { otherHost = try await NetworkNamespace.create(index: 2) } catch { await cutHost.remove(); throw error }
        do {
            try await cutAndReconnect(cutHost: cutHost, otherHost: otherHost)
        } catch {
            await cutHost.remove()
            await otherHost.remove()
            throw error
        }
        await cutHost.remove()
        await otherHost.remove()
    }

    private func cutAndReconnect(cutHost: NetworkNamespace, otherHost: NetworkNamespace) async throws {

        let queue = TestBroker.uniqueQueue("netcut")
        func worker(_ id: String, on host: NetworkNamespace) async throws -> WorkerProcess {
            let url = "amqp://\(Self.user):\(Self.password)@\(host.gateway):5672/?heartbeat=\(Self.heartbeatSeconds)"
            return try await WorkerProcess(id: id, queue: queue, concurrency: 4, prefetch: 10, broker: url,
                                           launcher: host.launcher)
        }
        let cutWorker = try await worker("cut-\(queue.suffix(6))", on: cutHost)
        let otherWorker = try await worker("other-\(queue.suffix(6))", on: otherHost)

        try await withWorkers([cutWorker, otherWorker]) {
            let client = Tributary(broker: TestBroker.url)
            let n = 300
            let outcome = try await client.run(flowNamed: "netcut") { flow in
                let futures = await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 100), count: n),
                                             options: TaskOptions(queue: queue))
                // Cut once both workers are busy: with 240+ tasks queued, each holds its prefetch.
                try await waitUntil("the first 60 tasks", within: .seconds(60)) {
                    futures.filter { $0.currentState.isCompleted }.count >= 60
                }
                try await cutHost.cut()
                try await waitUntil("the broker to drop the cut-off worker's connection", within: .seconds(60)) {
                    try await !Self.brokerHasConnection(from: cutHost.address)
                }
                // Every task completes while the worker is still cut off.
                let reports = try await futures.values()
                let duplicatesBefore = client.statistics.duplicateResultsIgnored
                try await cutHost.restore()
                try await waitUntil("the cut-off worker to reconnect", within: .seconds(60)) {
                    cutWorker.log.contains("reconnected to the broker")
                }
                let resent = Self.resentCount(in: cutWorker.log)
                try await waitUntil("the late results to arrive", within: .seconds(30)) {
                    client.statistics.duplicateResultsIgnored - duplicatesBefore >= resent
                }
                try await Task.sleep(for: .milliseconds(500))
                return (reports: reports, after: try await futures.values(), resent: resent,
                        late: client.statistics.duplicateResultsIgnored - duplicatesBefore)
            }
            await client.close()
            let redelivered = outcome.reports.filter { $0.deliveries > 1 }
            print("network cut: \(redelivered.count) tasks redelivered to the other worker; the cut-off worker "
                + "re-sent \(outcome.resent) late results on reconnecting, \(outcome.late) absorbed as duplicates")

            #expect(outcome.reports.count == n, "one result per task")
            #expect(!redelivered.isEmpty, "tasks the cut-off worker held were handed out again")
            #expect(redelivered.allSatisfy { $0.workerID == otherWorker.id }, "and the other worker ran them")
            #expect(outcome.resent > 0, "the cut-off worker came back with results it could not deliver")
            #expect(outcome.late == outcome.resent, "every late result was absorbed")
            #expect(outcome.after == outcome.reports, "late results changed nothing")
            #expect(otherWorker.process.isRunning && cutWorker.process.isRunning, "neither worker crashed")
        }
    }

    /// How many unconfirmed publishes a worker re-sent when it reconnected (from its log).
    static func resentCount(in log: String) -> Int {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("reconnected to the broker") }),
              let match = line.firstMatch(of: /resent=(\d+)/) else { return 0 }
        return Int(match.1) ?? 0
    }

    static func namespacesAvailable() -> Bool {
        if let reason = NetworkNamespace.unavailableReason {
            print("skipping the network-cut test: \(reason)")
            return false
        }
        return true
    }

    /// Whether the broker has a connection from `address`.
    static func brokerHasConnection(from address: String) async throws -> Bool {
        try await Command.rabbitmqctl(["list_connections", "--no-table-headers", "peer_host"])
            .split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == address }
    }
}
