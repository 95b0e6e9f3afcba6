import Foundation
import Testing
@testable import Tributary
@testable import TributaryServer

/// The store's way to PostgreSQL (libpq on threads of its own), against the real PostgreSQL the
/// suite starts (deploy/postgres.sh), each test in a database of its own.
@Suite("The PostgreSQL store's connections (libpq), against a real PostgreSQL")
struct PostgresConnectionTests {
    @Test("every kind of value the store binds comes back as it went in: text with quotes, question marks and non-ASCII, the extreme integers, exact reals, NULL")
    func valuesRoundTrip() async throws {
        let url = try await TestPostgres.createDatabase()
        defer { Task { await TestPostgres.drop(url) } }
        let pool = PostgresConnectionPool(url: url, size: 2, name: "test-postgres")
        let values: [SQLValue] = [.text("it's a \"test\" ? ; -- ünïcödé ✓"), .text(""), .integer(Int.max), .integer(Int.min),
                                  .real(0.1), .real(-1.5e300), .real(.leastNonzeroMagnitude), .null]
        let row = try await pool.withConnection { connection in
            try connection.execute("SELECT $1 AS a, $2 AS b, $3 AS c, $4 AS d, $5 AS e, $6 AS f, $7 AS g, $8::text AS h", values)
        }
        await pool.close()
        #expect(row.count == 1)
        #expect(["a", "b", "c", "d", "e", "f", "g", "h"].map { row.first?[$0] } == values)
    }

    @Test("a connection the database ends (pg_terminate_backend) fails at most the statement of that moment; the next one reconnects")
    func reconnectsAfterTheDatabaseEndsItsConnection() async throws {
        let url = try await TestPostgres.createDatabase()
        defer { Task { await TestPostgres.drop(url) } }
        let pool = PostgresConnectionPool(url: url, size: 1, name: "test-postgres")
        let before = try await pool.withConnection { try $0.execute("SELECT pg_backend_pid() AS pid") }
        let killer = PostgresConnectionPool(url: url, size: 1, name: "test-postgres-killer")
        let pid = try #require(before.first?["pid"]?.int)
        let ended = try await killer.withConnection { try $0.execute("SELECT pg_terminate_backend($1::int) AS ended", [.integer(pid)]) }
        await killer.close()
        #expect(ended.first?["ended"] == .text("t"))
        // The one thread's connection is gone: the first statement may fail with libpq's reason...
        do {
            _ = try await pool.withConnection { try $0.execute("SELECT 1 AS one") }
        } catch {
            #expect("\(error)".contains("terminat") || "\(error)".contains("closed"), "unexpected error: \(error)")
        }
        // ...and the next runs on a new connection.
        let after = try await pool.withConnection { try $0.execute("SELECT pg_backend_pid() AS pid") }
        await pool.close()
        #expect(after.first?["pid"]?.int != nil && after.first?["pid"]?.int != pid)
    }

    @Test("a transaction whose statement fails leaves nothing behind, and its connection takes the next write")
    func failedTransactionRollsBack() async throws {
        let url = try await TestPostgres.createDatabase()
        defer { Task { await TestPostgres.drop(url) } }
        let pool = PostgresConnectionPool(url: url, size: 1, name: "test-postgres")
        let executor = PostgresExecutor(pool: pool)
        try await executor.write([SQLStatement("CREATE TABLE t (id BIGINT PRIMARY KEY)")])
        await #expect(throws: PostgresError.self) {
            try await executor.write([SQLStatement("INSERT INTO t (id) VALUES (?)", [1]),
                                      SQLStatement("INSERT INTO t (id) VALUES (?)", [1])])
        }
        try await executor.write([SQLStatement("INSERT INTO t (id) VALUES (?)", [2])])
        let ids = try await executor.read(SQLStatement("SELECT id FROM t ORDER BY id")).compactMap { $0["id"]?.int }
        await pool.close()
        #expect(ids == [2])
    }

    @Test("a wrong password or a port nothing listens on is refused when the store opens, with libpq's reason and the password hidden")
    func badDatabaseURLs() async throws {
        var wrongPassword = try #require(URLComponents(string: TestPostgres.url))
        wrongPassword.password = "not-the-password"
        await expectRefusal(wrongPassword.string!, saying: "password authentication failed")
        var nothingListening = try #require(URLComponents(string: TestPostgres.url))
        nothingListening.port = 1
        await expectRefusal(nothingListening.string!, saying: "Connection refused")
        await expectRefusal("postgres://localhost", saying: "is not postgres://user:password@host:port/database")
    }

    private func expectRefusal(_ url: String, saying reason: String) async {
        do {
            let store = try await PostgresRunStore(url: url)
            await store.close()
            Issue.record("the store opened at \(url)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(reason), "\(message)")
            #expect(!message.contains("not-the-password"), "\(message)")
        }
    }
}

@Suite("SHA-256 from OpenSSL's libcrypto")
struct SHA256DigestTests {
    @Test("the digests of FIPS 180-2's test messages")
    func knownDigests() {
        #expect(SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex(Array("abc".utf8), prefix: 4) == "ba7816bf")
    }
}
