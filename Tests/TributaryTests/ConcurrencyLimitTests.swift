import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Concurrency and rate limits, measured from the workers' own start and finish times")
struct ConcurrencyLimitTests {
    /// The most runs that were running at the same moment (a finish and a start at the same
    /// instant do not overlap).
    static func peakOverlap(_ reports: [Nap.Report]) -> Int {
        var edges: [(at: Double, change: Int)] = []
        for report in reports {
            edges.append((report.startedAt, 1))
            edges.append((report.finishedAt, -1))
        }
        edges.sort { (a: (at: Double, change: Int), b: (at: Double, change: Int)) -> Bool in
            a.at != b.at ? a.at < b.at : a.change < b.change
        }
        var running = 0, peak = 0
        for (_, change) in edges {
            running += change
            peak = max(peak, running)
        }
        return peak
    }

    static let nap = Nap.Input(milliseconds: 150)

    @Test("a tag limit on a flow run: at most 2 `db` tasks at once, while untagged tasks run wider")
    func flowRunLimit() async throws {
        let queue = TestBroker.uniqueQueue("taglimit")
        try await withWorkers(2, queue: queue, concurrency: 8) { _ in
            let client = Tributary(broker: TestBroker.url)
            let (db, other) = try await client.run(flowNamed: "tag-limit",
                                                   options: FlowOptions(concurrencyLimits: ["db": 2])) { flow in
                let db = await flow.map(Nap.self, over: Array(repeating: Self.nap, count: 12),
                                        options: TaskOptions(queue: queue, tags: ["db"]))
                let other = await flow.map(Nap.self, over: Array(repeating: Self.nap, count: 12),
                                           options: TaskOptions(queue: queue))
                return (try await db.values(), try await other.values())
            }
            await client.close()
            #expect(Self.peakOverlap(db) == 2, "db tasks at once: \(Self.peakOverlap(db))")
            #expect(Self.peakOverlap(other) > 2, "untagged tasks are not held back")
        }
    }

    @Test("a client-wide tag limit holds across flow runs running at the same time")
    func clientWideLimit() async throws {
        let queue = TestBroker.uniqueQueue("clientlimit")
        try await withWorkers(2, queue: queue, concurrency: 8) { _ in
            let client = Tributary(broker: TestBroker.url, concurrencyLimits: ["db": 3])
            @Sendable func flowRun(_ name: String) async throws -> [Nap.Report] {
                try await client.run(flowNamed: name) { flow in
                    try await flow.map(Nap.self, over: Array(repeating: Self.nap, count: 10),
                                       options: TaskOptions(queue: queue, tags: ["db", "io"])).values()
                }
            }
            async let first = flowRun("first")
            async let second = flowRun("second")
            let all = try await first + second
            await client.close()
            #expect(all.count == 20)
            #expect(Self.peakOverlap(all) == 3, "db tasks at once across both flows: \(Self.peakOverlap(all))")
        }
    }

    @Test("a worker's per-queue limit: at most 2 tasks from the queue at once, though its concurrency is 8")
    func workerQueueLimit() async throws {
        let queue = TestBroker.uniqueQueue("queuelimit")
        let worker = try await WorkerProcess(id: "limited-\(queue.suffix(6))", queue: queue, concurrency: 8,
                                             extraArguments: ["--queue-limit", "\(queue)=2"])
        try await withWorkers([worker]) {
            let client = Tributary(broker: TestBroker.url)
            let reports = try await client.run(flowNamed: "queue-limit") { flow in
                try await flow.map(Nap.self, over: Array(repeating: Self.nap, count: 10),
                                   options: TaskOptions(queue: queue)).values()
            }
            await client.close()
            #expect(Self.peakOverlap(reports) == 2, "tasks at once: \(Self.peakOverlap(reports))")
        }
    }

    @Test("a rate limit: at most 4 `api` runs start in any second, across two workers with room for 16")
    func rateLimit() async throws {
        let queue = TestBroker.uniqueQueue("ratelimit")
        try await withWorkers(2, queue: queue, concurrency: 8) { _ in
            let client = Tributary(broker: TestBroker.url, rateLimits: ["api": .perSecond(4)])
            let reports = try await client.run(flowNamed: "rate-limit") { flow in
                let quick = Nap.Input(milliseconds: 10)
                async let untagged = flow.map(Nap.self, over: Array(repeating: quick, count: 12),
                                              options: TaskOptions(queue: queue)).values()
                let api = try await flow.map(Nap.self, over: Array(repeating: quick, count: 12),
                                             options: TaskOptions(queue: queue, tags: ["api"])).values()
                _ = try await untagged
                return api
            }
            await client.close()
            Self.expectFourPerSecond(reports)
        }
    }

    @Test("a rate limit counts starts, not sends: runs queued before any worker is up do not all start when one comes")
    func rateLimitCountsStarts() async throws {
        let queue = TestBroker.uniqueQueue("ratelate")
        let client = Tributary(broker: TestBroker.url, rateLimits: ["api": .perSecond(4)])
        let flowRun = Task {
            try await client.run(flowNamed: "rate-limit-late") { flow in
                try await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 10), count: 12),
                                   options: TaskOptions(queue: queue, tags: ["api"])).values()
            }
        }
        // Three periods pass with nobody taking from the queue; had the limiter counted sends,
        // every run would be on the queue by now and all 12 would start at once.
        try await Task.sleep(for: .seconds(3))
        let worker = try await WorkerProcess(id: "late-\(queue.suffix(6))", queue: queue, concurrency: 16)
        let reports = try await withWorkers([worker]) { try await flowRun.value }
        await client.close()
        Self.expectFourPerSecond(reports)
    }

    @Test("a rate limit holds in the embedded default too")
    func embeddedRateLimit() async throws {
        let client = Tributary.local(Examples.registry, concurrency: 16, rateLimits: ["api": .perSecond(4)])
        let reports = try await client.run(flowNamed: "rate-limit-embedded") { flow in
            try await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 10), count: 12),
                               options: TaskOptions(tags: ["api"])).values()
        }
        await client.close()
        Self.expectFourPerSecond(reports)
    }

    /// Any 5 of the 12 starts span a second (0.8 s leaves room for the hop from a worker's
    /// start report to the task's first line), and the 12 take two full periods.
    static func expectFourPerSecond(_ reports: [Nap.Report]) {
        let starts = reports.map(\.startedAt).sorted()
        #expect(starts.count == 12)
        let tightestFive = (4..<starts.count).map { starts[$0] - starts[$0 - 4] }.min() ?? 0
        #expect(tightestFive >= 0.8, "5 `api` starts within \(tightestFive) s")
        #expect(starts.last! - starts.first! >= 1.6, "12 starts at 4 a second take two full periods")
    }

    @Test("a rate limit that allows nothing fails the run at submit, naming the tag")
    func impossibleRateLimit() async throws {
        let client = Tributary.local(Examples.registry, rateLimits: ["api": RateLimit(0, per: .seconds(1))])
        let state = try await client.run(flowNamed: "no-rate") { flow in
            await flow.submit(Increment.self, 1, options: TaskOptions(tags: ["api"])).state
        }
        #expect(state.name == "Failed")
        #expect(state.failure?.message.contains("the rate limit of tag 'api' allows 0 runs") == true)
    }

    @Test("a malformed --queue-limit is refused with what to write instead")
    func badQueueLimit() async throws {
        let result = try await Command.trib(["worker", "--broker", TestBroker.url, "--queue-limit", "db"])
        #expect(result.status != 0)
        #expect(result.output.contains("must be QUEUE=N"))
    }
}
