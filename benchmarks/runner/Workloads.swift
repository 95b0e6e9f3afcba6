import Foundation
import Tributary
import TributaryExamples

/// The workloads of shared/BENCHMARKS.md and `blocking` (tasks that block their thread), run through a Tributary client against workers on `queue`.
struct Workloads {
    let client: Tributary
    let queue: String
    let persistent: Bool
    /// Whether tasks sent at the same time may travel in packs.
    var packing = true

    var options: TaskOptions { TaskOptions(queue: queue, persistent: persistent, packing: packing) }

    /// N tasks `inc(i)`; returns tasks/s from first submit to last result.
    func fanout(_ n: Int) async throws -> Double {
        let options = self.options
        let started = ContinuousClock.now
        let total = try await client.run(flowNamed: "bench-fanout") { flow in
            try await flow.map(Increment.self, over: 0..<n, options: options).values().reduce(0, +)
        }
        let seconds = started.duration(to: .now).timeInterval
        guard total == n * (n + 1) / 2 else { throw BenchError("fanout sum \(total) is wrong") }
        return Double(n) / seconds
    }

    /// `count` strictly sequential `x = inc(x)`; returns the round-trip latencies in µs.
    func chain(_ count: Int) async throws -> [Double] {
        let options = self.options
        let (x, latencies) = try await client.run(flowNamed: "bench-chain") { flow in
            var x = 0
            var latencies: [Double] = []
            for _ in 0..<count {
                let started = ContinuousClock.now
                x = try await flow.call(Increment.self, x, options: options)
                latencies.append(started.duration(to: .now).timeInterval * 1e6)
            }
            return (x, latencies)
        }
        guard x == count else { throw BenchError("chain ended at \(x), not \(count)") }
        return latencies
    }

    /// Map 2,000 `square`, reduce with `sum` over chunks of 100, then a final `sum`; returns seconds.
    func mapReduce(_ n: Int = 2_000, chunk: Int = 100) async throws -> Double {
        let options = self.options
        let started = ContinuousClock.now
        let total = try await client.run(flowNamed: "bench-mapreduce") { flow in
            let squares = try await flow.map(Square.self, over: 0..<n, options: options).values()
            let chunks = stride(from: 0, to: n, by: chunk).map { Array(squares[$0..<min($0 + chunk, n)]) }
            let partials = try await flow.map(Sum.self, over: chunks, options: options).values()
            return try await flow.call(Sum.self, partials, options: options)
        }
        let seconds = started.duration(to: .now).timeInterval
        guard total == (0..<n).reduce(0, { $0 + $1 * $1 }) else { throw BenchError("mapreduce answer \(total) is wrong") }
        return seconds
    }

    /// 2,000 tasks that fail on attempt 1 and succeed on attempt 2 (zero delay); returns tasks/s.
    func retry(_ n: Int = 2_000) async throws -> Double {
        var options = self.options
        options.retries = 1
        let started = ContinuousClock.now
        let values = try await client.run(flowNamed: "bench-retry") { [options] flow in
            try await flow.map(Flaky.self, over: (0..<n).map { Flaky.Input(succeedOnAttempt: 2, value: $0) },
                               options: options).values()
        }
        let seconds = started.duration(to: .now).timeInterval
        guard values == Array(0..<n) else { throw BenchError("retry: not all \(n) tasks completed") }
        return Double(n) / seconds
    }

    /// `count` tasks each burning `iterations` (~10 ms); returns wall seconds.
    func cpu(_ count: Int = 200, iterations: Int) async throws -> Double {
        let options = self.options
        let started = ContinuousClock.now
        let results = try await client.run(flowNamed: "bench-cpu") { flow in
            try await flow.map(Burn.self, over: Array(repeating: iterations, count: count), options: options).values()
        }
        guard results.count == count else { throw BenchError("cpu: \(results.count) results") }
        return started.duration(to: .now).timeInterval
    }

    /// `count` tasks each blocking its thread `milliseconds` in a C call (`usleep`), as a
    /// synchronous driver would; returns wall seconds.
    func blocking(_ count: Int = 200, milliseconds: Int = 50) async throws -> Double {
        let options = self.options
        let started = ContinuousClock.now
        let reports = try await client.run(flowNamed: "bench-blocking") { flow in
            try await flow.map(BlockingNap.self, over: Array(repeating: Nap.Input(milliseconds: milliseconds), count: count),
                               options: options).values()
        }
        guard reports.count == count else { throw BenchError("blocking: \(reports.count) results") }
        return started.duration(to: .now).timeInterval
    }

