import Hummingbird
import Tributary

/// `/api/work-queues` and `/api/task-queues`: each queue the agents' and workers' heartbeats name,
/// with what waits on it and how many take from it now (a passive declare on the broker).
struct QueueRoutes {
    let store: any RunStore
    let broker: (@Sendable () async throws -> AMQPBroker)?

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/work-queues") { _, _ in
            // The work queues agents serve and deployments use, each with the deployments' runs
            // waiting for their time.
            let scheduled = try await store.upcomingCounts()
            let deployed = Set(try await store.deployments().map(\.workQueue))
            let depths = try await depths(of: .agent, also: deployed) { try await $0.depth(ofWorkQueue: $1) }
            return WorkQueueList(items: depths.map {
                WorkQueueRow(name: $0.name, waiting: $0.waiting, consumers: $0.consumers, scheduled: scheduled[$0.name] ?? 0)
            })
        }
        router.get("api/work-queues/{name}/preview") { request, context -> ScheduledRunList in
            let name = try context.parameters.require("name")
            let limit = try QueryParameters(request: request).int("limit", default: 20, in: 1...1_000)
            return ScheduledRunList(items: try await store.upcomingRuns(workQueue: name, limit: limit))
        }
        router.get("api/task-queues") { _, _ in
            try await QueueList(items: depths(of: .worker) { try await $0.depth(ofTaskQueue: $1) })
        }
    }

    private func depths(of kind: Heartbeat.Kind, also more: Set<String> = [],
                        _ read: @Sendable (AMQPBroker, String) async throws -> QueueDepth?) async throws -> [QueueDepth] {
        guard let broker else {
            throw HTTPError(.serviceUnavailable, message: "this server has no broker (start it with --broker): "
                + "queue depths are read from it")
        }
        let names = Set(try await store.processes(kind).flatMap(\.queues)).union(more).sorted()
        let connection = try await broker()
        var depths: [QueueDepth] = []
        for name in names {
            if let depth = try await read(connection, name) {
                depths.append(depth)
            } else if more.contains(name) {
                depths.append(QueueDepth(name: name, waiting: 0, consumers: 0))
            }
        }
        return depths
    }
}

extension QueueDepth: ResponseEncodable {}

struct QueueList: ResponseEncodable {
    var items: [QueueDepth]
}

/// A work queue: its runs waiting in the broker, its agents, and its deployments' runs waiting for their time.
public struct WorkQueueRow: Codable, Sendable, Equatable {
    public var name: String
    public var waiting: Int
    public var consumers: Int
    public var scheduled: Int
}

/// `GET /api/work-queues`.
public struct WorkQueueList: ResponseEncodable, Decodable, Sendable {
    public var items: [WorkQueueRow]
}

/// `GET /api/work-queues/{name}/preview`: the runs due next on a work queue.
public struct ScheduledRunList: ResponseEncodable, Decodable, Sendable {
    public var items: [ScheduledRun]
}
