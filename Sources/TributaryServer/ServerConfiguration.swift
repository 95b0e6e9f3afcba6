import Foundation

/// How a server runs: where it listens, where it keeps runs, where events come from.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Where the server keeps its runs: a SQLite file, or a PostgreSQL URL (`postgres://...`).
    public var database: String
    /// The broker its events come from and cancel requests go to; nil records nothing new.
    public var brokerURL: String?
    /// The server's own durable queue of events (and `<name>.logs`); see ``EventIngest``.
    public var eventsQueue: String
    /// With a key, every API request must carry it.
    public var apiKey: String?
    /// Finished runs older than this are deleted; nil keeps them.
    public var retention: Duration?
    /// How the scheduler makes and pushes deployments' runs.
    public var scheduler = SchedulerSettings()

    public init(host: String = "127.0.0.1", port: Int = 4200, database: String = ServerConfiguration.defaultDatabasePath,
                brokerURL: String? = nil, eventsQueue: String = EventIngest.defaultQueue, apiKey: String? = nil,
                retention: Duration? = nil) {
        self.eventsQueue = eventsQueue
        self.host = host
        self.port = port
        self.database = database
        self.brokerURL = brokerURL
        self.apiKey = apiKey
        self.retention = retention
    }

    /// `TRIB_DATABASE`, else `~/.tributary/tributary.db`.
    public static var defaultDatabasePath: String {
        ProcessInfo.processInfo.environment["TRIB_DATABASE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".tributary/tributary.db").path
    }

    /// Whether the host is this machine only (127.x, ::1, localhost).
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