    /// `count` runs of `slow-fanout` with 5 instant tasks, submitted at once to the agents serving
    /// `workQueue`; returns flow runs/s from the first submit to the last final status, and each
    /// run's milliseconds from its submit to its final status (the time on its board).
    func flows(_ count: Int, workQueue: String) async throws -> (rate: Double, latencies: [Double]) {
        let input = SlowFanout.Input(count: 5, milliseconds: 0, queue: queue, persistent: persistent)
        let started = Date()
        let client = self.client
        // Submitted from 32 tasks at once, as a burst of callers would.
        let submitted = try await withThrowingTaskGroup(of: [(handle: FlowRunHandle<Int>, at: Date)].self) { group in
            for lane in 0..<32 {
                group.addTask {
                    var mine: [(handle: FlowRunHandle<Int>, at: Date)] = []
                    for _ in stride(from: lane, to: count, by: 32) {
                        let at = Date()
                        mine.append((try await client.submit(SlowFanout.self, input, workQueue: workQueue), at))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        var latencies: [Double] = [], last = started
        for (handle, at) in submitted {
            guard try await handle.result() == 15 else { throw BenchError("flows: a run's sum is wrong") }
            let ended = try await handle.status().updatedAt
            latencies.append(ended.timeIntervalSince(at) * 1000)
            last = max(last, ended)
        }
        return (Double(count) / last.timeIntervalSince(started), latencies)
    }

    /// `count` runs of the same small flow one after another on idle agents; returns each run's
    /// milliseconds from submit to `result()` returning.
    func flowLatency(_ count: Int, workQueue: String) async throws -> [Double] {
        let input = SlowFanout.Input(count: 5, milliseconds: 0, queue: queue, persistent: persistent)
        var latencies: [Double] = []
        for _ in 0..<count {
            let started = ContinuousClock.now
            guard try await client.submit(SlowFanout.self, input, workQueue: workQueue).result() == 15 else {
                throw BenchError("flow latency: a run's sum is wrong")
            }
            latencies.append(started.duration(to: .now).timeInterval * 1000)
        }
        return latencies
    }

    /// A fanout of `n` instant tasks in one flow run, submitted to an agent (journaled), and the
    /// same flow through `client.run` in this process; returns tasks/s of each.
    func agentFanout(_ n: Int, workQueue: String) async throws -> (submitted: Double, direct: Double) {
        let input = SlowFanout.Input(count: n, milliseconds: 0, queue: queue, persistent: persistent)
        let expected = n * (n + 1) / 2
        var started = ContinuousClock.now
        guard try await client.submit(SlowFanout.self, input, workQueue: workQueue).result() == expected else {
            throw BenchError("agent fanout: wrong sum")
        }
        let submitted = Double(n) / started.duration(to: .now).timeInterval
        started = ContinuousClock.now
        guard try await client.run(SlowFanout.self, input) == expected else { throw BenchError("fanout: wrong sum") }
        return (submitted, Double(n) / started.duration(to: .now).timeInterval)
    }

    /// Loop iterations that take about `target` on this machine, measured in this process.
    static func calibrateBurn(target: Duration = .milliseconds(10)) -> Int {
        var iterations = 100_000
        var checksum: UInt64 = 0
        while iterations < 1 << 40 {
            let started = ContinuousClock.now
            checksum ^= Burn.spin(iterations)
            let took = started.duration(to: .now)
            if took >= .milliseconds(5) { break }
            iterations *= 4
        }
        // Time the found size a few times and keep the fastest (the least disturbed), so a task is
        // never shorter than `target`; using the checksum keeps the loop from being optimised away.
        var took = Duration.seconds(1_000)
        for _ in 0..<5 {
            let started = ContinuousClock.now
            checksum ^= Burn.spin(iterations)
            took = min(took, started.duration(to: .now))
        }
        if checksum == 0x5EED { FileHandle.standardError.write(Data("checksum\n".utf8)) }
        return Int(Double(iterations) * (target / took))
    }
}
