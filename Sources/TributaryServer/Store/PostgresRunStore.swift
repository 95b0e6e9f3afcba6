import Foundation
import Logging
import PostgresNIO
import Tributary

/// The run store on PostgreSQL (postgres-nio), for a server that several replicas share: the same
/// schema and queries as SQLite's. Its connections come from a pool that reconnects on its own, so
/// a database restart fails the writes of that moment (ingestion tries them again) and nothing more.
public final class PostgresRunStore: SQLRunStore {
    let executor: any SQLExecutor
    private let client: PostgresClient
    private let pool: Task<Void, Never>

    /// Connects to `url` (`postgres://user:password@host:port/database`, `?sslmode=disable|prefer|require`)
    /// and brings the schema up to date.
    public init(url: String, logger: Logger = Logger(label: "tributary.store")) async throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              let host = parts.host, let user = parts.user, parts.path.count > 1 else {
            throw BadQuery("the database URL '\(Self.redacted(url))' is not postgres://user:password@host:port/database")
        }
        let tls: PostgresClient.Configuration.TLS
        switch parts.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case let other: throw BadQuery("sslmode '\(other)' in the database URL is not one of: disable, prefer, require")
        }
        let configuration = PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: user,
                                                         password: parts.password, database: String(parts.path.dropFirst()),
                                                         tls: tls)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        pool = Task { await client.run() }
        let executor = PostgresExecutor(client: client, logger: logger)
        self.executor = executor
        do {
            try await executor.migrate(Schema.migrations)
        } catch {
            pool.cancel()
            throw BadQuery("could not open the store at \(Self.redacted(url)): \(String(reflecting: error))")
        }
    }

    public func close() async {
        pool.cancel()
        await pool.value
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
    let client: PostgresClient
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    func write(_ statements: [SQLStatement]) async throws {
        let queries = try statements.map(Self.query)
        try await client.withTransaction(logger: logger) { connection in
            for query in queries {
                for try await _ in try await connection.query(query, logger: logger) {}
            }
        }
    }

    func read(_ statement: SQLStatement) async throws -> [SQLRow] {
        var rows: [SQLRow] = []
        for try await row in try await client.query(try Self.query(statement), logger: logger) {
            var values: SQLRow = [:]
            for cell in row {
                values[cell.columnName] = try Self.value(of: cell)
            }
            rows.append(values)
        }
        return rows
    }

    /// Applies the migrations not yet applied, each in a transaction under an advisory lock (two
    /// servers starting at once migrate one after the other), recording each in `schema_migrations`.
    func migrate(_ migrations: [(name: String, sql: String)]) async throws {
        try await write([SQLStatement("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")])
        for migration in migrations {
            let statements = dialect.schema(migration.sql).components(separatedBy: ";")
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            try await client.withTransaction(logger: logger) { connection in
                for try await _ in try await connection.query("SELECT pg_advisory_xact_lock(4200)", logger: logger) {}
                var applied = false
                for try await _ in try await connection.query(
                    "SELECT 1 FROM schema_migrations WHERE name = \(migration.name)", logger: logger) { applied = true }
                guard !applied else { return }
                for sql in statements {
                    for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {}
                }
                for try await _ in try await connection.query(
                    "INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger) {}
            }
        }
    }

    private static func query(_ statement: SQLStatement) throws -> PostgresQuery {
        var sql = "", number = 0
        for character in statement.sql {
            if character == "?" {
                number += 1
                sql += "$\(number)"
            } else {
                sql.append(character)
            }
        }
        var binds = PostgresBindings(capacity: statement.values.count)
        for value in statement.values {
            switch value {
            case .text(let text): try binds.append(text)
            case .integer(let number): try binds.append(number)
            case .real(let number): try binds.append(number)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    private static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .numeric: return .real(Double(try cell.decode(String.self)) ?? 0)
        default: return .text(try cell.decode(String.self))
        }
    }
}
