import Foundation
import GRDB
import Tributary

/// The run store in one SQLite file (WAL: readers never wait for the writer, nor it for them).
public final class SQLiteRunStore: SQLRunStore {
    let executor: any SQLExecutor
    public let path: String

    /// Opens (creating it and its folder if need be) the store at `path` and brings its schema up to date.
    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        var configuration = GRDB.Configuration()
        // A writer waits for another (a second server on the same file) rather than failing at once.
        configuration.busyMode = .timeout(30)
        let pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        for migration in Schema.migrations {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        try migrator.migrate(pool)
        executor = SQLiteExecutor(pool: pool)
    }
}

/// Runs the store's SQL on SQLite through GRDB: writes on its one writer, in a transaction; reads
/// on its readers.
struct SQLiteExecutor: SQLExecutor {
    let pool: DatabasePool
    var dialect: SQLDialect { .sqlite }

    func write(_ statements: [SQLStatement]) async throws {
        try await pool.write { db in
            for statement in statements {
                try db.cachedStatement(sql: statement.sql).execute(arguments: Self.arguments(statement.values))
            }
        }
    }

    func read(_ statement: SQLStatement) async throws -> [SQLRow] {
        let arguments = Self.arguments(statement.values)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: statement.sql, arguments: arguments).map { row in
                var values: SQLRow = [:]
                for (column, value) in row {
                    switch value.storage {
                    case .null: values[column] = .null
                    case .int64(let number): values[column] = .integer(Int(number))
                    case .double(let number): values[column] = .real(number)
                    case .string(let text): values[column] = .text(text)
                    case .blob(let data): values[column] = .text(String(decoding: data, as: UTF8.self))
                    }
                }
                return values
            }
        }
    }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .text(let text): text
            case .integer(let number): number
            case .real(let number): number
            case .null: nil
            }
        })
    }
}
