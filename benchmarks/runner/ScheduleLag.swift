import AMQPClient
import Foundation
import Glibc
import Tributary
import TributaryServer

/// Scheduling at scale (issue 14): `deployments` deployments on one interval (all due at the same
/// instants, the hardest case), applied with `trib deploy` to a server on a SQLite file of its own,
/// run by `agents` agents for `duration` seconds. For every run: how late its message reached its
/// work queue (its Pending state, which the server's client records once the broker confirmed the
/// push) and how late an agent started it, after its scheduled time; and the server's CPU.
struct ScheduleLag {
    let broker: String
    let deployments: Int
    let interval: Int
    let duration: Int
    let agents: Int
    let agentConcurrency: Int

    func measure() async throws -> [String] {
        let tag = UUID().uuidString.prefix(8).lowercased()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trib-bench-schedule-\(tag)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("store.db").path, workQueue = "bench-schedule-\(tag)"
        let eventsQueue = "trib.events.bench-\(tag)"
        let server = try await HelperProcess("trib", ["server", "start", "--port", "0", "--database", database,
                                                      "--broker", broker, "--events-queue", eventsQueue],
                                             readyText: "recording events", label: "schedule-server")
        var pool: [HelperProcess] = []
        for index in 0..<agents {
            pool.append(try await HelperProcess("trib", ["agent", "--broker", broker, "--work-queue", workQueue,
                                                         "--concurrency", "\(agentConcurrency)", "--id", "bench-agent-\(index)"],
                                                readyText: "agent ready", label: "schedule-agent"))
        }
        let api = try await server.serverAPIURL()
        let file = folder.appendingPathComponent("tributary.yaml")
        try deploymentFile(workQueue: workQueue).write(to: file, atomically: true, encoding: .utf8)
        let deployStarted = Date()
        let deployOutput = try runToCompletion("trib", ["deploy", "--file", file.path, "--api-url", api])
        guard deployOutput.contains("created") else { throw BenchError("trib deploy failed: \(deployOutput)") }
        let deploySeconds = Date().timeIntervalSince(deployStarted)

        let pid = server.process.processIdentifier
        let cpuBefore = Self.cpuSeconds(pid: pid), heldFrom = Date()
        try await Task.sleep(for: .seconds(duration))
        let cpu = Self.cpuSeconds(pid: pid) - cpuBefore, held = Date().timeIntervalSince(heldFrom)
        let cutoff = heldFrom.timeIntervalSince1970 + Double(duration)
        // Let the last runs start and their events arrive before reading the store: a due time can
        // fall just before the window ends, and its last runs start seconds after it (5 s left 100
        // of 1,000 unstarted once).
        try await Task.sleep(for: .seconds(15))
        for agent in pool { await agent.stop() }
        await server.stop()
        // Left bound, the events queues would keep every later client's events, and the work queue its runs.
        let connection = try await AMQPConnection.connect(url: broker)
        for queue in [eventsQueue, eventsQueue + ".logs", AMQPBroker.amqpQueue(forWorkQueue: workQueue)] {
            try await connection.delete(queue: queue)
        }
        await connection.close()

        let store = try await RunStores.open(database)
        var pushed: [Double] = [], started: [Double] = [], due = 0, notPushed = 0, notStarted = 0
        for deployment in try await store.deployments() {
            for run in try await store.scheduledRuns(deploymentID: deployment.id, upcoming: false, limit: 10_000)
                where run.scheduledAt >= heldFrom.timeIntervalSince1970 && run.scheduledAt <= cutoff {
                due += 1
                guard let submitted = run.submittedAt else { notPushed += 1; continue }
                let detail = try await store.flowRun(id: run.flowRunID)
                // Pending is recorded by the server's client once the broker confirmed the push.
                let confirmed = detail?.states.first { $0.state == "Pending" }?.time ?? submitted
                pushed.append(confirmed - run.scheduledAt)
                if let start = detail?.flowRun.startedAt {
                    started.append(start - run.scheduledAt)
                } else {
                    notStarted += 1
                }
            }
        }
        await store.close()
        let ms = { (values: [Double], q: Double) -> String in
            guard !values.isEmpty else { return "-" }
            let sorted = values.sorted()
            return format(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000, 0)
        }
        return [
            "schedule: \(deployments) deployments every \(interval) s, held \(duration) s; \(agents) agents × "
                + "\(agentConcurrency) flow runs at once (capacity \(agents * agentConcurrency)); trib deploy of the file "
                + "took \(format(deploySeconds, 1)) s",
            "  runs due: \(due); not pushed: \(notPushed); not started: \(notStarted)",
            "  message on its work queue after its time: p50 \(ms(pushed, 0.5)) ms, p99 \(ms(pushed, 0.99)) ms, "
                + "max \(ms(pushed, 1)) ms",
            "  started by an agent after its time: p50 \(ms(started, 0.5)) ms, p99 \(ms(started, 0.99)) ms, "
                + "max \(ms(started, 1)) ms",
            "  server CPU: \(format(cpu, 1)) s over \(format(held, 0)) s (\(format(100 * cpu / held, 1)) % of a core)",
        ]
    }

    /// `deployments` deployments of `checkpoint` (a flow that returns at once) on one interval.
    private func deploymentFile(workQueue: String) -> String {
        var yaml = "deployments:\n"
        for index in 0..<deployments {
            yaml += """
                  - name: bench-\(index)
                    flow: checkpoint
                    workQueue: \(workQueue)
                    parameters: {label: "bench-\(index)"}
                    schedules: [{interval: \(interval)}]

                """
        }
        return yaml
    }

    /// User plus system CPU time of a process so far, from /proc/PID/stat.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
