import Foundation
import Hummingbird
import Tributary

extension FlowRunRecord: ResponseEncodable {}
extension FlowRunDetail: ResponseEncodable {}
extension TaskRunRecord: ResponseEncodable {}
extension Page: ResponseEncodable {}

/// The state names a filter takes (Prefect's, and Tributary's Cached and TimedOut).
let stateNames = ["Scheduled", "Late", "Pending", "Running", "Retrying", "Completed", "Cached", "Failed", "Crashed", "Cancelled",
                  "TimedOut"]

/// `/api/flow-runs`: list, one run, its task runs, its logs, cancel.
struct FlowRunRoutes {
    let store: any RunStore
    /// Cancels a run through the broker's control messages; nil when the server has no broker.
    let cancel: (@Sendable (_ flowRunID: String, _ reason: String) async throws -> CancelRequestOutcome)?

    func add(to router: Router<BasicRequestContext>) {
        let group = router.group("api/flow-runs")
        group.get { request, _ -> Page<FlowRunRecord> in
            let parameters = QueryParameters(request: request)
            var query = FlowRunQuery()
            query.states = try parameters.list("state", allowed: stateNames)
            query.flowName = parameters.string("flow")
            query.workQueue = parameters.string("work_queue")
            query.parentFlowRunID = parameters.string("parent")
            query.since = try parameters.time("since")
            query.until = try parameters.time("until")
            query.limit = try parameters.int("limit", default: 50, in: 1...1_000)
            query.cursor = try parameters.cursor()
            let withCounts = try parameters.bool("counts", default: false)
            var page = try await answer { try await store.flowRuns(query) }
            if withCounts {
                let counts = try await store.taskRunCounts(flowRunIDs: page.items.map(\.id))
                for index in page.items.indices { page.items[index].taskRunCounts = counts[page.items[index].id] ?? [:] }
            }
            return page
        }
        group.get("{id}") { _, context -> FlowRunDetail in
            let id = try context.parameters.require("id")
            guard let detail = try await store.flowRun(id: id) else { throw Self.unknown(id) }
            return detail
        }
        group.get("{id}/task-runs") { request, context -> Page<TaskRunRecord> in
            let parameters = QueryParameters(request: request)
            var query = TaskRunQuery(flowRunID: try context.parameters.require("id"))
            query.states = try parameters.list("state", allowed: stateNames)
            query.sort = try parameters.choice("sort", default: TaskRunQuery.Sort.start)
            query.limit = try parameters.int("limit", default: 100, in: 1...1_000)
            query.cursor = try parameters.cursor()
            guard try await store.hasFlowRun(id: query.flowRunID) else { throw Self.unknown(query.flowRunID) }
            return try await answer { try await store.taskRuns(query) }
        }
        group.get("{id}/logs") { request, context -> LogPage in
            let parameters = QueryParameters(request: request)
            var query = LogQuery(flowRunID: try context.parameters.require("id"))
            query.levels = try parameters.list("level", allowed: ["trace", "debug", "info", "notice", "warning",
                                                                  "error", "critical"])
            query.after = Int64(try parameters.int("after", default: 0, in: 0...Int.max))
            query.limit = try parameters.int("limit", default: 200, in: 1...5_000)
            query.taskRunID = try parameters.text("task_run", takes: "a task run's id")
            guard try await store.hasFlowRun(id: query.flowRunID) else { throw Self.unknown(query.flowRunID) }
            return LogPage(logs: try await store.logs(query))
        }
        group.get("{id}/timeline") { request, context -> Timeline in
            let id = try context.parameters.require("id")
            let lane = try QueryParameters(request: request).choice("lane", default: Timeline.Lane.worker)
            guard try await store.hasFlowRun(id: id) else { throw Self.unknown(id) }
            return try await store.timeline(flowRunID: id, lane: lane)
        }
        router.get("api/flow-run-activity") { request, _ -> Activity in
            let parameters = QueryParameters(request: request)
            guard let since = try parameters.time("since") else {
                throw HTTPError(.badRequest, message: "since is missing: give the start, in seconds since 1970")
            }
            guard (0..<1e11).contains(since) else {
                throw HTTPError(.badRequest, message: "since \(since) is not a time from 1970 on: give seconds since 1970, "
                    + "such as 1764720000")
            }
            let bucket = Double(try parameters.int("bucket", default: 900, in: 1...86_400 * 7))
            return Activity(since: since, bucket: bucket, counts: try await store.flowRunActivity(since: since, bucket: bucket))
        }
        group.post("{id}/cancel") { request, context -> CancelAnswer in
            let id = try context.parameters.require("id")
            guard let cancel else {
                throw HTTPError(.serviceUnavailable, message: "this server has no broker (start it with --broker) "
                    + "and cannot reach the run's client")
            }
            let reason = QueryParameters(request: request).string("reason") ?? "cancelled through the server's API"
            switch try await cancel(id, reason) {
            case .cancelled(let flowName): return CancelAnswer(cancelled: true, flowName: flowName)
            case .unanswered: return CancelAnswer(cancelled: false, flowName: nil)
            }
        }
    }

    static func unknown(_ id: String) -> HTTPError {
        HTTPError(.notFound, message: "no flow run '\(id)' is recorded: check the id (`trib flow-run ls` lists them); "
            + "a run is recorded once its first events reach the server")
    }
}

/// A store error that is the caller's (a bad cursor) becomes a 400.
func answer<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as BadQuery {
        throw HTTPError(.badRequest, message: error.description)
    }
}

extension Timeline: ResponseEncodable {}

/// Flow runs created per time slice since `since`, by state now (the dashboard's chart).
struct Activity: ResponseEncodable {
    var since: Double
    var bucket: Double
    var counts: [ActivityCount]
}

struct LogPage: ResponseEncodable {
    var logs: [LogRecord]
}

struct CancelAnswer: ResponseEncodable {
    /// Whether the client running it answered that it cancelled it (its workers drop its tasks either way).
    var cancelled: Bool
    var flowName: String?
}
