import Foundation
import Hummingbird
import Prometheus
import Synchronization
import Tributary

/// `GET /metrics`, Prometheus text (swift-prometheus): runs by state from the store, what
/// ingestion has recorded and how far behind it is, and every worker's and agent's own figures as
/// their latest heartbeats carried them, so no worker needs an HTTP server of its own.
struct MetricsRoute {
    let store: any RunStore
    let ingest: EventIngest?

    func add(to router: Router<BasicRequestContext>) {
        let metrics = ServerMetrics()
        router.get("metrics") { _, _ -> Response in
            let text = try await metrics.scrape(store: store, ingest: ingest)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }
}

/// The server's metrics registry, brought up to date at each scrape.
final class ServerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// Counters' values at the last scrape, so each grows by what happened since.
    private let last = Mutex<[String: Int]>([:])

    func scrape(store: any RunStore, ingest: EventIngest?) async throws -> String {
        let counts = try await store.countsByState()
        for state in stateNames {
            gauge("tributary_flow_runs", labels: [("state", state)],
                               help: "Flow runs recorded, by their state now").set(Double(counts.flowRuns[state] ?? 0))
            gauge("tributary_task_runs", labels: [("state", state)],
                               help: "Task runs recorded, by their state now").set(Double(counts.taskRuns[state] ?? 0))
        }
        if let status = ingest?.status {
            advance("tributary_events_recorded_total", to: status.events, help: "Events recorded since the server started")
            advance("tributary_event_batches_recorded_total", to: status.batches,
                    help: "Batches of events recorded since the server started")
            gauge("tributary_event_batches_held", help: "Batches taken and not yet recorded")
                .set(Double(status.heldBatches))
            gauge("tributary_ingest_lag_seconds",
                               help: "At the last commit, how long before it the newest event it recorded happened")
                .set(status.lagSeconds)
        }
        var durations: [(worker: String, histogram: AttemptDurations)] = []
        for kind in [Heartbeat.Kind.worker, .agent] {
            let unit = kind == .worker ? "tasks" : "flow_runs"
            for process in try await store.processes(kind) {
                if let histogram = process.durations { durations.append((process.id, histogram)) }
                let labels = [(kind.rawValue, process.id)]
                gauge("tributary_\(kind.rawValue)_up", labels: labels,
                                   help: "1 while its heartbeats come, else 0").set(process.alive ? 1.0 : 0.0)
                gauge("tributary_\(kind.rawValue)_\(unit)_running", labels: labels,
                                   help: "What it runs now, at its last heartbeat").set(Double(process.running))
                gauge("tributary_\(kind.rawValue)_\(unit)_completed", labels: labels,
                                   help: "What it completed since it started, at its last heartbeat")
                    .set(Double(process.completed))
                gauge("tributary_\(kind.rawValue)_\(unit)_failed", labels: labels,
                                   help: "What failed on it since it started, at its last heartbeat")
                    .set(Double(process.failed))
            }
        }
        return registry.emitToString() + Self.durationHistograms(durations)
    }

    /// Each worker's task durations as its heartbeat carried them, in Prometheus's histogram text
    /// (written out here: the registry's histograms observe values one by one, and these come counted).
    static func durationHistograms(_ workers: [(worker: String, histogram: AttemptDurations)]) -> String {
        guard !workers.isEmpty else { return "" }
        let name = "tributary_worker_task_duration_seconds"
        var lines = ["# HELP \(name) How long its task attempts took, at its last heartbeat",
                     "# TYPE \(name) histogram"]
        for (worker, histogram) in workers {
            let label = "worker=\"\(escaped(worker))\""
            let bounds = AttemptDurations.bounds.map { "\($0)" } + ["+Inf"]
            for (bound, count) in zip(bounds, histogram.cumulativeCounts) {
                lines.append("\(name)_bucket{\(label),le=\"\(bound)\"} \(count)")
            }
            lines.append("\(name)_sum{\(label)} \(histogram.sum)")
            lines.append("\(name)_count{\(label)} \(histogram.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value as Prometheus's text format writes it.
    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The registry's gauge `name` (with `labels`), made at its first use.
    private func gauge(_ name: String, labels: [(String, String)] = [], help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// The registry's counter `name`, made at its first use.
    private func counter(_ name: String, help: String) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: [])
    }

    private func advance(_ name: String, to value: Int, help: String) {
        let delta = last.withLock { last -> Int in
            defer { last[name] = value }
            return value - (last[name] ?? 0)
        }
        if delta > 0 { counter(name, help: help).increment(by: Int64(delta)) }
        else { _ = counter(name, help: help) }
    }
}
