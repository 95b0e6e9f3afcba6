import ArgumentParser
import Foundation

/// `trib work-queue ls`: each work queue with its runs waiting, its agents and its deployments'
/// runs waiting for their time.
struct WorkQueueListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List work queues: runs waiting, agents consuming, scheduled runs (from a server).")
    @OptionGroup var api: APIOptions

    func run() async throws {
        let list = try await api.client.call("/work-queues", as: WorkQueueList.self).items
        if api.json { return print(try Format.json(list)) }
        var table = Table("WORK QUEUE", "WAITING", "AGENTS", "SCHEDULED")
        for queue in list {
            table.rows.append([queue.name, "\(queue.waiting)", "\(queue.consumers)", "\(queue.scheduled)"])
        }
        print(table.text)
    }
}

/// `trib work-queue preview NAME`: the deployments' runs due next on a work queue (as Prefect's).
struct WorkQueuePreviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview", abstract: "The runs due next on a work queue (from a server).")
    @OptionGroup var api: APIOptions
    @Argument(help: "The work queue's name.")
    var name: String
    @Option(help: "At most this many.")
    var limit = 20

    func run() async throws {
        let runs = try await api.client.call("/work-queues/\(DeploymentCommand.escaped(name))/preview",
                                             query: [("limit", "\(limit)")], as: ScheduledRunList.self).items
        if api.json { return print(try Format.json(runs)) }
        var table = Table("DUE", "DEPLOYMENT", "FLOW RUN", "ORIGIN", "STATE")
        for run in runs {
            table.rows.append([Format.time(run.scheduledAt), run.deployment ?? "-", run.flowRunID, run.origin,
                               run.state ?? run.status])
        }
        print(runs.isEmpty ? "no runs are scheduled on work queue '\(name)'" : table.text)
    }
}
