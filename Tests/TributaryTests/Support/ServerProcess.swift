import AMQPClient
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `trib server start` process on a port of its own, with a SQLite file and an events
/// queue of its own (deleted by `dispose`), and JSON requests to its API.
final class ServerProcess: @unchecked Sendable {
    let process: WorkerProcess
    let database: String
    let eventsQueue: String
    /// `http://127.0.0.1:PORT/api`, as the server logged it.
    let apiURL: String

    /// Starts a server; `database` keeps a file across restarts, `broker: nil` starts it without one.
    init(label: String, database: String? = nil, eventsQueue: String? = nil, broker: String? = TestBroker.url,
         extraArguments: [String] = []) async throws {
        self.database = database ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("trib-\(label)-\(UUID().uuidString).db").path
        self.eventsQueue = eventsQueue ?? "trib.events.\(TestBroker.uniqueQueue(label))"
        var arguments = ["server", "start", "--port", "0", "--database", self.database, "--events-queue", self.eventsQueue]
        if let broker { arguments += ["--broker", broker] }
        let process = try await WorkerProcess(id: "server-\(label)", arguments: arguments + extraArguments,
                                              ready: broker == nil ? "server ready" : "recording events", launcher: [],
                                              environment: [:])
        self.process = process
        // With a broker, it says it records events and that its API listens, in either order.
        apiURL = try await disposingOnFailure({ await process.dispose() }) {
            try await process.waitForLog(containing: "server ready", within: .seconds(20))
            guard let line = process.log.split(separator: "\n").first(where: { $0.contains("server ready") }),
                  let start = line.range(of: "api=")?.upperBound else {
                throw WorkerProcessError("the server logged no API address:\n\(process.log)")
            }
            return String(line[start...].prefix { $0 != " " })
        }
    }

    /// The status and body of a request to `path` (under /api, or with `underAPI: false` the server's root).
    func request(_ path: String, method: String = "GET", headers: [String: String] = [:], body: Data? = nil,
                 underAPI: Bool = true) async throws -> (status: Int, body: Data) {
        let base = underAPI ? apiURL : String(apiURL.dropLast("/api".count))
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (body, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, body)
    }

    /// GETs `path` and decodes its JSON; fails on a status that is not 200.
    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let (status, body) = try await request(path)
        guard status == 200 else {
            throw WorkerProcessError("GET \(path) answered \(status): \(String(decoding: body, as: UTF8.self))")
        }
        return try JSONDecoder().decode(T.self, from: body)
    }

    /// Starts reading a Server-Sent Events stream of the API (curl, into a file) until `stop`.
    func listen(_ path: String) throws -> LiveStream {
        try LiveStream(url: apiURL + path)
    }

    /// The error message of a JSON error answer.
    static func message(in body: Data) -> String? {
        struct Answer: Decodable {
            struct Message: Decodable { var message: String }
            var error: Message
        }
        return (try? JSONDecoder().decode(Answer.self, from: body))?.error.message
    }

    /// Stops the server and deletes its file and queues.
    func dispose() async {
        await process.dispose()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        if let connection = try? await AMQPConnection.connect(url: TestBroker.url) {
            try? await connection.delete(queue: eventsQueue)
            try? await connection.delete(queue: eventsQueue + ".logs")
            await connection.close()
        }
    }
}

/// A Server-Sent Events stream being read by curl into a file.
final class LiveStream: @unchecked Sendable {
    private let process = Process()
    private let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-sse-\(UUID().uuidString)").path

    init(url: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "--max-time", "120", "-o", path, url]
        try process.run()
    }

    /// What came so far.
    var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Stops reading and returns everything that came.
    func stop() async -> String {
        if process.isRunning { process.terminate() }
        _ = await process.waitForExit(within: .seconds(5))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return text
    }
}
