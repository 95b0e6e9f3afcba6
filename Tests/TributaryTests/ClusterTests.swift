import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

/// A RabbitMQ cluster of three nodes with quorum queues, and workers on hosts of their own (the lab
/// of deploy/cluster.sh, built once for the suite).
@Suite("A RabbitMQ cluster: nodes and hosts that come and go", .serialized,
       .enabled(if: ClusterLab.unavailableReason == nil, ClusterLab.unavailableReason.map { Comment(rawValue: $0) }))
struct ClusterTests {
    @Test("kill -9 the node that leads the task queue mid-way through a 5,000-task fanout: every result is right")
    func leaderKilledMidFanout() async throws {
        let queue = TestBroker.uniqueQueue("cluster")
        let workers = try await ClusterLab.workers(3, queue: queue, concurrency: 16)
        try await withWorkers(workers) {
            // The workers made the task queue: its leader is known before the fanout starts.
            let leader = try await ClusterLab.leader(of: "trib.q.\(queue)")
            let client = Tributary(broker: try await ClusterLab.url(first: 1))
            let done = Atomic<Bool>(false)
            let fanout = Task {
                defer { done.store(true, ordering: .relaxed) }
                return try await client.run(flowNamed: "cluster-fanout") { flow in
                    try await flow.map(SlowIncrement.self, over: (0..<5_000).map { .init(value: $0, milliseconds: 30) },
                                       options: TaskOptions(queue: queue)).values().reduce(0, +)
                }
            }
            // Mid-way: 5,000 tasks of 30 ms on 48 task slots take 3 s at the least.
            try await Task.sleep(for: .seconds(1))
            try await ClusterLab.run(["kill-node", leader])
            let endedBeforeKill = done.load(ordering: .relaxed)
            #expect(!endedBeforeKill, "the node was killed while the fanout ran")
            let total = try await value(of: fanout, "the fanout after its queue's leader was killed", within: .seconds(240))
            #expect(total == (1...5_000).reduce(0, +), "every result arrived, once")
            let duplicates = client.statistics.duplicateResultsIgnored
            print("cluster fanout: leader \(leader) killed mid-way; \(duplicates) duplicate results absorbed")
            await client.close()
            try await ClusterLab.run(["start-node", leader])
        }
    }

