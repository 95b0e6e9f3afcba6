import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Tributary
import TributaryServer

/// The server's API under a large store (issue 12): one flow run with `bigRun` task runs among
/// `total` task runs in all (flow runs of 100 otherwise), then p50 and p95 of each kind of read.
struct APILatency {
    let bigRun: Int
    let total: Int
    let requests: Int
    /// A PostgreSQL URL to measure on (an empty database); nil for a SQLite file of its own.
    let database: String?

    func measure() async throws -> [String] {
        let path = database ?? FileManager.default.temporaryDirectory.appendingPathComponent("trib-bench-api-\(UUID()).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await RunStores.open(path)
        try await store.reset()
        let filling = ContinuousClock.now
        var events = 0
        var batch: [RunEvent] = []
        func flush() async throws {
            try await store.record(batch)
            events += batch.count
            batch.removeAll(keepingCapacity: true)
        }
        var flowRuns = 0, taskRuns = 0
        while taskRuns < total {
            let size = flowRuns == 0 ? bigRun : 100
            let flowRunID = "run-\(flowRuns)", time = 1_700_000_000 + Double(flowRuns)
            batch.append(RunEvent(kind: .flowRun, flowRunID: flowRunID, name: "flow-\(flowRuns % 10)", state: "Running",
                                  sequence: 1, time: time))
            for index in 0..<min(size, total - taskRuns) {
                let id = "\(flowRunID).\(index)", begun = time + Double(index) / 1_000
                batch.append(RunEvent(kind: .taskRun, flowRunID: flowRunID, taskRunID: id, name: "square",
                                      state: "Running", attempt: 1, worker: "w", sequence: 2, time: begun))
                batch.append(RunEvent(kind: .taskRun, flowRunID: flowRunID, taskRunID: id, name: "square",
                                      state: index % 50 == 0 ? "Failed" : "Completed", attempt: 1, worker: "w",
                                      sequence: 3, time: begun + Double(index % 13) / 100))
                taskRuns += 1
                if batch.count >= 20_000 { try await flush() }
            }
            batch.append(RunEvent(kind: .flowRun, flowRunID: flowRunID, name: "flow-\(flowRuns % 10)",
                                  state: flowRuns % 7 == 0 ? "Failed" : "Completed", sequence: 4, time: time + 60))
            flowRuns += 1
        }
        try await flush()
        let fillSeconds = filling.duration(to: .now).timeInterval
        await store.close()
        let server = try await HelperProcess("trib", ["server", "start", "--port", "0", "--database", path],
                                             readyText: "server ready", label: "api-server")
        let api = try await server.serverAPIURL()
        // A cursor half-way through the big run, by start and by duration.
        let middle = try await cursor(api + "/flow-runs/run-0/task-runs?limit=1000", pages: bigRun / 2_000)
        let middleByDuration = try await cursor(api + "/flow-runs/run-0/task-runs?limit=1000&sort=duration",
                                                pages: bigRun / 2_000)
        let reads: [(String, String)] = [
            ("flow runs, filtered (state=Failed&flow=flow-3, 50)", "/flow-runs?state=Failed&flow=flow-3&limit=50"),
            ("flow runs, newest 50", "/flow-runs?limit=50"),
            ("one flow run with task-run counts by state (\(bigRun) task runs)", "/flow-runs/run-0"),
            ("a page of 100 task runs by start, half-way through", "/flow-runs/run-0/task-runs?limit=100&cursor=\(middle)"),
            ("a page of 100 task runs by duration, half-way through",
             "/flow-runs/run-0/task-runs?limit=100&sort=duration&cursor=\(middleByDuration)"),
            ("a page of 100 Failed task runs", "/flow-runs/run-0/task-runs?limit=100&state=Failed"),
        ]
        var lines = [
            "api (\(database == nil ? "SQLite" : "PostgreSQL")): \(taskRuns) task runs in \(flowRuns) flow runs (one of \(bigRun)), \(events) events recorded in-process "
                + "in \(String(format: "%.1f", fillSeconds)) s (\(Int(Double(events) / fillSeconds)) events/s); "
                + "\(requests) requests each, one at a time",
        ]
        for (label, path) in reads {
            var times: [Double] = []
            for _ in 0..<requests {
                let started = ContinuousClock.now
                let (_, response) = try await URLSession.shared.data(from: URL(string: api + path)!)
                guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("\(path) was not 200") }
                times.append(started.duration(to: .now).timeInterval * 1_000)
            }
            times.sort()
            lines.append("  \(label): p50 \(String(format: "%.1f", times[times.count / 2])) ms, "
                + "p95 \(String(format: "%.1f", times[min(times.count - 1, times.count * 95 / 100)])) ms")
        }
        await server.stop()
        return lines
    }

    /// The cursor after `pages` pages of `url`.
    private func cursor(_ url: String, pages: Int) async throws -> String {
        struct Page: Decodable { var nextCursor: String? }
        var cursor: String?
        for _ in 0..<max(1, pages) {
            let (body, _) = try await URLSession.shared.data(from: URL(string: url + (cursor.map { "&cursor=\($0)" } ?? ""))!)
            cursor = try JSONDecoder().decode(Page.self, from: body).nextCursor
        }
        return cursor ?? ""
    }
}
