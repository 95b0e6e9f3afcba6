import Foundation
import Hummingbird
import Tributary

extension Deployment: ResponseEncodable {}

/// `/api/deployments`: create (or update, by name), list, inspect, pause, resume and delete
/// deployments, and start one of their runs now or at a time of your choosing.
struct DeploymentRoutes {
    let store: any RunStore
    /// Tells the scheduler that deployments or their runs changed, so it looks at once.
    let wake: @Sendable () -> Void

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/deployments") { _, _ -> DeploymentList in
            var items: [DeploymentSummary] = []
            for deployment in try await store.deployments() {
                let next = try await store.scheduledRuns(deploymentID: deployment.id, upcoming: true, limit: 1).first
                items.append(DeploymentSummary(deployment: deployment, nextRunAt: next?.scheduledAt))
            }
            return DeploymentList(items: items)
        }
        router.post("api/deployments") { request, context -> EditedResponse<Deployment> in
            let spec: DeploymentSpec = try await decode(request, context, what: """
                {"name": "NAME", "flow": "FLOW", "parameters": {...}, "workQueue": "default", \
                "schedules": [{"cron": "0 3 * * 1", "timezone": "Europe/Berlin"} or {"interval": 3600}], \
                "tags": [...], "description": "...", "runLimit": 1, "paused": false, "catchup": "latest|all|none"}
                """)
            let existed = try await store.deployment(named: spec.name) != nil
            let deployment = try await saved { try await store.saveDeployment(spec, at: Date().timeIntervalSince1970) }
            wake()
            return EditedResponse(status: existed ? .ok : .created, response: deployment)
        }
        router.get("api/deployments/{name}") { request, context -> DeploymentDetail in
            let deployment = try await find(context)
            let limit = try QueryParameters(request: request).int("limit", default: 10, in: 1...1_000)
            return DeploymentDetail(
                deployment: deployment,
                upcoming: try await store.scheduledRuns(deploymentID: deployment.id, upcoming: true, limit: limit),
                recent: try await store.scheduledRuns(deploymentID: deployment.id, upcoming: false, limit: limit))
        }
        router.delete("api/deployments/{name}") { _, context -> DeletedDeployment in
            let deployment = try await find(context)
            _ = try await store.deleteDeployment(named: deployment.name)
            wake()
            return DeletedDeployment(deleted: deployment.name)
        }
        router.post("api/deployments/{name}/pause") { _, context -> Deployment in
            try await setPaused(true, context, backfill: false)
        }
        router.post("api/deployments/{name}/resume") { request, context -> Deployment in
            let backfill: Bool
            switch request.uri.queryParameters.get("backfill") {
            case nil, "false": backfill = false
            case "true": backfill = true
            case let other?: throw HTTPError(.badRequest, message: "backfill '\(other)' must be true or false")
            }
            return try await setPaused(false, context, backfill: backfill)
        }
        router.post("api/deployments/{name}/runs") { request, context -> EditedResponse<ScheduledRun> in
            let deployment = try await find(context)
            let order: RunOrder = try await decode(request, context, what: """
                {"parameters": {...}, "startAt": "2026-12-24T09:00:00Z"} (both may be left out)
                """)
            let now = Date().timeIntervalSince1970
            let parameters = try order.parameters(over: deployment.parameters)
            let run = NewScheduledRun(flowRunID: UUID().uuidString.lowercased(),
                                      scheduledAt: order.startAt?.timeIntervalSince1970 ?? now,
                                      parameters: parameters, origin: "manual")
            try await store.addScheduledRuns([run], deployment: deployment, through: nil, ifUnchanged: false)
            wake()
            return EditedResponse(status: .created, response: ScheduledRun(
                flowRunID: run.flowRunID, deploymentID: deployment.id, deployment: deployment.name,
                scheduledAt: run.scheduledAt, parameters: parameters, origin: run.origin, status: "waiting",
                state: "Scheduled", submittedAt: nil, claimedAt: nil))
        }
    }

    private func find(_ context: BasicRequestContext) async throws -> Deployment {
        let name = try context.parameters.require("name")
        guard let deployment = try await store.deployment(named: name) else {
            throw HTTPError(.notFound, message: "no deployment '\(name)': `trib deployment ls` lists them")
        }
        return deployment
    }

    private func setPaused(_ paused: Bool, _ context: BasicRequestContext, backfill: Bool) async throws -> Deployment {
        let deployment = try await find(context)
        guard let updated = try await store.setPaused(paused, deployment: deployment.name, backfill: backfill,
                                                      at: Date().timeIntervalSince1970) else {
            throw HTTPError(.notFound, message: "no deployment '\(deployment.name)'")
        }
        wake()
        return updated
    }

    private func saved<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ScheduleError {
            throw HTTPError(.badRequest, message: error.description)
        }
    }

    private func decode<T: Decodable>(_ request: Request, _ context: BasicRequestContext, what: String) async throws -> T {
        do {
            let body = try await request.body.collect(upTo: 1 << 20)
            let bytes = body.readableBytes == 0 ? Data("{}".utf8) : Data(body.readableBytesView)
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch let error as ScheduleError {
            throw HTTPError(.badRequest, message: error.description)
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, message: "the body is not what this takes (\(error.fieldDescription)): \(what)")
        } catch {
            throw HTTPError(.badRequest, message: "the body must be JSON: \(what)")
        }
    }
}

/// A deployment in the list, with when it runs next.
public struct DeploymentSummary: Codable, Sendable {
    public var deployment: Deployment
    public var nextRunAt: Double?
}

/// `GET /api/deployments`.
public struct DeploymentList: ResponseEncodable, Decodable, Sendable {
    public var items: [DeploymentSummary]
}

/// `GET /api/deployments/{name}?limit=10`: one deployment, its next runs (soonest first) and its
/// latest ones pushed or skipped (latest first).
public struct DeploymentDetail: ResponseEncodable, Decodable, Sendable {
    public var deployment: Deployment
    public var upcoming: [ScheduledRun]
    public var recent: [ScheduledRun]
}

extension ScheduledRun: ResponseEncodable {}

struct DeletedDeployment: ResponseEncodable, Decodable {
    var deleted: String
}

/// `POST /api/deployments/{name}/runs`: a run now (or at `startAt`), its parameters over the deployment's.
struct RunOrder: Decodable {
    var parameters: JSONValue?
    var startAt: Date?

    private enum CodingKeys: String, CodingKey { case parameters, startAt }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        parameters = try container.decodeIfPresent(JSONValue.self, forKey: .parameters)
        if let text = try container.decodeIfPresent(String.self, forKey: .startAt) {
            guard let date = ISO8601Time.parse(text) else {
                throw ScheduleError("startAt '\(text)' is not an ISO 8601 time such as 2026-12-24T09:00:00Z")
            }
            startAt = date
        }
    }

    /// The deployment's parameters with these laid over them, name by name (or these alone if
    /// either is not a JSON object).
    func parameters(over defaults: JSONValue) throws -> JSONValue {
        guard let parameters else { return defaults }
        guard case .object(var merged) = defaults, case .object(let overrides) = parameters else { return parameters }
        for (name, value) in overrides { merged[name] = value }
        return .object(merged)
    }
}
