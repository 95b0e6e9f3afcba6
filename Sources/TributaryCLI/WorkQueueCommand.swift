import ArgumentParser
import Foundation
import Tributary

struct WorkQueueCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "work-queue",
            abstract: "Look at a work queue, limit how many of its flow runs run at once across all its agents, or pause it.",
            subcommands: [Inspect.self, SetLimit.self, ClearLimit.self, Pause.self, Resume.self]
                + TributaryCommandLine.extraSubcommands.withLock { $0["work-queue"] ?? [] })
    }

    struct BrokerOptions: ParsableArguments {
        @Option(help: "Broker URL (default: $TRIB_BROKER_URL).")
        var broker: String?

        @Argument(help: "The work queue's name.")
        var workQueue: String

        func validate() throws {
            guard TributaryCommandLine.brokerURL(broker) != nil else {
                throw ValidationError("no broker given: pass --broker amqp://user:pass@host:5672/ or set TRIB_BROKER_URL")
            }
            if let problem = Tributary.workQueueNameProblem(workQueue) { throw ValidationError(problem) }
        }

        /// Runs `body` with a client, closing it after, and turns errors into a message.
        func withClient(_ body: (Tributary) async throws -> Void) async throws {
            TributaryCommandLine.bootstrapLogging(defaultLevel: .warning)
            let client = Tributary(broker: TributaryCommandLine.brokerURL(broker)!)
            do {
                try await body(client)
            } catch {
                await client.close()
                throw CommandFailure(error)
            }
            await client.close()
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect",
                                                        abstract: "Print the work queue's agents and limit.")
        @OptionGroup var options: BrokerOptions

        func run() async throws {
            try await options.withClient { client in
                let agents = try await client.agentCount(of: options.workQueue)
                let limit = try await client.limit(ofWorkQueue: options.workQueue)
                print("work queue \(options.workQueue): \(agents) agent\(agents == 1 ? "" : "s"), "
                    + (limit == 0 ? "paused" : limit.map { "at most \($0) flow runs at once" } ?? "no limit"))
            }
        }
    }

    struct SetLimit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-limit", abstract: "At most N of the work queue's flow runs run at once, across its agents.")
        @OptionGroup var options: BrokerOptions
        @Argument(help: "The limit, 1 or more.") var limit: Int

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("the limit must be 1 or more, not \(limit)") }
        }

        func run() async throws {
            try await options.withClient { client in
                try await client.setLimit(limit, ofWorkQueue: options.workQueue)
                print("work queue \(options.workQueue): at most \(limit) flow runs at once")
            }
        }
    }

    struct ClearLimit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clear-limit",
                                                        abstract: "Remove the work queue's limit.")
        @OptionGroup var options: BrokerOptions

        func run() async throws {
            try await options.withClient { client in
                try await client.setLimit(nil, ofWorkQueue: options.workQueue)
                print("work queue \(options.workQueue): no limit")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the work queue's agents from starting its flow runs until it is resumed; runs submitted meanwhile wait.")
        @OptionGroup var options: BrokerOptions

        func run() async throws {
            try await options.withClient { client in
                try await client.pause(workQueue: options.workQueue)
                print("work queue \(options.workQueue): paused")
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a paused work queue's agents start its flow runs again.")
        @OptionGroup var options: BrokerOptions

        func run() async throws {
            try await options.withClient { client in
                try await client.resume(workQueue: options.workQueue)
                let limit = try await client.limit(ofWorkQueue: options.workQueue)
                print("work queue \(options.workQueue): resumed" + (limit.map { ", at most \($0) flow runs at once" } ?? ""))
            }
        }
    }
}
