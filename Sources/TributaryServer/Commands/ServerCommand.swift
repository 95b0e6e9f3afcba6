import ArgumentParser
import Foundation
import Logging
import TributaryCLI

/// `trib server start` and `trib server database reset`.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Run the server that records every run and answers over HTTP.",
        subcommands: [Start.self, Database.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record the events of every run from the broker and serve the API at /api.")

        @Option(help: "The address to listen on (127.0.0.1: this machine only).")
        var host = "127.0.0.1"
        @Option(help: "The port to listen on (0: any free one, logged at start).")
        var port = 4200
        @Option(help: "Where to keep runs: a SQLite file, or postgres://user:password@host:port/database.")
        var database = ServerConfiguration.defaultDatabasePath
        @Option(help: "The broker events come from (else TRIB_BROKER_URL).")
        var broker: String?
        @Option(name: .customLong("events-queue"),
                help: "The server's durable queue of events (servers with stores of their own need one each).")
        var eventsQueue = EventIngest.defaultQueue
        @Option(name: .customLong("api-key"), help: "Every API request must carry this key (else TRIB_API_KEY).")
        var apiKey: String?
        @Option(help: "Delete finished runs older than this: 30d, 12h, 90m, 3600s.")
        var retention: String?
        @Option(name: .customLong("late-after"),
                help: "A deployment's run no agent started this many seconds after its time is Late.")
        var lateAfter: Double = 15

        func run() async throws {
            TributaryCommandLine.bootstrapLogging(defaultLevel: .info)
            let retention = try self.retention.map(RetentionText.parse)
            guard (0...65_535).contains(port) else {
                throw ValidationError("--port \(port) is not a port: give 0 to 65535")
            }
            guard lateAfter > 0, lateAfter.isFinite else {
                throw ValidationError("--late-after \(lateAfter) must be a number of seconds above 0")
            }
            var configuration = ServerConfiguration(
                host: host, port: port, database: database, brokerURL: TributaryCommandLine.brokerURL(broker),
                eventsQueue: eventsQueue, apiKey: apiKey ?? ProcessInfo.processInfo.environment["TRIB_API_KEY"], retention: retention)
            configuration.scheduler.lateAfter = lateAfter
            do {
                try await TributaryServer(configuration: configuration).run()
            } catch {
                throw ServerFailure(String(describing: error))
            }
        }
    }

    struct Database: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manage the server's store.",
                                                        subcommands: [Reset.self])

        struct Reset: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete every recorded run (asks first).")

            @Option(help: "The store to empty: a SQLite file, or a PostgreSQL URL.")
            var database = ServerConfiguration.defaultDatabasePath
            @Flag(help: "Do not ask.")
            var yes = false

            func run() async throws {
                if !yes {
                    print("Delete every run recorded in \(PostgresRunStore.redacted(database))? Type 'yes' to go on: ",
                      terminator: "")
                    guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                        print("Nothing deleted.")
                        return
                    }
                }
                let shown = PostgresRunStore.redacted(database)
                do {
                    let store = try await RunStores.open(database)
                    try await store.reset()
                    await store.close()
                } catch {
                    throw ServerFailure("could not empty \(shown): \(error)")
                }
                print("Deleted every run recorded in \(shown).")
            }
        }
    }
}

/// A duration written as a number and a unit: `30d`, `12h`, `90m`, `3600s`.
enum RetentionText {
    static func parse(_ text: String) throws -> Duration {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count > 0 else {
            throw ValidationError("--retention '\(text)' is not a duration: give a number and a unit, such as 30d, "
                + "12h, 90m or 3600s")
        }
        return .seconds(count * unit)
    }
}

/// An error to print as it is, with no stack trace.
struct ServerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
