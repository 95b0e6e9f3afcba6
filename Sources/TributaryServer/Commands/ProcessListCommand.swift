import ArgumentParser
import Tributary

/// `trib worker ls` and `trib agent ls`: the workers or agents a server has heard from.
struct ProcessListCommand<Kind: ProcessKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "ls", abstract: "List the \(Kind.kind.rawValue)s a server has heard from.")
    }

    @OptionGroup var api: APIOptions
    @Flag(help: "Only those alive now.")
    var alive = false

    func run() async throws {
        let list = try await api.client.call("/\(Kind.kind.rawValue)s", as: Processes.self).items
            .filter { !alive || $0.alive }
        if api.json { return print(try Format.json(list)) }
        var table = Table("ID", "STATUS", "HOST", "QUEUES", "CONCURRENCY", "RUNNING", "COMPLETED", "FAILED", "LAST SEEN")
        for process in list {
            table.rows.append([process.id, process.alive ? "alive" : (process.stopped ? "stopped" : "lost"),
                               process.host, process.queues.joined(separator: ","), "\(process.concurrency)",
                               "\(process.running)", "\(process.completed)", "\(process.failed)",
                               Format.time(process.lastSeen)])
        }
        print(table.text)
    }
}

protocol ProcessKind: Sendable {
    static var kind: Heartbeat.Kind { get }
}

enum WorkerKind: ProcessKind { static let kind = Heartbeat.Kind.worker }
enum AgentKind: ProcessKind { static let kind = Heartbeat.Kind.agent }

struct Processes: Codable {
    var items: [ProcessRecord]
}
