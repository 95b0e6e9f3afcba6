import ArgumentParser
import Foundation
import Logging
import Synchronization
import Tributary

/// The command line a user's executable embeds: `worker`, `agent`, `run`, `wait`, `cancel`, `list`.
///
/// ```swift
/// @main struct MyApp {
///     static func main() async { await TributaryCommandLine.main(registry: Registry(tasks: [...], flows: [...])) }
/// }
/// ```
/// The broker URL comes from `--broker` or the `TRIB_BROKER_URL` environment variable; the log level
/// from `TRIB_LOG_LEVEL` (trace, debug, info, notice, warning, error).
public enum TributaryCommandLine {
    static let registry = Mutex<Registry>(Registry())
    static let extraCommands = Mutex<[any ParsableCommand.Type]>([])
    static let extraSubcommands = Mutex<[String: [any ParsableCommand.Type]]>([:])
    static let embeddedRecorder = Mutex<EmbeddedRecorder?>(nil)

    /// Makes the sink `run` records an embedded run's events in (the server product's
    /// `LocalRunRecorder.open`).
    public typealias EmbeddedRecorder = @Sendable () async throws -> any EventSink

    /// Parses the process's arguments (or `arguments`) and runs the command; exits on error.
    /// `commands` join the built-in ones (the server product's `server`, `flow-run`, `task-run`),
    /// and `subcommands` join those of a built-in command by its name (`worker ls`, `agent ls`).
    /// With `recordEmbeddedRuns`, `run` on the embedded default records its runs there (unless
    /// `TRIB_EVENTS` is off), so they show in the server.
    public static func main(registry: Registry, arguments: [String]? = nil,
                            commands: [any ParsableCommand.Type] = [],
                            subcommands: [String: [any ParsableCommand.Type]] = [:],
                            recordEmbeddedRuns: EmbeddedRecorder? = nil) async {
        self.registry.withLock { $0 = registry }
        embeddedRecorder.withLock { $0 = recordEmbeddedRuns }
        extraCommands.withLock { $0 = commands }
        extraSubcommands.withLock { $0 = subcommands }
        do {
            try Profile.apply()
            var command = try RootCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            RootCommand.exit(withError: error)
        }
    }

    static var currentRegistry: Registry { registry.withLock { $0 } }

    /// Sends logs to standard error at `TRIB_LOG_LEVEL`, else `defaultLevel`.
    public static func bootstrapLogging(defaultLevel: Logger.Level) {
        let level = ProcessInfo.processInfo.environment["TRIB_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// `--broker`, else `TRIB_BROKER_URL`, else nil.
    public static func brokerURL(_ option: String?) -> String? {
        option ?? ProcessInfo.processInfo.environment["TRIB_BROKER_URL"]
    }
}

struct RootCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: (CommandLine.arguments.first as NSString?)?.lastPathComponent ?? "trib",
            abstract: "Run Tributary workers and flows.",
            subcommands: [WorkerCommand.self, AgentCommand.self, RunCommand.self, WaitCommand.self, CancelCommand.self,
                          WorkQueueCommand.self, ListCommand.self, ConfigCommand.self]
                + TributaryCommandLine.extraCommands.withLock { $0 })
    }
}

/// Turns a thrown error into a message ArgumentParser prints, with no stack trace.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: any Error) { description = String(describing: error) }
    init(message: String) { description = message }
}
