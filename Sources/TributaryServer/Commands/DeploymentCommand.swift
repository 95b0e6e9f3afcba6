import ArgumentParser
import Foundation
import Tributary

/// `trib deployment create|ls|inspect|pause|resume|delete|run`: flows that start on their own, on a
/// server's schedule, and runs of them on demand.
struct DeploymentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deployment", abstract: "Deploy flows to run on a schedule, and run them on demand.",
        subcommands: [Create.self, List.self, Inspect.self, Pause.self, Resume.self, Delete.self, Run.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a deployment, or update the one of this name.",
            discussion: """
                trib deployment create retrain --flow train-model --cron "0 3 * * 1" --timezone Europe/Berlin \\
                    --params '{"epochs": 20}' --work-queue ml
                """)
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String
        @Option(help: "The flow it runs (its registered name).")
        var flow: String
        @Option(help: "A cron schedule (5 fields: minute hour day-of-month month day-of-week); repeat for several.")
        var cron: [String] = []
        @Option(help: "The time zone of the cron schedules (an IANA name such as Europe/Berlin; default UTC).")
        var timezone = "UTC"
        @Option(help: "An interval schedule, in seconds; repeat for several.")
        var interval: [Double] = []
        @Option(help: "The time the intervals count from (ISO 8601; default 2020-01-01T00:00:00Z).")
        var anchor: String?
        @Option(help: "The flow's input: a JSON object of parameters.")
        var params: String?
        @Option(name: .customLong("work-queue"), help: "The work queue its runs go to (default: default).")
        var workQueue: String?
        @Option(help: "A tag; repeat for several.")
        var tag: [String] = []
        @Option(help: "What it is for.")
        var description: String?
        @Option(name: .customLong("run-limit"), help: "At most this many of its runs at once.")
        var runLimit: Int?
        @Option(help: "Runs missed while no scheduler ran: latest (default), all or none.")
        var catchup: CatchupPolicy?
        @Option(help: ArgumentHelp(
            "A trigger as JSON; repeat for several.",
            discussion: #"Such as '{"deployment": "train", "states": ["Completed"], "parameters": {"upstream": "{{ run.id }}"}}'"#))
        var trigger: [String] = []
        @Flag(help: "Create it paused.")
        var paused = false

        func run() async throws {
            var schedules: [Schedule] = try cron.map { .cron(try CronSchedule($0, timeZone: timezone)) }
            let anchorDate = try anchor.map { text -> Date in
                guard let date = ISO8601Time.parse(text) else {
                    throw ValidationError("--anchor '\(text)' is not an ISO 8601 time such as 2026-01-01T00:00:00Z")
                }
                return date
            }
            schedules += try interval.map { .interval(try IntervalSchedule(seconds: $0, anchor: anchorDate)) }
            let parameters = try params.map { try DeploymentCommand.json($0, option: "--params") }
            let triggers = try trigger.map { text -> Trigger in
                do {
                    return try JSONDecoder().decode(Trigger.self, from: Data(text.utf8))
                } catch {
                    throw ValidationError(#"--trigger '\#(text)' is not a trigger: give JSON such as "#
                        + #"'{"deployment": "NAME", "states": ["Completed"]}' (\#(error))"#)
                }
            }
            let spec = DeploymentSpec(name: name, flow: flow, parameters: parameters, workQueue: workQueue,
                                      schedules: schedules, tags: tag, description: description, runLimit: runLimit,
                                      paused: paused, catchup: catchup, triggers: triggers)
            try spec.validate()
            let saved = try await api.client.call("/deployments", method: "POST", body: try JSONEncoder().encode(spec),
                                                  as: Deployment.self)
            if api.json { return print(try Format.json(saved)) }
            print("deployment '\(saved.name)' saved: \(DeploymentCommand.describe(saved))"
                + "\(saved.paused ? " (paused)" : "")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List deployments.")
        @OptionGroup var api: APIOptions

        func run() async throws {
            let list = try await api.client.call("/deployments", as: DeploymentList.self)
            if api.json { return print(try Format.json(list.items)) }
            var table = Table("NAME", "FLOW", "WORK QUEUE", "RUNS", "NEXT RUN", "STATUS")
            for item in list.items {
                let deployment = item.deployment
                table.rows.append([deployment.name, deployment.flow, deployment.workQueue,
                                   DeploymentCommand.describe(deployment), Format.time(item.nextRunAt),
                                   deployment.paused ? "paused" : "active"])
            }
            print(table.text)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One deployment: its settings, next runs and latest runs.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String

        func run() async throws {
            let detail = try await api.client.call("/deployments/\(DeploymentCommand.escaped(name))", as: DeploymentDetail.self)
            if api.json { return print(try Format.json(detail)) }
            let deployment = detail.deployment
            print("""
                Deployment   \(deployment.name)
                Flow         \(deployment.flow)
                Work queue   \(deployment.workQueue)
                Schedules    \(DeploymentCommand.describe(deployment.schedules))
                Triggers     \(deployment.triggers.isEmpty ? "none" : deployment.triggers.map(DeploymentCommand.describe).joined(separator: "; "))
                Parameters   \(String(decoding: try JSONEncoder().encode(deployment.parameters), as: UTF8.self))
                Status       \(deployment.paused ? "paused" : "active")
                Catch-up     \(deployment.catchup.rawValue)
                Run limit    \(deployment.runLimit.map(String.init) ?? "none")
                """)
            if !deployment.tags.isEmpty { print("Tags         \(deployment.tags.joined(separator: ", "))") }
            if let description = deployment.description { print("Description  \(description)") }
            for (title, runs) in [("Next runs", detail.upcoming), ("Latest runs", detail.recent)] where !runs.isEmpty {
                var table = Table("FLOW RUN", "DUE", "ORIGIN", "STATE")
                for run in runs {
                    table.rows.append([run.flowRunID, Format.time(run.scheduledAt), run.origin, run.state ?? run.status])
                }
                print("\n\(title)\n" + table.text)
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a deployment's scheduled runs until it is resumed.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String

        func run() async throws {
            let deployment = try await api.client.call("/deployments/\(DeploymentCommand.escaped(name))/pause",
                                                       method: "POST", as: Deployment.self)
            print(api.json ? try Format.json(deployment) : "deployment '\(deployment.name)' paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a paused deployment's scheduled runs again.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String
        @Flag(help: "Also run what its schedules had due while it was paused (by its catch-up policy).")
        var backfill = false

        func run() async throws {
            let deployment = try await api.client.call("/deployments/\(DeploymentCommand.escaped(name))/resume",
                                                       query: [("backfill", backfill ? "true" : nil)],
                                                       method: "POST", as: Deployment.self)
            print(api.json ? try Format.json(deployment) : "deployment '\(deployment.name)' resumed")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a deployment (its past runs stay).")
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String

        func run() async throws {
            let deleted = try await api.client.call("/deployments/\(DeploymentCommand.escaped(name))", method: "DELETE",
                                                    as: DeletedDeployment.self)
            print(api.json ? try Format.json(deleted) : "deployment '\(deleted.deleted)' deleted")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a deployment now (or at --start-at), its parameters overridden with --param.")
        @OptionGroup var api: APIOptions
        @Argument(help: "The deployment's name.")
        var name: String
        @Option(help: "A parameter as NAME=VALUE (VALUE is JSON, else text); repeat for several.")
        var param: [String] = []
        @Option(name: .customLong("start-at"), help: "When to start it (ISO 8601), rather than now.")
        var startAt: String?

        func run() async throws {
            var overrides: [String: JSONValue] = [:]
            for item in param {
                guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                    throw ValidationError("--param '\(item)' is not NAME=VALUE")
                }
                let value = String(item[item.index(after: equals)...])
                overrides[String(item[..<equals])] = (try? DeploymentCommand.json(value, option: "--param")) ?? .string(value)
            }
            if let startAt, ISO8601Time.parse(startAt) == nil {
                throw ValidationError("--start-at '\(startAt)' is not an ISO 8601 time such as 2026-12-24T09:00:00Z")
            }
            var body: [String: JSONValue] = [:]
            if !overrides.isEmpty { body["parameters"] = .object(overrides) }
            if let startAt { body["startAt"] = .string(startAt) }
            let run = try await api.client.call("/deployments/\(DeploymentCommand.escaped(name))/runs", method: "POST",
                                                body: try JSONEncoder().encode(body), as: ScheduledRun.self)
            if api.json { return print(try Format.json(run)) }
            print("flow run \(run.flowRunID) of deployment '\(name)' scheduled for \(Format.time(run.scheduledAt))")
        }
    }

    static func json(_ text: String, option: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw ValidationError("\(option) '\(text)' is not JSON")
        }
    }

    static func describe(_ schedules: [Schedule]) -> String {
        schedules.isEmpty ? "none" : schedules.map(\.description).joined(separator: "; ")
    }

    /// Its schedules and triggers, in a few words: `every 15 s`, `after retrain (Completed)`.
    static func describe(_ deployment: Deployment) -> String {
        let parts = deployment.schedules.map(\.description) + deployment.triggers.map(describe)
        return parts.isEmpty ? "on demand" : parts.joined(separator: "; ")
    }

    static func describe(_ trigger: Trigger) -> String {
        let source = trigger.deployment.map { "deployment \($0)" } ?? "flow \(trigger.flow ?? "?")"
        return "after \(source) (\((trigger.states ?? ["Completed"]).joined(separator: ", ")))"
    }

    static func escaped(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }
}

extension CatchupPolicy: ExpressibleByArgument {}

/// `trib deploy`: applies a repository's `tributary.yaml` (every deployment in it, created or
/// updated by name; one that is unchanged stays as it is, its runs with it).
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy", abstract: "Apply the deployments of tributary.yaml to the server.")
    @OptionGroup var api: APIOptions
    @Option(help: "The file to apply.")
    var file = "tributary.yaml"

    func run() async throws {
        let deployments: DeploymentFile
        do {
            deployments = try DeploymentFile(path: file)
        } catch let error as DeploymentFileError {
            throw ServerFailure(error.description)
        }
        let before = try await api.client.call("/deployments", as: DeploymentList.self).items
        let existing = Dictionary(before.map { ($0.deployment.name, $0.deployment) }, uniquingKeysWith: { a, _ in a })
        var table = Table("DEPLOYMENT", "FLOW", "RUNS", "CHANGE")
        for (spec, _) in deployments.deployments {
            let saved = try await api.client.call("/deployments", method: "POST", body: try JSONEncoder().encode(spec),
                                                  as: Deployment.self)
            let change = existing[spec.name].map { $0.updatedAt == saved.updatedAt ? "unchanged" : "updated" } ?? "created"
            table.rows.append([saved.name, saved.flow, DeploymentCommand.describe(saved), change])
        }
        print(table.text)
    }
}
