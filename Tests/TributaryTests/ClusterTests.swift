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
        var workers: [WorkerProcess] = []
        for index in 0..<3 {
            workers.append(try await WorkerProcess(id: "lab-w\(index)-\(queue.suffix(6))", queue: queue, concurrency: 16,
                                                   broker: try await ClusterLab.url(first: index),
                                                   launcher: ClusterLab.launcher("worker\(index + 1)")))
        }
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
}
