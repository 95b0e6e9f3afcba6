import CPostgres
import Foundation

/// One connection to PostgreSQL through libpq. Its calls block: it lives on one of a
/// ``PostgresConnectionPool``'s threads, never on Swift's cooperative pool.
final class PostgresConnection {
    private let connection: OpaquePointer

    /// What a connection sets unless its URL says otherwise: give up connecting after 10 s, and
    /// notice a connection the network dropped silently within about half a minute (TCP keepalives
    /// and a TCP user timeout) rather than wait for its answer for ever.
    static let defaults: KeyValuePairs<String, String> = [
        "connect_timeout": "10", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3",
        "tcp_user_timeout": "30000",
    ]

    /// Connects to `url` (`postgres://user:password@host:port/database?param=value`, any of
    /// libpq's parameters, such as `sslmode`).
    init(url: String) throws {
        // libpq reads the keywords in order and the last value of each wins: the URL's, last.
        let keywords = Self.defaults.map(\.key) + ["dbname"]
        let values = Self.defaults.map(\.value) + [url]
        let connection = withCStrings(keywords) { keywords in
            withCStrings(values) { values in PQconnectdbParams(keywords + [nil], values + [nil], 1) }
        }
        guard let connection else { throw PostgresError(message: "libpq could not allocate a connection") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(message: message)
        }
        // The server's notices ("relation already exists, skipping") would go to stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    /// Whether the connection can take the next statement: it is open and in no transaction.
    var isUsable: Bool {
        PQstatus(connection) == CONNECTION_OK && PQtransactionStatus(connection) == PQTRANS_IDLE
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    func inTransaction<Result>(_ body: () throws -> Result) throws -> Result {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if PQstatus(connection) == CONNECTION_OK { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs one statement with `$1`, `$2`, ... bound to `values` (text as text, integers as
    /// bigint, reals as double precision, nil as NULL); returns the rows it answers, by column name.
    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue] = []) throws -> [SQLRow] {
        let types: [UInt32] = values.map { value in
            switch value {
            case .text: 25  // text
            case .integer: 20  // int8
            case .real: 701  // float8
            case .null: 0  // the server infers it
            }
        }
        let texts: [String?] = values.map { value in
            switch value {
            case .text(let text): text
            case .integer(let number): String(number)
            case .real(let number): Self.text(of: number)
            case .null: nil
            }
        }
        let result = withCStrings(texts) { pointers in
            PQexecParams(connection, sql, Int32(values.count), types, pointers, nil, nil, 0)
        }
        guard let result else { throw PostgresError(message: Self.message(PQerrorMessage(connection))) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: return []
        case PGRES_TUPLES_OK: return Self.rows(of: result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            throw PostgresError(message: Self.message(PQresultErrorMessage(result)), sqlState: state)
        }
    }

    private static func rows(of result: OpaquePointer) -> [SQLRow] {
        let columns = (0..<PQnfields(result)).map { column in
            (name: String(cString: PQfname(result, column)), type: PQftype(result, column))
        }
        return (0..<PQntuples(result)).map { row in
            var values: SQLRow = [:]
            for (column, field) in columns.enumerated() {
                let column = Int32(column)
                guard PQgetisnull(result, row, column) == 0 else {
                    values[field.name] = .null
                    continue
                }
                let text = String(cString: PQgetvalue(result, row, column))
                values[field.name] = value(of: text, type: field.type)
            }
            return values
        }
    }

    /// A column's text as the store reads it: integers and reals as numbers, the rest as text.
    private static func value(of text: String, type: UInt32) -> SQLValue {
        switch type {
        case 20, 21, 23:  // int8, int2, int4
            Int(text).map(SQLValue.integer) ?? .text(text)
        case 700, 701, 1700:  // float4, float8, numeric
            Double(text).map(SQLValue.real) ?? .text(text)
        default:
            .text(text)
        }
    }

    /// A Double as PostgreSQL reads it back exactly (Swift's shortest round-trip form; its
    /// infinities and NaN spelled PostgreSQL's way).
    private static func text(of number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        return "\(number)"
    }

    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "no message from libpq" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// An error PostgreSQL or libpq reported, in its own words, with its SQLSTATE code when it has one.
struct PostgresError: Error, CustomStringConvertible {
    let message: String
    var sqlState: String? = nil

    var description: String { sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message }
}

/// Calls `body` with C strings for `texts` (nil stays a null pointer), valid for the call.
private func withCStrings<Result>(_ texts: [String?],
                                  _ body: ([UnsafePointer<CChar>?]) -> Result) -> Result {
    let copies = texts.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
