import Hummingbird
import Tributary

/// `/api/work-queues` and `/api/task-queues`: each queue the agents' and workers' heartbeats name,
/// with what waits on it and how many take from it now (a passive declare on the broker).
struct QueueRoutes {
    let store: any RunStore
    let broker: (@Sendable () async throws -> AMQPBroker)?

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/work-queues") { _, _ in
            try await QueueList(items: depths(of: .agent) { try await $0.depth(ofWorkQueue: $1) })
        }
        router.get("api/task-queues") { _, _ in
            try await QueueList(items: depths(of: .worker) { try await $0.depth(ofTaskQueue: $1) })
        }
    }

    private func depths(of kind: Heartbeat.Kind,
                        _ read: @Sendable (AMQPBroker, String) async throws -> QueueDepth?) async throws -> [QueueDepth] {
        guard let broker else {
            throw HTTPError(.serviceUnavailable, message: "this server has no broker (start it with --broker): "
                + "queue depths are read from it")
        }
        let names = Set(try await store.processes(kind).flatMap(\.queues)).sorted()
        let connection = try await broker()
        var depths: [QueueDepth] = []
        for name in names {
            if let depth = try await read(connection, name) { depths.append(depth) }
        }
        return depths
    }
}

extension QueueDepth: ResponseEncodable {}

struct QueueList: ResponseEncodable {
    var items: [QueueDepth]
}
