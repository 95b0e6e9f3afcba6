import AMQPClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import Tributary

/// What recording costs (issue 12): fanout with events off against on with the server stopped
/// (its queue holds them), then on with a server recording; the server's ingestion rate draining
/// what waited, its CPU per event, and how long after a fanout ends its events are all recorded.
struct EventsCost {
    let broker: String
    let n: Int
    let repetitions: Int
    let queue: String
    /// A PostgreSQL URL for the server's store; nil for a SQLite file of its own.
    let database: String?

    static let eventsQueue = "trib.events.bench"

    func measure() async throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("trib-bench-\(UUID()).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) } }
        let database = self.database ?? file
        let connection = try await AMQPConnection.connect(url: broker)
        // A first start makes the server's queues; then they hold what clients send while it is down.
        try await startServer(database: database).stop()
        try await connection.purge(queue: Self.eventsQueue)
        try await connection.purge(queue: Self.eventsQueue + ".logs")
        let off = Tributary(broker: broker, logger: BenchCommand.quietLogger, publishesEvents: false)
        let on = Tributary(broker: broker, logger: BenchCommand.quietLogger, publishesEvents: true)
        let offWork = Workloads(client: off, queue: queue, persistent: false)
        let onWork = Workloads(client: on, queue: queue, persistent: false)
        _ = try await offWork.fanout(min(n, 500))
        _ = try await onWork.fanout(min(n, 500))
        try await Task.sleep(for: .milliseconds(200))
        try await connection.purge(queue: Self.eventsQueue)

        var offRates: [Double] = [], stoppedRates: [Double] = []
        for _ in 0..<repetitions {
            offRates.append(try await offWork.fanout(n))
            stoppedRates.append(try await onWork.fanout(n))
        }
        try await Task.sleep(for: .milliseconds(200))
        let waiting = try await connection.inspect(queue: Self.eventsQueue).messages

        // Ingestion: a server starts with everything waiting.
        let drainStart = ContinuousClock.now
        let draining = try await startServer(database: database)
        try await waitUntilDrained(connection, server: draining)
        let drainSeconds = drainStart.duration(to: .now).timeInterval
        let drained = Self.recordedEvents(in: await draining.stopReadingLog())

        let server = try await startServer(database: database)
        let cpuBefore = Self.cpuSeconds(pid: server.process.processIdentifier)

        var recordingRates: [Double] = [], offWhileRecording: [Double] = [], lags: [Double] = []
        for _ in 0..<repetitions {
            offWhileRecording.append(try await offWork.fanout(n))
            recordingRates.append(try await onWork.fanout(n))
            let ended = ContinuousClock.now
            try await waitUntilDrained(connection, server: server)
            lags.append(ended.duration(to: .now).timeInterval)
        }
        let cpu = Self.cpuSeconds(pid: server.process.processIdentifier) - cpuBefore
        let during = Self.recordedEvents(in: await server.stopReadingLog())
        await off.close()
        await on.close()
        // Left bound, the queues would keep every later client's events.
        try await connection.delete(queue: Self.eventsQueue)
        try await connection.delete(queue: Self.eventsQueue + ".logs")
        await connection.close()
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        return [
            "events: fanout of \(n) transient tasks, \(repetitions) repetitions each, medians; events per fanout "
                + "\(during / max(repetitions, 1))",
            "  events off:                      \(Int(median(offRates))) tasks/s",
            "  events on, server stopped:       \(Int(median(stoppedRates))) tasks/s "
                + "(\(String(format: "%.2f", median(stoppedRates) / median(offRates))) × off)",
            "  events off, server recording:    \(Int(median(offWhileRecording))) tasks/s",
            "  events on, server recording:     \(Int(median(recordingRates))) tasks/s "
                + "(\(String(format: "%.2f", median(recordingRates) / median(offRates))) × off with the server stopped)",
            "  ingestion (\(self.database == nil ? "SQLite" : "PostgreSQL")) of what waited: \(drained) events in \(waiting) batches in "
                + "\(String(format: "%.2f", drainSeconds)) s from the server's start = "
                + "\(Int(Double(drained) / drainSeconds)) events/s",
            "  server CPU while recording:      \(String(format: "%.1f", cpu / Double(max(during, 1)) * 1e6)) µs per event",
            "  lag after a fanout ends until its events are all recorded: median "
                + "\(String(format: "%.3f", median(lags))) s, max \(String(format: "%.3f", lags.max() ?? 0)) s",
        ]
    }

    private func startServer(database: String) async throws -> HelperProcess {
        try await HelperProcess("trib", ["server", "start", "--port", "0", "--database", database, "--broker", broker,
                                         "--events-queue", Self.eventsQueue],
                                readyText: "recording events", label: "server")
    }

    /// Until the server's queue has no message ready and the server holds none unrecorded, twice in a row.
    private func waitUntilDrained(_ connection: AMQPConnection, server: HelperProcess) async throws {
        struct Health: Decodable {
            struct Ingest: Decodable { var heldBatches: Int }
            var ingest: Ingest?
        }
        guard let url = URL(string: try await server.serverAPIURL() + "/health") else {
            throw BenchError("the server logged an API address that is not a URL")
        }
        let deadline = ContinuousClock.now + .seconds(300)
        var quiet = 0
        while quiet < 2 {
            guard ContinuousClock.now < deadline else { throw BenchError("the server never drained its events queue") }
            let ready = try await connection.inspect(queue: Self.eventsQueue).messages
            let (body, _) = try await URLSession.shared.data(from: url)
            let held = try JSONDecoder().decode(Health.self, from: body).ingest?.heldBatches ?? 0
            quiet = ready == 0 && held == 0 ? quiet + 1 : 0
            if quiet < 2 { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// The events a server's log says it recorded, when it stopped.
    private static func recordedEvents(in log: String) -> Int {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("stopped recording events") }),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix("events=") }),
              let count = Int(field.dropFirst("events=".count)) else { return 0 }
        return count
    }

    /// User and system CPU of a process so far, from /proc.
    private static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields 14 and 15 of the line (utime, stime); after the name, they are the 12th and 13th.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
