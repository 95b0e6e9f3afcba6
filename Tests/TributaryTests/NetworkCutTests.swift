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
            // Heartbeats an hour apart: the first goes before the cut, and no other is in flight to
            // be re-sent with the results this test counts.
            return try await WorkerProcess(id: id, queue: queue, concurrency: 4, prefetch: 10, broker: url,
                                           launcher: host.launcher, environment: ["TRIB_HEARTBEAT_INTERVAL": "3600"])
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
                // (On a loaded machine the cut-off worker can be slow to start consuming, and a cut
                // before then would find it holding nothing.)
                try await waitUntil("the first 60 tasks, some run by the worker to be cut off", within: .seconds(60)) {
                    var completed = 0, byCutWorker = 0
                    for future in futures where future.currentState.isCompleted {
                        completed += 1
                        if try await future.value.workerID == cutWorker.id { byCutWorker += 1 }
                    }
                    return completed >= 60 && byCutWorker >= 8
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
                + "re-sent \(outcome.resent) messages of late results on reconnecting, \(outcome.late) results absorbed as duplicates")

            #expect(outcome.reports.count == n, "one result per task")
            #expect(!redelivered.isEmpty, "tasks the cut-off worker held were handed out again")
            #expect(redelivered.allSatisfy { $0.workerID == otherWorker.id }, "and the other worker ran them")
            // The cut-off worker usually comes back with results of tasks that finished during the
            // cut (re-sent on reconnecting: a re-sent message may be a pack of several results); on a
            // loaded machine it can notice the cut first, cancel those tasks (their deliveries are
            // gone) and have none. Either way none may count twice.
            #expect(outcome.late >= outcome.resent && (outcome.late == 0) == (outcome.resent == 0),
                    "every late result was absorbed")
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

/// An agent on a "machine" of its own (a network namespace) cut off while it runs a submitted
/// flow run; another agent, a worker and the broker in the root namespace.
@Suite("Network cut of an agent")
struct AgentNetworkCutTests {
    @Test("an agent cut off mid-run: another agent resumes the run, the cut-off one stops it once it is back and sends nothing for it, and the result is right",
          .enabled(if: NetworkCutTests.namespacesAvailable()))
    func cutAgent() async throws {
        _ = try? await Command.rabbitmqctl(["add_user", NetworkCutTests.user, NetworkCutTests.password])
        try await Command.rabbitmqctl(["set_permissions", "-p", "/", NetworkCutTests.user, ".*", ".*", ".*"])
        let host = try await NetworkNamespace.create(index: 3)
        do {
            try await cutAndResume(host: host)
        } catch {
            await host.remove()
            throw error
        }
        await host.remove()
    }

    private func cutAndResume(host: NetworkNamespace) async throws {
        let queue = TestBroker.uniqueQueue("agentcut"), workQueue = TestBroker.uniqueQueue("wq")
        let path = AgentResumeTests.temporaryPath("agentcut")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let url = "amqp://\(NetworkCutTests.user):\(NetworkCutTests.password)@\(host.gateway):5672/"
            + "?heartbeat=\(NetworkCutTests.heartbeatSeconds)"
        let worker = try await WorkerProcess(id: "w-\(queue.suffix(6))", queue: queue, concurrency: 8)
        let cutAgent = try await WorkerProcess.agent(id: "cut-\(workQueue.suffix(6))", workQueue: workQueue, broker: url,
                                                     extraArguments: ["--ownership-check-interval", "0.5"],
                                                     launcher: host.launcher)
        var processes = [worker, cutAgent]
        do {
            let client = Tributary(broker: TestBroker.url)
            let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
                count: 160, chunk: 8, milliseconds: 600, queue: queue, path: path), workQueue: workQueue)
            try await waitUntil("the cut-off agent's progress", within: .seconds(60)) {
                AgentResumeTests.executions(in: path).count >= 24
            }
            let other = try await WorkerProcess.agent(id: "other-\(workQueue.suffix(6))", workQueue: workQueue)
            processes.append(other)
            try await host.cut()
            try await waitUntil("the broker to drop the cut-off agent's connection", within: .seconds(60)) {
                try await !NetworkCutTests.brokerHasConnection(from: host.address)
            }
            try await waitUntil("the other agent to resume the run", within: .seconds(30)) {
                try await handle.status().agentID == other.id
            }
            let finishedBeforeTakeover = Set(AgentResumeTests.executions(in: path))
            try await host.restore()
            try await waitUntil("the cut-off agent to reconnect", within: .seconds(60)) {
                cutAgent.log.contains("reconnected to the broker")
            }
            try await cutAgent.waitForLog(containing: "another agent has resumed this flow run; stopping it here",
                                          within: .seconds(30))
            #expect(try await handle.result() == (0..<160).reduce(0, +))
            let status = try await handle.status()
            #expect(status.agentID == other.id)
            #expect(status.epoch == 2)
            try await cutAgent.waitForLog(containing: "stopped a flow run another agent has resumed", within: .seconds(30))
            #expect(cutAgent.process.isRunning, "the cut-off agent carries on serving its work queue")
            var runs: [Int: Int] = [:]
            for value in AgentResumeTests.executions(in: path) { runs[value, default: 0] += 1 }
            #expect(Set(runs.keys) == Set(0..<160))
            let again = finishedBeforeTakeover.filter { runs[$0]! > 1 }.sorted()
            #expect(again.isEmpty, "tasks finished before the takeover ran again: \(again)")
            await client.close()
        } catch {
            for process in processes { await process.dispose() }
            throw error
        }
        for process in processes { await process.dispose() }
    }
}
