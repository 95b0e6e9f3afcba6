import ArgumentParser

/// `trib task-run ls --flow-run ID`.
struct TaskRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-run", abstract: "Look at the task runs a server recorded.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a flow run's task runs.")
        @OptionGroup var api: APIOptions
        @Option(name: .customLong("flow-run"), help: "The flow run's id.")
        var flowRun: String
        @Option(help: "Only runs in this state; repeat for several.")
        var state: [String] = []
        @Option(help: "At most this many.")
        var limit = 100

        func run() async throws {
            let page = try await api.client.call("/flow-runs/\(flowRun)/task-runs",
                                                 query: [("state", state.isEmpty ? nil : state.joined(separator: ",")),
                                                         ("limit", "\(limit)")], as: Page<TaskRunRecord>.self)
            if api.json { return print(try Format.json(page.items)) }
            var table = Table("ID", "TASK", "STATE", "ATTEMPT", "WORKER", "DURATION")
            for run in page.items {
                table.rows.append([run.id, run.runName ?? run.taskName, run.state, "\(run.attempt)", run.worker ?? "-",
                                   Format.duration(from: run.startedAt, to: run.endedAt)])
            }
            print(table.text)
        }
    }
}
