import Foundation
import TributaryServer

/// The PostgreSQL the tests use (deploy/test.sh starts it: deploy/postgres.sh), and databases of
/// their own in it.
enum TestPostgres {
    static var url: String {
        ProcessInfo.processInfo.environment["TRIB_TEST_POSTGRES"] ?? "postgres://tributary:tributary@127.0.0.1:5433/tributary"
    }

    /// A new empty database's URL; `drop` removes it.
    static func createDatabase() async throws -> String {
        let name = "trib_test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await psql("CREATE DATABASE \(name)")
        var parts = URLComponents(string: url)!
        parts.path = "/\(name)"
        return parts.string!
    }

    static func drop(_ databaseURL: String) async {
        guard let name = databaseURL.split(separator: "/").last else { return }
        _ = try? await psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// When the PostgreSQL server last started: it changes with every restart.
    static func startTime() async throws -> String {
        try await psql("SELECT pg_postmaster_start_time()").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    private static func psql(_ sql: String) async throws -> String {
        let result = try await Command.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", url, "-qtAc", sql])
        guard result.status == 0 else {
            throw WorkerProcessError("psql '\(sql)' failed (is PostgreSQL up? deploy/postgres.sh start): \(result.output)")
        }
        return result.output
    }
}
