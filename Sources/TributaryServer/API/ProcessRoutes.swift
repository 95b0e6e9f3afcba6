import Hummingbird
import Tributary

/// `/api/workers` and `/api/agents`: every worker and agent that has sent a heartbeat, with liveness.
struct ProcessRoutes {
    let store: any RunStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/workers") { _, _ in ProcessList(items: try await store.processes(.worker)) }
        router.get("api/agents") { _, _ in ProcessList(items: try await store.processes(.agent)) }
    }
}

struct ProcessList: ResponseEncodable {
    var items: [ProcessRecord]
}
