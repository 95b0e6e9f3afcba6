import Foundation
import Logging
import Tributary

/// The run store on PostgreSQL (through libpq, PostgreSQL's own client library), for a server that
/// several replicas share: the same schema and queries as SQLite's. Its connections live on threads
/// of their own and reconnect on their own, so a database restart fails the writes of that moment
/// (ingestion tries them again) and nothing more.
public final class PostgresRunStore: SQLRunStore {
    let executor: any SQLExecutor
    private let pool: PostgresConnectionPool

    /// How many statements run at once, each on a connection and a thread of its own.
    static let connections = 4

    /// Connects to `url` (`postgres://user:password@host:port/database`, with any of libpq's
    /// parameters after `?`, such as `sslmode=disable|prefer|require|verify-full`) and brings the
    /// schema up to date.
    public init(url: String, logger: Logger = Logger(label: "tributary.store")) async throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              parts.host != nil, parts.user != nil, parts.path.count > 1 else {
            throw BadQuery("the database URL '\(Self.redacted(url))' is not postgres://user:password@host:port/database")
        }
        let pool = PostgresConnectionPool(url: url, size: Self.connections, name: "tributary-postgres")
        self.pool = pool
        let executor = PostgresExecutor(pool: pool)
        self.executor = executor
        do {
            try await executor.migrate(Schema.migrations)
        } catch {
            await pool.close()
            throw BadQuery("could not open the store at \(Self.redacted(url)): \(error)")
        }
    }

    public func close() async {
        await pool.close()
    }

    /// The URL without its password, for messages.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }
}

/// Runs the store's SQL on PostgreSQL: `?` placeholders become `$1`, `$2`, ...; a write is one
/// transaction.
struct PostgresExecutor: SQLExecutor {
    let pool: PostgresConnectionPool
    var dialect: SQLDialect { .postgres }

    func write(_ statements: [SQLStatement]) async throws {
        let statements = statements.map { (sql: Self.numbered($0.sql), values: $0.values) }
        try await pool.withConnection { connection in
            try connection.inTransaction {
                for statement in statements { try connection.execute(statement.sql, statement.values) }
            }
        }
    }

    func read(_ statement: SQLStatement) async throws -> [SQLRow] {
        let sql = Self.numbered(statement.sql), values = statement.values
        return try await pool.withConnection { connection in try connection.execute(sql, values) }
    }

    /// Applies the migrations not yet applied, each in a transaction under an advisory lock (two
    /// servers starting at once migrate one after the other), recording each in `schema_migrations`.
    func migrate(_ migrations: [(name: String, sql: String)]) async throws {
        let migrations = migrations.map { migration in
            (name: migration.name, statements: dialect.schema(migration.sql).components(separatedBy: ";")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty })
        }
        try await pool.withConnection { connection in
            try connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
            for migration in migrations {
                try connection.inTransaction {
                    try connection.execute("SELECT pg_advisory_xact_lock(4200)")
                    let applied = try connection.execute("SELECT 1 FROM schema_migrations WHERE name = $1",
                                                         [.text(migration.name)])
                    guard applied.isEmpty else { return }
                    for sql in migration.statements { try connection.execute(sql) }
                    try connection.execute("INSERT INTO schema_migrations (name) VALUES ($1)", [.text(migration.name)])
                }
            }
        }
    }

    /// `sql` with its `?` placeholders numbered as PostgreSQL's `$1`, `$2`, ...
    static func numbered(_ sql: String) -> String {
        var numbered = "", number = 0
        for character in sql {
            if character == "?" {
                number += 1
                numbered += "$\(number)"
            } else {
                numbered.append(character)
            }
        }
        return numbered
    }
}
