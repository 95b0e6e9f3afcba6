import Foundation
import Synchronization

/// Settings kept in a profile file, as Prefect keeps its: `KEY=VALUE` lines in
/// `~/.tributary/profile` (or the file `TRIB_PROFILE` names). A setting given in the environment
/// wins over the profile, and a command's own option wins over both.
public struct Profile: Equatable {
    /// A setting the profile may hold: its name, what it is for, and its value when nothing sets it.
    public struct Setting: Sendable {
        public let name: String
        public let help: String
        public let defaultValue: String?
    }

    public static let settings: [Setting] = [
        Setting(name: "TRIB_BROKER_URL", help: "the broker, amqp://user:pass@host:5672/", defaultValue: nil),
        Setting(name: "TRIB_API_URL", help: "the server's API, for flow-run, task-run, worker ls, agent ls",
                defaultValue: "http://127.0.0.1:4200/api"),
        Setting(name: "TRIB_API_KEY", help: "the server's API key", defaultValue: nil),
        Setting(name: "TRIB_LOG_LEVEL", help: "trace, debug, info, notice, warning, error",
                defaultValue: "info (worker, agent, server); warning (run)"),
        Setting(name: "TRIB_EVENTS", help: "on or off: clients publish their runs' events for the server "
                + "(embedded runs: record them in TRIB_DATABASE)", defaultValue: "on"),
        Setting(name: "TRIB_DATABASE", help: "the server's store (a SQLite file or postgres:// URL), where trib "
                + "run records embedded runs", defaultValue: "~/.tributary/tributary.db"),
        Setting(name: "TRIB_HEARTBEAT_INTERVAL", help: "seconds between a worker's or agent's heartbeats",
                defaultValue: "10"),
        Setting(name: "TRIB_FLOW_RUN_RETENTION", help: "seconds a submitted run's outcome stays readable",
                defaultValue: "86400"),
        Setting(name: "TRIB_RENEW_HELD_AFTER", help: "seconds before a held delivery is renewed, or off",
                defaultValue: "600"),
        Setting(name: "TRIB_RESULT_STORE", help: "the folder cached task results are kept in",
                defaultValue: "~/.tributary/results"),
        Setting(name: "TRIB_WEBHOOK_URL", help: "where the examples' hooks POST their notifications",
                defaultValue: nil),
    ]

    /// The profile's file: `TRIB_PROFILE`, else `~/.tributary/profile`.
    public static var path: String {
        ProcessInfo.processInfo.environment["TRIB_PROFILE"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tributary/profile").path
    }

    public var values: [String: String]

    /// The profile at `path`; empty if there is no file yet.
    public static func load(from path: String = Profile.path) throws -> Profile {
        guard FileManager.default.fileExists(atPath: path) else { return Profile(values: [:]) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var values: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let (name, value) = parse(trimmed) else {
                throw ProfileError("line \(number + 1) of \(path) is not KEY=VALUE: '\(trimmed)'; fix or delete it")
            }
            values[name] = value
        }
        return Profile(values: values)
    }

    /// Writes the profile, sorted by name.
    public func save(to path: String = Profile.path) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        let text = values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `KEY=VALUE` split, or nil.
    static func parse(_ assignment: some StringProtocol) -> (String, String)? {
        guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else { return nil }
        return (String(assignment[..<equals]).trimmingCharacters(in: .whitespaces),
                String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: .whitespaces))
    }

    /// The setting named `name`, or an error that lists the known ones.
    static func setting(named name: String) throws -> Setting {
        guard let setting = settings.first(where: { $0.name == name }) else {
            throw ProfileError("'\(name)' is not a setting; known: \(settings.map(\.name).joined(separator: ", "))")
        }
        return setting
    }

    /// The settings the environment had before the profile was applied.
    static let startingEnvironment = Mutex<[String: String]>([:])

    /// Puts the profile's values into this process's environment where the environment has none,
    /// before anything reads them.
    static func apply() throws {
        let environment = ProcessInfo.processInfo.environment
        startingEnvironment.withLock { $0 = environment.filter { name, _ in settings.contains { $0.name == name } } }
        for (name, value) in try load().values where ProcessInfo.processInfo.environment[name] == nil {
            setenv(name, value, 0)
        }
    }
}

/// A profile that cannot be read or a setting that does not exist: says which and what to do.
public struct ProfileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
