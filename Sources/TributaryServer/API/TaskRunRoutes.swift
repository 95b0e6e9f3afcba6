import Hummingbird

extension StateRecord: ResponseEncodable {}

/// `/api/task-runs/{id}/states`: one task run's history.
struct TaskRunRoutes {
    let store: any RunStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/task-runs/{id}/states") { _, context -> StateList in
            let id = try context.parameters.require("id")
            let states = try await store.taskRunStates(id: id)
            guard !states.isEmpty else {
                throw HTTPError(.notFound, message: "no task run '\(id)' is recorded: check the id "
                    + "(`trib task-run ls --flow-run ID` lists a flow run's)")
            }
            return StateList(states: states)
        }
    }
}

struct StateList: ResponseEncodable {
    var states: [StateRecord]
}
