import ArgumentParser
import Foundation

/// `trib flow-run ls|inspect|logs|cancel`: the runs a server recorded.
struct FlowRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow-run", abstract: "Look at the flow runs a server recorded.",
        subcommands: [List.self, Inspect.self, Logs.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List flow runs, newest first.")
        @OptionGroup var api: APIOptions
        @Option(help: "Only runs in this state (Running, Completed, Failed, ...); repeat for several.")
        var state: [String] = []
        @Option(help: "Only runs of this flow.")
        var flow: String?
        @Option(help: "At most this many.")
        var limit = 20

        func run() async throws {
            let page = try await api.client.call("/flow-runs", query: [("state", state.isEmpty ? nil : state.joined(separator: ",")),
                                                                       ("flow", flow), ("limit", "\(limit)")],
                                                 as: Page<FlowRunRecord>.self)
            if api.json { return print(try Format.json(page.items)) }
            var table = Table("ID", "FLOW", "STATE", "STARTED", "DURATION")
            for run in page.items {
                table.rows.append([run.id, run.flowName, run.state, Format.time(run.startedAt),
                                   Format.duration(from: run.startedAt, to: run.endedAt)])
            }
            print(table.text)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One flow run: its states, timings, task counts and error.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The flow run's id.")
        var id: String

        func run() async throws {
            let detail = try await api.client.call("/flow-runs/\(id)", as: FlowRunDetail.self)
            if api.json { return print(try Format.json(detail)) }
            let run = detail.flowRun
            print("""
                Flow run   \(run.id)
                Flow       \(run.flowName)
                State      \(run.state)
                Started    \(Format.time(run.startedAt))
                Ended      \(Format.time(run.endedAt))
                Duration   \(Format.duration(from: run.startedAt, to: run.endedAt))
                """)
            if let parent = run.parentFlowRunID { print("Parent     \(parent)") }
            if let error = run.error { print("Error      \(error)") }
            let counts = detail.taskRunCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("Task runs  \(counts.isEmpty ? "none" : counts.joined(separator: ", "))")
            var table = Table("STATE", "ATTEMPT", "AT")
            for state in detail.states {
                table.rows.append([state.state, state.attempt.map(String.init) ?? "-", Format.time(state.time)])
            }
            print("\n" + table.text)
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A flow run's log lines.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The flow run's id.")
        var id: String
        @Flag(help: "Keep printing new lines as they are recorded, until interrupted.")
        var follow = false

        func run() async throws {
            var after: Int64 = 0
            while true {
                let page = try await api.client.call("/flow-runs/\(id)/logs", query: [("after", "\(after)")],
                                                     as: LogLines.self)
                for line in page.logs {
                    if api.json {
                        print(String(decoding: try JSONEncoder().encode(line), as: UTF8.self))
                    } else {
                        print("\(Format.time(line.time)) \(line.level.uppercased()) \(line.taskName ?? "flow"): \(line.message)")
                    }
                    after = line.position
                }
                if page.logs.isEmpty {
                    guard follow else { return }
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a flow run (as `trib cancel` does).")
        @OptionGroup var api: APIOptions
        @Argument(help: "The flow run's id.")
        var id: String
        @Option(help: "Why, for its record.")
        var reason = "cancelled from the command line"

        func run() async throws {
            let answer = try await api.client.call("/flow-runs/\(id)/cancel", query: [("reason", reason)],
                                                   method: "POST", as: CancelReply.self)
            if api.json { return print(try Format.json(answer)) }
            print(answer.cancelled
                  ? "Cancelled flow run \(id) of '\(answer.flowName ?? "?")'."
                  : "No client running flow run \(id) answered: it has ended, or its client is not connected. "
                    + "Workers drop its queued tasks.")
        }
    }
}

struct LogLines: Codable {
    var logs: [LogRecord]
}

struct CancelReply: Codable {
    var cancelled: Bool
    var flowName: String?
}
