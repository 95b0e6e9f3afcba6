import Logging
import Tributary

/// Records an embedded client's runs straight into a store, the one `trib server start` serves, so
/// a script's runs show beside those that went through a broker (Prefect records a script's runs
/// in its local database the same way):
///
/// ```swift
/// let client = Tributary.local(registry, events: try await LocalRunRecorder.open())
/// ```
/// Events are batched as a broker client's are; a batch the store refuses is dropped with a warning,
/// never failing the run. The client closes the recorder (and the store) as it closes.
public enum LocalRunRecorder {
    /// A sink writing into the store at `database`: a SQLite file (by default `TRIB_DATABASE`, else
    /// `~/.tributary/tributary.db`) or a PostgreSQL URL. Throws if the store cannot be opened.
    public static func open(database: String = ServerConfiguration.defaultDatabasePath,
                            logger: Logger = Logger(label: "tributary.recorder")) async throws -> any EventSink {
        let store = try await RunStores.open(database, logger: logger)
        return EventPublisher(logger: logger, send: { events, _ in try await store.record(events) },
                              finish: { await store.close() })
    }
}