    @Test("cut a worker's host off the network mid-flow and bring it back: the tasks it held go to the other worker, every result is right, and the worker serves again once back")
    func workerHostCut() async throws {
        let queue = TestBroker.uniqueQueue("labcut")
        func worker(_ id: String, host: Int) async throws -> WorkerProcess {
            // Heartbeats 2 s apart: the broker notices the cut within seconds.
            let url = try await ClusterLab.url(first: host).replacingOccurrences(of: "heartbeat=5", with: "heartbeat=2")
            return try await WorkerProcess(id: "\(id)-\(queue.suffix(6))", queue: queue, concurrency: 4, prefetch: 10,
                                           broker: url, launcher: ClusterLab.launcher("worker\(host + 1)"))
        }
        let cutWorker = try await worker("cut", host: 0), otherWorker = try await worker("other", host: 1)
        let client = Tributary(broker: try await ClusterLab.url(first: 2))
        try await withWorkers([cutWorker, otherWorker]) {
            let n = 300
            let reports = try await client.run(flowNamed: "lab-cut") { flow in
                let futures = await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 100), count: n),
                                             options: TaskOptions(queue: queue))
                // Cut once the worker to be cut off has run some: it holds its prefetch then.
                try await waitUntil("some tasks run by the worker to be cut off", within: .seconds(60)) {
                    var byCutWorker = 0
                    for future in futures where future.currentState.isCompleted {
                        if try await future.value.workerID == cutWorker.id { byCutWorker += 1 }
                    }
                    return byCutWorker >= 8
                }
                try await ClusterLab.run(["cut", "worker1"])
                do {
                    try await waitUntil("the cluster to drop the cut-off worker's consumer", within: .seconds(60)) {
                        try await ClusterLab.consumers(of: "trib.q.\(queue)") == 1
                    }
                    let reports = try await futures.values()
                    try await ClusterLab.run(["restore", "worker1"])
                    return reports
                } catch {
                    // The lab is shared by the suite's tests: never leave a host cut off.
                    try await ClusterLab.run(["restore", "worker1"])
                    throw error
                }
            }
            let redelivered = reports.filter { $0.deliveries > 1 }
            print("cluster host cut: \(redelivered.count) tasks redelivered to the other worker, "
                + "\(client.statistics.duplicateResultsIgnored) duplicate results absorbed")
            #expect(reports.count == n, "one result per task")
            #expect(!redelivered.isEmpty, "tasks the cut-off worker held were handed out again")
            #expect(redelivered.allSatisfy { $0.workerID == otherWorker.id }, "and the other worker ran them")

            try await waitUntil("the cut-off worker to reconnect", within: .seconds(90)) {
                cutWorker.log.contains("reconnected to the broker")
            }
            // With the other worker gone, only the one that was cut off can run the next flow.
            await otherWorker.stop()
            let after = try await value(of: Task {
                try await client.run(flowNamed: "lab-cut-after") { flow in
                    try await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 10), count: 20),
                                       options: TaskOptions(queue: queue)).values()
                }
            }, "a flow on the worker that was cut off, once back", within: .seconds(60))
            #expect(after.allSatisfy { $0.workerID == cutWorker.id }, "the worker that was cut off serves again")
            #expect(cutWorker.process.isRunning, "the worker that was cut off did not crash")
        }
        await client.close()
    }

    @Test("kill -9 the agent running a flow run on one host: an agent on another host, on another broker node, resumes it from its journal; no task that had finished runs again")
    func agentKilledRunResumedOnAnotherHost() async throws {
        let queue = TestBroker.uniqueQueue("labresume"), workQueue = TestBroker.uniqueQueue("labwq")
        let path = AgentResumeTests.temporaryPath("lab-resume")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let workers = try await ClusterLab.workers(2, queue: queue, concurrency: 8, firstHost: 2)
        // Each agent connects to a node of its own first (r1, r2).
        var agents: [WorkerProcess] = []
        for index in 0..<2 {
            agents.append(try await WorkerProcess.agent(id: "lab-a\(index)-\(workQueue.suffix(6))", workQueue: workQueue,
                                                        broker: try await ClusterLab.url(first: index),
                                                        launcher: ClusterLab.launcher("agent\(index + 1)")))
        }
        try await withWorkers(workers + agents) {
            let client = Tributary(broker: try await ClusterLab.url(first: 2))
            // 12 chunks of 10 tasks of 300 ms: seconds of run left after the kill.
            let handle = try await client.submit(RecordedFanout.self, RecordedFanout.Input(
                count: 120, chunk: 10, milliseconds: 300, queue: queue, path: path), workQueue: workQueue)
            try await waitUntil("30 tasks finished", within: .seconds(60)) {
                AgentResumeTests.executions(in: path).count >= 30
            }
            let runner = try await handle.status().agentID
            let victim = try #require(agents.first { $0.id == runner }), survivor = try #require(agents.first { $0.id != runner })
            let finishedBeforeKill = Set(AgentResumeTests.executions(in: path))
            #expect(await victim.killHard())
            #expect(finishedBeforeKill.count < 120, "the run was half done when its agent was killed")
            let total = try await value(of: Task { try await handle.result() }, "the resumed run", within: .seconds(120))
            #expect(total == (0..<120).reduce(0, +))
            #expect(try await handle.status().agentID == survivor.id, "the agent on the other host finished it")
            #expect(survivor.logLines(containing: "resuming the flow run from its journal") == 1)
            let runs = Dictionary(grouping: AgentResumeTests.executions(in: path), by: { $0 }).mapValues(\.count)
            #expect(Set(runs.keys) == Set(0..<120), "every task ran")
            let again = finishedBeforeKill.filter { runs[$0]! > 1 }.sorted()
            #expect(again.isEmpty, "tasks that had finished before the kill ran again: \(again)")
            await client.close()
        }
    }

    @Test("restart every broker node one at a time, as a rolling upgrade does, while a flow runs batch after batch: it completes with every result right")
    func rollingRestart() async throws {
        let queue = TestBroker.uniqueQueue("labroll")
        let workers = try await ClusterLab.workers(3, queue: queue, concurrency: 8)
        try await withWorkers(workers) {
            let client = Tributary(broker: try await ClusterLab.url(first: 0))
            let restarted = Atomic<Bool>(false)
            // Batches of 40 tasks, one after the other, until every node has been restarted.
            let flow = Task {
                try await client.run(flowNamed: "lab-rolling-restart") { flow in
                    var sums: [Int] = []
                    while sums.count < 3 || !restarted.load(ordering: .relaxed) {
                        let base = sums.count * 1_000
                        let batch = (0..<40).map { SlowIncrement.Input(value: base + $0, milliseconds: 20) }
                        sums.append(try await flow.map(SlowIncrement.self, over: batch,
                                                       options: TaskOptions(queue: queue)).values().reduce(0, +))
                    }
                    return sums
                }
            }
            for node in ClusterLab.nodes {
                let before = try ClusterLab.pid(of: node)
                try await ClusterLab.run(["restart-node", node])
                #expect(try ClusterLab.pid(of: node) != before, "node \(node) was stopped and started again")
            }
            restarted.store(true, ordering: .relaxed)
            let sums = try await value(of: flow, "the flow after the rolling restart", within: .seconds(120))
            let expected = sums.indices.map { batch in (0..<40).reduce(0) { $0 + batch * 1_000 + $1 + 1 } }
            print("cluster rolling restart: \(sums.count) batches of 40 tasks; "
                + "\(client.statistics.duplicateResultsIgnored) duplicate results absorbed")
            #expect(sums == expected, "every batch's results right")
            #expect(workers.allSatisfy { $0.process.isRunning }, "no worker crashed")
            await client.close()
        }
    }
}
