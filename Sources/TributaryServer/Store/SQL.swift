/// A value bound to, or read from, SQL: the few kinds the store uses, the same on SQLite and PostgreSQL.
enum SQLValue: Sendable, Equatable {
    case text(String)
    case integer(Int)
    case real(Double)
    case null

    var string: String? { if case .text(let value) = self { value } else { nil } }
    var int: Int? {
        switch self {
        case .integer(let value): value
        case .real(let value): Int(value)
        default: nil
        }
    }
    var double: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
}

/// Turns a Swift value into an ``SQLValue`` (nil is NULL).
protocol SQLBindable { var sqlValue: SQLValue { get } }
extension String: SQLBindable { var sqlValue: SQLValue { .text(self) } }
extension Int: SQLBindable { var sqlValue: SQLValue { .integer(self) } }
extension Int64: SQLBindable { var sqlValue: SQLValue { .integer(Int(self)) } }
extension Double: SQLBindable { var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLBindable { var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Optional: SQLBindable where Wrapped: SQLBindable { var sqlValue: SQLValue { self?.sqlValue ?? .null } }

/// One statement with `?` placeholders and the values they take, in order.
struct SQLStatement: Sendable {
    var sql: String
    var values: [SQLValue]

    init(_ sql: String, _ values: [any SQLBindable] = []) {
        self.sql = sql
        self.values = values.map(\.sqlValue)
    }
}

/// A row read back, by column name.
typealias SQLRow = [String: SQLValue]

/// Which database the SQL is for: the schema's and functions' few differences.
enum SQLDialect: Sendable {
    case sqlite, postgres

    /// The smaller of two values (SQLite's two-argument min, PostgreSQL's LEAST).
    var least: String { self == .sqlite ? "min" : "LEAST" }

    /// The whole number of `divisor`s in a non-negative `expression` (integer division).
    func wholeSlices(_ expression: String, _ divisor: String) -> String {
        self == .sqlite ? "CAST((\(expression)) / \(divisor) AS INTEGER)" : "floor((\(expression)) / \(divisor))::bigint"
    }

    /// The schema's SQL (written for SQLite) in this dialect's types.
    func schema(_ sql: String) -> String {
        guard self == .postgres else { return sql }
        return sql.replacingOccurrences(of: "INTEGER PRIMARY KEY AUTOINCREMENT",
                                        with: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
            .replacingOccurrences(of: " REAL", with: " DOUBLE PRECISION")
            .replacingOccurrences(of: " INTEGER", with: " BIGINT")
    }
}

/// Runs the store's SQL on one database.
protocol SQLExecutor: Sendable {
    var dialect: SQLDialect { get }
    /// Runs the statements in one transaction.
    func write(_ statements: [SQLStatement]) async throws
    /// The rows a query answers.
    func read(_ statement: SQLStatement) async throws -> [SQLRow]
}
