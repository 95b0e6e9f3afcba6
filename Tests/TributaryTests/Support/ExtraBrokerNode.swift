import Foundation
import Glibc

/// A second RabbitMQ node of its own (not clustered with the suite's main node), in a directory of
/// its own, under its own name and ports, so the rest of the suite is not disturbed. It serves
/// plain AMQP, or AMQP over TLS only, with a CA and server certificate the test generates (openssl).
final class ExtraBrokerNode: Sendable {
    let nodeName: String
    let port: Int
    let tls: Bool
    let directory: URL
    /// The CA that signed the server's certificate (for `cacertfile=`).
    var caCertificatePath: String { directory.appendingPathComponent("ca.pem").path }

    private init(nodeName: String, port: Int, tls: Bool, directory: URL) {
        self.nodeName = nodeName
        self.port = port
        self.tls = tls
        self.directory = directory
    }

    /// `amqp[s]://guest:guest@HOST:PORT/` with `query` appended (e.g. `cacertfile=...`).
    func url(host: String = "localhost", query: String? = nil) -> String {
        "\(tls ? "amqps" : "amqp")://guest:guest@\(host):\(port)/" + (query.map { "?\($0)" } ?? "")
    }

    /// Generates the certificates (for TLS), writes the node's configuration and starts it;
    /// returns once it serves.
    static func start(port: Int, tls: Bool) async throws -> ExtraBrokerNode {
        let name = "trib-\(tls ? "tls" : "extra")-\(port)"
        let directory = URL(fileURLWithPath: "/tmp/\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let node = ExtraBrokerNode(nodeName: "\(name)@localhost", port: port, tls: tls, directory: directory)
        if tls { try await node.generateCertificates() }
        try node.writeConfiguration()
        // The broker runs as the rabbitmq user, which must read the key and write its data directory.
        try Command.require(await Command.run(URL(fileURLWithPath: "/bin/chown"), ["-R", "rabbitmq", directory.path]))
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        server.arguments = ["/usr/sbin/rabbitmq-server"]
        server.environment = ProcessInfo.processInfo.environment.merging(node.environment) { $1 }
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        let deadline = ContinuousClock.now + .seconds(90)
        while try await node.ctl(["await_startup", "--timeout", "5"]).status != 0 {
            guard ContinuousClock.now < deadline else {
                await node.stop()
                throw WorkerProcessError("the RabbitMQ node \(node.nodeName) did not start within 90 s")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        return node
    }

    /// Starts a node, runs `body` with it, and stops it whatever happens.
    static func with<T>(port: Int, tls: Bool, _ body: (ExtraBrokerNode) async throws -> T) async throws -> T {
        let node = try await start(port: port, tls: tls)
        do {
            let result = try await body(node)
            await node.stop()
            return result
        } catch {
            await node.stop()
            throw error
        }
    }

    /// Whether every client connection the node has is a TLS one, and how many there are.
    func connections() async throws -> (count: Int, allTLS: Bool) {
        let result = try await ctl(["list_connections", "--no-table-headers", "ssl"])
        let rows = result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return (rows.count, rows.allSatisfy { $0 == "true" })
    }

    /// Stops the node and removes its directory.
    func stop() async {
        _ = try? await ctl(["stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    private var environment: [String: String] {
        [
            "RABBITMQ_NODENAME": nodeName,
            "RABBITMQ_DIST_PORT": "\(port + 20_000)",
            "RABBITMQ_CONFIG_FILE": directory.appendingPathComponent("rabbitmq.conf").path,
            "RABBITMQ_MNESIA_BASE": directory.appendingPathComponent("mnesia").path,
            "RABBITMQ_LOG_BASE": directory.appendingPathComponent("log").path,
            "RABBITMQ_ENABLED_PLUGINS_FILE": directory.appendingPathComponent("enabled_plugins").path,
            "RABBITMQ_PID_FILE": directory.appendingPathComponent("pid").path,
        ]
    }

    private func ctl(_ arguments: [String]) async throws -> Command {
        try await Command.run(URL(fileURLWithPath: "/usr/sbin/rabbitmqctl"), ["-n", nodeName, "-q"] + arguments)
    }

    private func generateCertificates() async throws {
        let dir = directory.path
        let openssl = URL(fileURLWithPath: "/usr/bin/openssl")
        try "subjectAltName=DNS:localhost\n".write(toFile: "\(dir)/ext.cnf", atomically: true, encoding: .utf8)
        try Command.require(await Command.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                                  "-subj", "/CN=Tributary test CA",
                                                  "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem"]))
        try Command.require(await Command.run(openssl, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                                                  "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr"]))
        try Command.require(await Command.run(openssl, ["x509", "-req", "-in", "\(dir)/server.csr", "-days", "2",
                                                  "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
                                                  "-CAcreateserial", "-extfile", "\(dir)/ext.cnf",
                                                  "-out", "\(dir)/server.pem"]))
    }

    private func writeConfiguration() throws {
        let dir = directory.path
        let config = tls ? """
            listeners.tcp = none
            listeners.ssl.default = \(port)
            ssl_options.cacertfile = \(dir)/ca.pem
            ssl_options.certfile = \(dir)/server.pem
            ssl_options.keyfile = \(dir)/server.key
            ssl_options.verify = verify_none
            ssl_options.fail_if_no_peer_cert = false

            """ : """
            listeners.tcp.default = \(port)
            loopback_users = none

            """
        try config.write(toFile: "\(dir)/rabbitmq.conf", atomically: true, encoding: .utf8)
        try "[].\n".write(toFile: "\(dir)/enabled_plugins", atomically: true, encoding: .utf8)
    }
}
